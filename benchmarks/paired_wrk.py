"""wrk runs paired in interleaved rounds, for bench_pages.py and bench_clicks.py.

On a shared machine other jobs come and go, so one long run of ours against
one long run of the baseline says little (docs/tuning.md, "Benchmark
rounds"). Instead each round runs every contender once, briefly, in the
order of the next row of a balanced Latin square (``round_orders``: over
its rows each contender runs first equally often and right after each other
one equally often), and the table gives the median of the per-round ratios
with their range.

The rate still depends on what else the machine runs, so each run also
counts the CPU time the serving processes (and their children) used per
request: ``cpu_ms``, which other load barely moves. Its ratio (bare's CPU
per request over ours) is what the rate ratio would be on an idle machine
where the site is CPU-bound.
"""

import os
import re
import subprocess
from statistics import median

WRK_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
WRK_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
WRK_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
WRK_REQUESTS = re.compile(r"(\d+) requests in")


def wrk(url, seconds, connections=32, threads=2, headers=(), lua=None, env=None, cpu_of=()):
    """{"rate": req/s, "requests": n, "errors": n (non-2xx/3xx and socket errors),
    "timeouts": n, "cpu_ms": CPU ms per request of the processes ``cpu_of`` (pids) and their children}."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    if lua:
        command += ["-s", str(lua)]
    cpu_before = cpu_seconds(cpu_of)
    out = subprocess.run(
        [*command, url], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=seconds + 60
    ).stdout
    cpu = cpu_seconds(cpu_of) - cpu_before
    socket_errors = WRK_SOCKET.search(out)
    connect, read, write, timeouts = (int(n) for n in socket_errors.groups()) if socket_errors else (0, 0, 0, 0)
    non_2xx = WRK_NON_2XX.search(out)
    requests = int(WRK_REQUESTS.search(out).group(1)) if WRK_REQUESTS.search(out) else 0
    return {
        "rate": float(WRK_RATE.search(out).group(1)),
        "requests": requests,
        "cpu_ms": cpu * 1000 / requests if requests and cpu_of else None,
        "errors": connect + read + write + (int(non_2xx.group(1)) if non_2xx else 0),
        "timeouts": timeouts,
    }


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    """User + system CPU seconds of these processes and all their descendants (Linux /proc)."""
    total, seen, todo = 0.0, set(), list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            for task in os.listdir(f"/proc/{pid}/task"):
                todo += [int(child) for child in open(f"/proc/{pid}/task/{task}/children").read().split()]  # noqa: SIM115
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended meanwhile
    return total


def round_orders(count):
    """The rows of a balanced Latin square (Williams design) of ``count``
    contenders: in every row each contender once; over all rows each is
    first, and right after each other contender, equally often (twice as
    many rows for an odd count, the mirrored ones, to balance that)."""
    first, low, high = [0], 1, count - 1
    while low <= high:
        first.append(low)
        low += 1
        if low <= high:
            first.append(high)
            high -= 1
    rows = [[(index + shift) % count for index in first] for shift in range(count)]
    if count % 2:
        rows += [row[::-1] for row in rows]
    return rows


def interleaved_rounds(runs, rounds, after_each=None):
    """{name: [result of each round]} of ``runs`` ({name: callable returning a
    wrk result}), each called once per round, round r in the order of row r
    of ``round_orders`` (cycled). ``after_each(name, result)`` runs after
    every call (a consumer catching up, say) outside the measured time."""
    names = list(runs)
    orders = round_orders(len(names))
    results = {name: [] for name in names}
    for index in range(rounds):
        for name in (names[position] for position in orders[index % len(orders)]):
            result = runs[name]()
            results[name].append(result)
            if after_each is not None:
                after_each(name, result)
    return results


def ratios(ours, baseline):
    """{"median", "min", "max"} of ours / baseline req/s, round by round, and
    "cpu": the median of baseline / ours CPU per request (None without CPU counts)."""
    pairs = list(zip(ours, baseline, strict=True))
    values = [mine["rate"] / base["rate"] for mine, base in pairs if base["rate"]]
    cpu = [base["cpu_ms"] / mine["cpu_ms"] for mine, base in pairs if mine.get("cpu_ms") and base.get("cpu_ms")]
    return {"median": median(values), "min": min(values), "max": max(values), "cpu": median(cpu) if cpu else None}


def summary(results):
    """Median req/s, and errors/timeouts summed, of one contender's rounds."""
    cpu = [result["cpu_ms"] for result in results if result.get("cpu_ms")]
    return {
        "rate": median(result["rate"] for result in results),
        "cpu_ms": median(cpu) if cpu else None,
        "errors": sum(result["errors"] for result in results),
        "timeouts": sum(result["timeouts"] for result in results),
    }

"""wrk runs paired in interleaved rounds, for bench_pages.py and bench_clicks.py.

On the shared 2-core machine the bare view's rate moved by 3x between two
runs a minute apart (other helpers' jobs come and go), so one long run of
ours against one long run of the baseline says little. Instead each round
runs every contender once, briefly, in an order that rotates from round to
round (so none always runs first, or right after the same one), and the
table gives the median of the per-round ratios with their range.
"""

import os
import re
import subprocess
from statistics import median

WRK_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
WRK_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
WRK_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
WRK_REQUESTS = re.compile(r"(\d+) requests in")


def wrk(url, seconds, connections=32, threads=2, headers=(), lua=None, env=None):
    """{"rate": req/s, "requests": n, "errors": n (non-2xx/3xx and socket errors), "timeouts": n} of one run."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    if lua:
        command += ["-s", str(lua)]
    out = subprocess.run(
        [*command, url], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=seconds + 60
    ).stdout
    socket_errors = WRK_SOCKET.search(out)
    connect, read, write, timeouts = (int(n) for n in socket_errors.groups()) if socket_errors else (0, 0, 0, 0)
    non_2xx = WRK_NON_2XX.search(out)
    requests = WRK_REQUESTS.search(out)
    return {
        "rate": float(WRK_RATE.search(out).group(1)),
        "requests": int(requests.group(1)) if requests else 0,
        "errors": connect + read + write + (int(non_2xx.group(1)) if non_2xx else 0),
        "timeouts": timeouts,
    }


def interleaved_rounds(runs, rounds, after_each=None):
    """{name: [result of each round]} of ``runs`` ({name: callable returning a
    wrk result}), each called once per round; round r starts at the r-th
    contender. ``after_each(name, result)`` runs after every call (a consumer
    catching up, say) outside the measured time."""
    names = list(runs)
    results = {name: [] for name in names}
    for index in range(rounds):
        for name in names[index % len(names) :] + names[: index % len(names)]:
            result = runs[name]()
            results[name].append(result)
            if after_each is not None:
                after_each(name, result)
    return results


def ratios(ours, baseline):
    """{"median", "min", "max"} of ours / baseline, round by round."""
    values = [mine["rate"] / base["rate"] for mine, base in zip(ours, baseline, strict=True) if base["rate"]]
    return {"median": median(values), "min": min(values), "max": max(values)}


def summary(results):
    """Median req/s, and errors/timeouts summed, of one contender's rounds."""
    return {
        "rate": median(result["rate"] for result in results),
        "errors": sum(result["errors"] for result in results),
        "timeouts": sum(result["timeouts"] for result in results),
    }

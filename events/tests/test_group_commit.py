"""GroupCommit: each caller returns once its own events are written, in some
group, exactly once; a failed write reaches every caller of its group."""

import threading
import time

import pytest

from events.group_commit import GroupCommit


def test_concurrent_callers_each_return_after_their_own_write():
    written, lock = [], threading.Lock()

    def write(events):
        time.sleep(0.001)  # long enough for others to queue behind the leader
        with lock:
            written.extend(events)

    commit = GroupCommit(write)
    returned = []

    def call(n):
        for i in range(50):
            commit([(n, i)])
            with lock:
                assert (n, i) in written  # returned only once written
                returned.append((n, i))

    # Daemons: a lost wake-up fails the test instead of hanging the run at exit.
    threads = [threading.Thread(target=call, args=(n,), daemon=True) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(written) == sorted(returned) == sorted((n, i) for n in range(8) for i in range(50))


def test_a_failed_write_is_raised_to_every_caller_of_its_group():
    release, calls = threading.Event(), []

    def write(events):
        calls.append(list(events))
        if len(calls) == 1:
            release.wait(5)  # the second caller queues meanwhile
            return
        raise RuntimeError("disk full")

    commit = GroupCommit(write)
    first = threading.Thread(target=commit, args=(["a"],), daemon=True)
    first.start()
    while not calls:
        time.sleep(0.001)
    errors = []

    def second(event):
        try:
            commit([event])
        except RuntimeError as error:
            errors.append(str(error))

    others = [threading.Thread(target=second, args=(name,), daemon=True) for name in ("b", "c")]
    for thread in others:
        thread.start()
    while True:  # both queued behind the leader, however slow the machine
        with commit._lock:
            if len(commit._queue) == 2:
                break
        time.sleep(0.001)
    release.set()
    for thread in [first, *others]:
        thread.join(timeout=10)
    assert errors == ["disk full", "disk full"]
    assert sorted(calls[1]) == ["b", "c"]
    with pytest.raises(RuntimeError):
        commit(["d"])  # a lone caller leads and gets its own error

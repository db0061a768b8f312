"""Group commit: the events of many concurrent requests of a process written
in one store transaction.

Each request thread queues its events and waits; one of them (the leader)
writes everything queued in one transaction, wakes the others with the
outcome and hands leadership to the next waiting thread. A request still
returns only once its own events are committed. On SQLite the leaders of
all processes also take turns through a lock file, which wakes the next
writer the moment the previous one commits instead of SQLite's busy handler
polling in sleeps of up to 100 ms (bench_clicks.py: most of the inline
endpoint's time under load).
"""

import fcntl
import threading
from contextlib import contextmanager
from pathlib import Path

from django.db import connections, router


class _Slot:
    __slots__ = ("events", "done", "lead", "error")

    def __init__(self, events):
        self.events, self.done, self.lead, self.error = events, threading.Event(), False, None


class GroupCommit:
    def __init__(self, write):
        self._write = write
        self._lock = threading.Lock()
        self._queue = []
        self._leading = False

    def __call__(self, events):
        """Write ``events`` with whatever else is queued; raises what the write raised."""
        slot = _Slot(list(events))
        with self._lock:
            self._queue.append(slot)
            lead = self._leading is False
            self._leading = True
        if not lead:
            slot.done.wait()
            if not slot.lead:
                if slot.error is not None:
                    raise slot.error
                return
        with self._lock:
            batch, self._queue = self._queue, []
        error = None
        try:
            self._write([event for queued in batch for event in queued.events])
        except Exception as failure:  # noqa: BLE001 - every waiting request gets it
            error = failure
        with self._lock:
            successor = self._queue[0] if self._queue else None
            self._leading = successor is not None
        for queued in batch:
            queued.error = error
            queued.done.set()
        if successor is not None:
            successor.lead = True
            successor.done.set()
        if error is not None:
            raise error


@contextmanager
def sqlite_writer_turn(model):
    """Hold the lock file beside ``model``'s SQLite database (nothing elsewhere)."""
    connection = connections[router.db_for_write(model)]
    name = str(connection.settings_dict.get("NAME") or "")
    if connection.vendor != "sqlite" or not name or name == ":memory:" or name.startswith("file:"):
        yield
        return
    with open(Path(name).with_suffix(".writer-lock"), "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)

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
import functools
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from django.db import connections, router


class _Slot:
    __slots__ = ("events", "done", "lead", "error")

    def __init__(self, events):
        self.events, self.done, self.lead, self.error = events, _Signal(), False, None


class _Signal:
    """A one-time wake-up: a lock taken at birth, released by ``set``, so ``wait``
    returns once it was set: all a slot needs of a ``threading.Event`` (a
    condition, its lock and a list of waiters), made per click."""

    __slots__ = ("_lock",)

    def __init__(self):
        self._lock = threading.Lock()
        self._lock.acquire()

    def set(self):
        self._lock.release()

    def wait(self):
        self._lock.acquire()


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
        except BaseException as failure:  # noqa: BLE001 - every waiting request gets it, and none waits on
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
    """Hold the lock file beside ``model``'s SQLite database (nothing elsewhere).

    The file stays open per process, since opening it per write was a large
    part of a lone click's cost (docs/tuning.md, "Click writes"). Threads of
    a process take turns on a thread lock first, since flock does not
    exclude two holders of one open file."""
    path = _sqlite_path(connections[router.db_for_write(model)])
    if path is None:
        yield
        return
    thread_lock, lock_file = _lock_file(path)
    with thread_lock:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _sqlite_path(connection):
    return _file_of(connection.vendor, connection.settings_dict.get("NAME"))


@functools.lru_cache(maxsize=64)
def _file_of(vendor, name):
    # Cached: every click asks three times, and a Path costs more than the lookup.
    name = str(name or "")
    if vendor != "sqlite" or not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


_lock_files = {}
_lock_files_guard = threading.Lock()


def _lock_file(database):
    """(thread lock, open lock file) beside SQLite file ``database``, for this process."""
    # Keyed by process too: a file opened before a fork would be one lock shared by parent and child.
    key = (os.getpid(), database)
    found = _lock_files.get(key)
    if found is not None:
        return found
    with _lock_files_guard:
        if key not in _lock_files:
            lock_file = open(database.with_suffix(".writer-lock"), "a")  # noqa: SIM115 - kept open for the process
            _lock_files[key] = (threading.Lock(), lock_file)
        return _lock_files[key]


# A commit that fills the WAL past SQLite's automatic checkpoint (1,000
# pages) copies it into the database and syncs both, while the writer's turn
# is still held: every other writer waited for those fsyncs (docs/tuning.md,
# "Click writes"). The click writes' connections leave checkpoints to
# ``checkpoint_soon``, which runs one outside the turn at most this often.
CHECKPOINT_SECONDS = 1.0
_checkpoint_lock = threading.Lock()
_checkpointed_at = 0.0


def without_autocheckpoint(model):
    """Turn SQLite's automatic checkpoint off on this thread's connection for ``model`` (once per connection)."""
    connection = connections[router.db_for_write(model)]
    if _sqlite_path(connection) is None:
        return
    connection.ensure_connection()
    raw = connection.connection
    if getattr(connection, "autocheckpoint_off_on", None) is not raw:
        raw.execute("PRAGMA wal_autocheckpoint = 0")
        connection.autocheckpoint_off_on = raw


def checkpoint_soon(model):
    """A passive checkpoint of ``model``'s SQLite database when CHECKPOINT_SECONDS
    have passed since this process's last one (and no other thread runs one).
    Passive: it copies what no reader still needs and never blocks a writer."""
    global _checkpointed_at
    if time.monotonic() - _checkpointed_at < CHECKPOINT_SECONDS:
        return
    connection = connections[router.db_for_write(model)]
    if _sqlite_path(connection) is None:
        return
    if not _checkpoint_lock.acquire(blocking=False):
        return
    try:
        _checkpointed_at = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        _checkpoint_lock.release()

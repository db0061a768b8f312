"""Writes a page makes for the record only (impressions, heartbeats), taken
off the request path: queued in memory and written in batches by one
background thread per process, so a database that is locked or slow slows
those writes, never the page.

The queue is bounded; when it is full (the database has been busy for a
while) new writes are dropped and counted, the count logged once per
minute, and readable as ``dropped()`` for the dashboard.
"""

import logging
import queue
import threading
import time

from django.db import DatabaseError, close_old_connections, connection, transaction

logger = logging.getLogger(__name__)

QUEUE_SIZE = 5000
BATCH = 200
RETRY_SECONDS = 1.0
# After the first write of a burst the thread waits this long for more: one
# wake-up and one commit per burst, not per page, since waking the thread for
# each page costs the pages CPU (docs/tuning.md, "Deferred writes"). The rows
# are record-only, so nothing reads them within that delay.
GATHER_SECONDS = 0.2

_queue = queue.Queue(maxsize=QUEUE_SIZE)
_thread = None
_thread_lock = threading.Lock()
_dropped = 0
_last_report = 0.0


def defer(write):
    """Run ``write()`` (a callable doing one small insert) soon, in the background.

    Inside a transaction (ATOMIC_REQUESTS, a test's) it runs at once in a
    savepoint instead: a background thread could not see the caller's
    uncommitted rows. A failure there is logged and counted, never raised."""
    global _dropped
    if connection.in_atomic_block:
        if not _write_alone(write):
            _dropped += 1
        return
    _start()
    try:
        _queue.put_nowait(write)
    except queue.Full:
        _dropped += 1
        _report_drops()


def defer_create(model, fields):
    """Insert one ``model`` row of ``fields`` soon (``defer``); the rows of a
    burst go in one bulk insert instead of an ORM create each."""
    defer(_Create(model, fields))


class _Create:
    __slots__ = ("model", "fields")

    def __init__(self, model, fields):
        self.model, self.fields = model, fields

    def __call__(self):  # alone: in a caller's transaction, or retried one by one
        self.model.objects.create(**self.fields)


def dropped():
    return _dropped


def flush(timeout=5.0):
    """Wait until the queue is written (tests, shutdown)."""
    deadline = time.monotonic() + timeout
    while _queue.unfinished_tasks and time.monotonic() < deadline:
        time.sleep(0.01)


def _start():
    global _thread
    if _thread is not None:
        return
    with _thread_lock:
        if _thread is None:
            _thread = threading.Thread(target=_run, name="deferred-writes", daemon=True)
            _thread.start()


def _run():
    while True:
        batch = [_queue.get()]
        time.sleep(GATHER_SECONDS)
        while len(batch) < BATCH:
            try:
                batch.append(_queue.get_nowait())
            except queue.Empty:
                break
        try:
            _write(batch)
        except Exception:  # noqa: BLE001 - the thread must outlive any failure, or every later write is lost
            logger.exception("Deferred writes failed")
        finally:
            for _ in batch:
                _queue.task_done()


def _write(batch):
    """The batch in one transaction, retried while the database is busy; when
    it still fails, each write alone, so one bad write drops only itself."""
    global _dropped
    for attempt in range(3):
        try:
            close_old_connections()
            with transaction.atomic():
                _apply(batch)
            return
        except DatabaseError as error:
            logger.info("Deferred writes waiting for the database (%s)", error)
        except Exception:  # noqa: BLE001 - a bad write, not a busy database: waiting will not help
            logger.warning("A deferred batch failed; writing each alone", exc_info=True)
            break
        time.sleep(RETRY_SECONDS * (attempt + 1))
    try:
        with transaction.atomic():
            failed = sum(not _write_alone(write) for write in batch)
    except Exception:  # noqa: BLE001 - the database is gone: the whole batch is lost
        logger.warning("A deferred batch was dropped", exc_info=True)
        failed = len(batch)
    _dropped += failed
    if failed:
        _report_drops()


def _apply(batch):
    """Every write of the batch in order; a run of deferred creates between
    other writes as one bulk insert per model, inserted before the next
    other write, so a write that reads or changes an earlier one's row finds it."""
    creates = {}
    for write in batch:
        if isinstance(write, _Create):
            creates.setdefault(write.model, []).append(write.model(**write.fields))
            continue
        _bulk_create(creates)
        write()
    _bulk_create(creates)


def _bulk_create(creates):
    for model, rows in creates.items():
        model.objects.bulk_create(rows)
    creates.clear()


def _write_alone(write):
    """Run ``write()`` in a savepoint; False (logged) when it failed."""
    try:
        with transaction.atomic():
            write()
        return True
    except Exception:  # noqa: BLE001 - a failed record-only write must never reach the page
        logger.warning("A deferred write failed and was dropped", exc_info=True)
        return False


def _report_drops():
    global _last_report
    now = time.monotonic()
    if now - _last_report >= 60:
        _last_report = now
        logger.warning("%d deferred write(s) dropped so far: the database was busy", _dropped)

"""The hand-off journal: events a web process handed to its Kafka producer
without waiting for the broker (KAFKA_WAIT_FOR_ACK off), kept in a local
file until the broker acknowledges them or the outbox holds them.

Each process appends to segment files of its own in EVENTS_JOURNAL_DIR and
holds an flock on each while it lives. A segment is deleted once every
event in it is settled (acknowledged, or written to the outbox after the
broker refused it). A segment nobody holds belongs to a process that died
with events possibly unsettled: ``recover_orphans`` (run when a web
process's producer starts and by the consumer beside its outbox resend)
puts all of them in the outbox, due at once. Some may have reached the
topic already; the store keeps one row per visitor and event id, so a
resent event is stored once.

An event the outbox can never store (outbox.PERMANENT_ERRORS), met by the
live process's outbox writer or by a recovery, is set aside: written to its
segment's UNSTORABLE_SUFFIX file, which no recovery reads, and counted as
settled, so its segment goes once the rest is settled and ``close`` does not
wait for it. Each line of such a file is one set-aside event; renamed to
SUFFIX once the cause is fixed, the file is recovered like any segment.
``events/set_aside.py`` counts them for the dashboard.

The append is one write(2) without fsync: like SQLite's commits with
synchronous=NORMAL, it survives a killed process but not a power loss.
"""

import fcntl
import logging
import os
import threading
import time
from pathlib import Path

from events.records import InvalidEvent, from_message, to_messages

logger = logging.getLogger(__name__)

SEGMENT_EVENTS = 5000
SEGMENT_SECONDS = 30.0
SUFFIX = ".events"
HIDDEN_SUFFIX = ".new"
UNSTORABLE_SUFFIX = ".unstorable"
ABANDONED_SECONDS = 60.0


class Segment:
    __slots__ = ("path", "fd", "written", "pending", "opened_at", "sealed", "removed")

    def __init__(self, directory):
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{os.getpid()}-{time.time_ns()}"
        # Locked under a name recovery skips, then renamed: a recovery scan
        # never sees this segment unlocked.
        hidden = directory / f".{name}{HIDDEN_SUFFIX}"
        # Owner-only: the folder's web processes and consumer run as one user.
        self.fd = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        self.path = directory / f"{name}{SUFFIX}"
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            os.rename(hidden, self.path)
        except BaseException:
            # Neither a descriptor nor a nameless file left behind for every failed attempt.
            os.close(self.fd)
            hidden.unlink(missing_ok=True)
            raise
        self.written = self.pending = 0
        self.opened_at = time.monotonic()
        self.sealed = self.removed = False

    def remove(self):
        """Unlink, then unlock: a recovery never finds it unlocked. Once only:
        a second close could hit a descriptor the process has reused since."""
        if self.removed:
            return
        self.removed = True
        try:
            # Only this segment's own file: an operator may have renamed a set-aside
            # file onto its name (to have it recovered), and that one must stay.
            if os.stat(self.path).st_ino == os.fstat(self.fd).st_ino:
                os.unlink(self.path)
        except FileNotFoundError:
            pass
        except OSError as error:
            logger.warning("Could not delete settled segment %s (%s); a recovery resends it", self.path, error)
        finally:
            os.close(self.fd)

    def release(self):
        """Close this process's descriptor without deleting (a forked child's
        copy: the segment and its lock stay the parent's)."""
        if not self.removed:
            self.removed = True
            os.close(self.fd)


class Journal:
    """One per process: ``record`` before the hand-off, ``settle`` for each event once it is safe."""

    def __init__(self, directory, on_set_aside=None):
        self.directory = Path(directory)
        self._on_set_aside = on_set_aside  # called with the folder after each set-aside
        self._lock = threading.Condition()
        self._active = None
        self._open = set()  # every segment this process still holds, sealed ones included
        self._unsettled = 0

    def record(self, events, messages=None):
        """Append ``events`` (``messages``: their to_message pairs, when the
        caller has them); returns their segment, to be passed to ``settle``. Raises OSError."""
        lines = _lines(events, messages)
        with self._lock:
            segment = self._current()
            try:
                written = os.write(segment.fd, lines)
            except OSError:
                self._retire(segment)
                raise
            if written != len(lines):
                # The next append would glue its first line to this torn one: start a new segment.
                self._retire(segment)
                raise OSError(f"short write to {segment.path} (disk full?)")
            segment.written += len(events)
            segment.pending += len(events)
            self._unsettled += len(events)
        return segment

    def settle(self, segment, count=1):
        """``count`` events of ``segment`` are on the topic or in the outbox."""
        with self._lock:
            segment.pending -= count
            self._unsettled -= count
            if segment.pending <= 0 and segment is self._active and self._expired(segment):
                self._retire(segment)  # an idle process leaves nothing for a recovery to resend
            elif segment.sealed and segment.pending <= 0:
                self._remove(segment)
            if not self._unsettled:
                self._lock.notify_all()

    def set_aside(self, segment, events):
        """``events`` of ``segment`` can never be stored: appended to the
        segment's UNSTORABLE_SUFFIX file, then settled. Raises OSError (they
        stay unsettled then, and the segment keeps them for a recovery)."""
        kept = unstorable_path(segment.path)
        fd = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            _write_all(fd, _lines(events), kept)
        finally:
            os.close(fd)
        try:
            if self._on_set_aside is not None:  # counted before settled: a flush that returns finds the count
                self._on_set_aside(self.directory)
        finally:
            self.settle(segment, len(events))
        return kept

    def wait_settled(self, timeout):
        """Until every recorded event is settled, or ``timeout`` seconds; whether they are."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._unsettled, timeout=timeout)

    def close(self):
        """Delete the active segment when all of it is settled (else it waits for a recovery once this process ends)."""
        with self._lock:
            if self._active is not None:
                self._retire(self._active)

    def forget_after_fork(self):
        """In a forked child: close the inherited descriptors without taking
        the lock (another thread of the parent may have held it at the fork).
        The parent's segments stay its own; the child starts a journal of its own."""
        for segment in list(self._open):
            segment.release()
        self._open.clear()
        self._active = None

    def _current(self):
        segment = self._active
        if segment is None or self._expired(segment):
            if segment is not None:
                self._retire(segment)
            segment = Segment(self.directory)
            self._open.add(segment)
            self._active = segment
        return segment

    @staticmethod
    def _expired(segment):
        return segment.written >= SEGMENT_EVENTS or time.monotonic() - segment.opened_at > SEGMENT_SECONDS

    def _retire(self, segment):
        """No more appends to ``segment``; deleted now if settled, else at its last settle."""
        segment.sealed = True
        if segment is self._active:
            self._active = None
        if segment.pending <= 0:
            self._remove(segment)

    def _remove(self, segment):
        self._open.discard(segment)
        segment.remove()


def recover_orphans(directory, save):
    """Hand the events of every segment no live process holds to ``save`` (a
    callable taking a list of events: the outbox; it may return the (event,
    error) pairs it can never store), then delete the segment, or set it
    aside when ``save`` returned any. Returns how many events went. A torn
    last line (a write cut short by the crash) was never acknowledged to
    anyone, so it is skipped."""
    directory = Path(directory)
    if not directory.is_dir():
        return 0
    _remove_abandoned_creations(directory)
    recovered = 0
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue  # another recovery took it
        except OSError as error:  # one unreadable segment must not hold up the others
            logger.warning("Skipped journal segment %s (%s)", path, error)
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live process's segment
            try:
                if os.stat(path).st_ino != os.fstat(fd).st_ino:
                    continue
            except FileNotFoundError:
                continue  # recovered and deleted while this one waited
            events = _events_in(os.read(fd, os.fstat(fd).st_size), path)
            unstorable = (save(events) or []) if events else []
            if unstorable:
                _set_aside(path, unstorable)
            else:
                os.unlink(path)  # a failure resends next time: the outbox keeps one row per event
            recovered += len(events) - len(unstorable)
        except OSError as error:
            logger.warning("Skipped journal segment %s (%s)", path, error)
        finally:
            os.close(fd)
    if recovered:
        logger.warning(
            "Recovered %d event(s) a stopped web process had handed to Kafka; they wait in the outbox", recovered
        )
    return recovered


def unstorable_path(segment_path):
    """Where the events of a segment that can never be stored are kept."""
    return segment_path.with_suffix(UNSTORABLE_SUFFIX)


def unstorable_files(directory):
    """The UNSTORABLE_SUFFIX files in ``directory``, with the number of events each keeps."""
    found = []
    for path in sorted(Path(directory).glob(f"*{UNSTORABLE_SUFFIX}")):
        try:
            found.append((path, sum(1 for line in path.read_bytes().split(b"\n") if line)))
        except FileNotFoundError:
            continue  # renamed back meanwhile
    return found


def _lines(events, messages=None):
    return b"".join(value + b"\n" for _, value in to_messages(events, messages))


def _write_all(fd, data, path):
    if os.write(fd, data) != len(data):
        raise OSError(f"short write to {path} (disk full?)")


def _set_aside(path, unstorable):
    """Keep the events that can never be stored under a name no recovery
    reads (the others are in the outbox now), so nothing is lost and nothing
    is logged twice. The file is written anew: it replaces what the segment's
    live process may have set aside before it died, which the segment holds too."""
    kept = unstorable_path(path)
    hidden = path.with_name(f".{kept.name}{HIDDEN_SUFFIX}")  # an abandoned one is cleared like any
    fd = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        _write_all(fd, _lines(event for event, _ in unstorable), hidden)
    finally:
        os.close(fd)
    os.rename(hidden, kept)
    os.unlink(path)
    for event, error in unstorable:
        logger.error(
            "Journal event %s of %s can never be stored in the outbox (%r); set aside in %s, the others recovered",
            event.event_id,
            event.visitor_key,
            error,
            kept,
        )


def _remove_abandoned_creations(directory):
    """A process killed between creating a segment and naming it left an
    empty hidden file (no event is written before the rename). Only old ones
    go: a young one may be between its creation and its lock."""
    for path in directory.glob(f".*{HIDDEN_SUFFIX}"):
        try:
            if time.time() - path.stat().st_mtime > ABANDONED_SECONDS:
                path.unlink()
        except FileNotFoundError:
            continue
        except OSError as error:
            logger.warning("Could not clear abandoned journal file %s (%s)", path, error)


def recover_into_outbox():
    """``recover_orphans`` of EVENTS_JOURNAL_DIR into the outbox, due at once,
    each event alone where the outbox refuses one for good."""
    from django.conf import settings

    from events import outbox, set_aside

    refused = []

    def save(found):
        unstorable = outbox.save_each_storable(found, lambda some: outbox.save(some, due_now=True))[1]
        refused.extend(unstorable)
        return unstorable

    recovered = recover_orphans(settings.EVENTS_JOURNAL_DIR, save)
    if recovered or refused:  # a set-aside file renamed back is recovered too: the count changes either way
        set_aside.count(settings.EVENTS_JOURNAL_DIR)
    return recovered


def _events_in(data, path):
    events = []
    for line in data.split(b"\n"):
        if not line:
            continue
        try:
            events.append(from_message(line))
        except InvalidEvent as error:
            logger.warning("Skipped a torn or unreadable line of %s (%s)", path, error)
    return events

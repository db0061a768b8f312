"""The hand-off journal's files on their own (no broker): what a killed
process leaves for a recovery, and nothing more."""

import os
import threading
import time

import pytest
from django.db import DataError, IntegrityError

from events import journal, outbox
from events.records import from_message, new_event


def click(visitor="session:abc", movie_id=1):
    return new_event(visitor, "click", movie_id)


def killed(log):
    """The process of ``log`` dies: its descriptors close, nothing is deleted."""
    log.forget_after_fork()


def recovered(directory):
    found = []
    journal.recover_orphans(directory, found.extend)
    return found


def test_events_a_killed_process_journaled_are_recovered_once(tmp_path):
    log = journal.Journal(tmp_path)
    events = [click(movie_id=n) for n in range(1, 4)]
    log.record(events[:2])
    log.record(events[2:])
    assert recovered(tmp_path) == []  # a live process's segment is left alone
    killed(log)
    assert [event.event_id for event in recovered(tmp_path)] == [event.event_id for event in events]
    assert list(tmp_path.iterdir()) == [] and recovered(tmp_path) == []


def test_a_failed_rotation_never_closes_a_descriptor_twice(tmp_path, monkeypatch):
    monkeypatch.setattr(journal, "SEGMENT_EVENTS", 1)
    log = journal.Journal(tmp_path)
    log.settle(log.record([click()]))
    real_segment = journal.Segment

    def disk_full(directory):
        raise OSError("No space left on device")

    monkeypatch.setattr(journal, "Segment", disk_full)
    with pytest.raises(OSError):
        log.record([click()])  # the full segment is retired and deleted, its descriptor closed
    unrelated = os.open(tmp_path / "unrelated", os.O_CREAT | os.O_WRONLY)  # may reuse that descriptor's number
    monkeypatch.setattr(journal, "Segment", real_segment)
    try:
        log.record([click()])
        os.fstat(unrelated)  # still open
    finally:
        os.close(unrelated)


def test_a_torn_append_starts_a_new_segment_so_later_events_stay_readable(tmp_path, monkeypatch):
    log = journal.Journal(tmp_path)
    torn, later = click(movie_id=1), click(movie_id=2)
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, data[:10]))
    try:
        with pytest.raises(OSError, match="short write"):
            log.record([torn])  # the request puts this one in the outbox itself
    finally:
        monkeypatch.setattr(os, "write", real_write)
    log.record([later])
    killed(log)
    assert [event.event_id for event in recovered(tmp_path)] == [later.event_id]


def test_an_idle_process_with_everything_settled_leaves_no_segment(tmp_path, monkeypatch):
    monkeypatch.setattr(journal, "SEGMENT_SECONDS", 0.0)
    log = journal.Journal(tmp_path)
    segment = log.record([click()])
    time.sleep(0.01)
    log.settle(segment)
    assert list(tmp_path.iterdir()) == []  # a crash now resends nothing already acknowledged


def test_threads_recording_and_settling_at_once_settle_every_segment(tmp_path, monkeypatch):
    monkeypatch.setattr(journal, "SEGMENT_EVENTS", 7)  # many rotations while others settle
    log = journal.Journal(tmp_path)
    handed = []
    lock = threading.Lock()

    def request(n):
        for i in range(50):
            segment = log.record([click(movie_id=n * 100 + i)])
            with lock:
                handed.append(segment)

    def acknowledgements():
        settled = 0
        while settled < 200:
            with lock:
                batch, handed[:] = list(handed), []
            for segment in batch:
                log.settle(segment)
            settled += len(batch)

    threads = [threading.Thread(target=request, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=acknowledgements)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert log.wait_settled(timeout=1)
    log.close()
    assert list(tmp_path.iterdir()) == []


def test_recovery_clears_segments_abandoned_before_they_were_named(tmp_path):
    old, young = tmp_path / ".1-1.new", tmp_path / ".2-2.new"
    old.touch()
    young.touch()
    long_ago = time.time() - 2 * journal.ABANDONED_SECONDS
    os.utime(old, (long_ago, long_ago))
    recovered(tmp_path)
    assert [path.name for path in tmp_path.iterdir()] == [young.name]  # may be between creation and lock


def test_an_unreadable_segment_is_skipped_and_the_others_are_recovered(tmp_path):
    log = journal.Journal(tmp_path)
    event = click()
    log.record([event])
    killed(log)
    unreadable = tmp_path / f"0-0{journal.SUFFIX}"
    unreadable.symlink_to(unreadable.name)  # opening it fails (ELOOP), as another user's segment would
    abandoned = tmp_path / f".0-0{journal.HIDDEN_SUFFIX}"
    abandoned.symlink_to(abandoned.name)
    assert [found.event_id for found in recovered(tmp_path)] == [event.event_id]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([unreadable.name, abandoned.name])


def test_a_segment_that_cannot_be_locked_leaves_no_descriptor_or_file(tmp_path, monkeypatch):
    def no_locks(fd, operation):
        raise OSError("No locks available")

    monkeypatch.setattr(journal.fcntl, "flock", no_locks)
    before = set(os.listdir("/proc/self/fd"))
    with pytest.raises(OSError, match="No locks"):
        journal.Segment(tmp_path)
    assert set(os.listdir("/proc/self/fd")) == before
    assert list(tmp_path.iterdir()) == []


def test_a_segment_holding_an_event_that_can_never_be_stored_is_set_aside_once(tmp_path, caplog):
    log = journal.Journal(tmp_path)
    events = [click(movie_id=n) for n in range(1, 4)]
    log.record(events)
    killed(log)

    def refuses_one(found):  # an outbox that can never store the second event
        return [(events[1], ValueError("not storable"))]

    assert journal.recover_orphans(tmp_path, refuses_one) == 2
    assert recovered(tmp_path) == []  # not read (nor logged) again
    [kept] = tmp_path.iterdir()
    assert kept.suffix == journal.UNSTORABLE_SUFFIX  # only the event set aside: the others are in the outbox
    assert [from_message(line).event_id for line in kept.read_bytes().splitlines()] == [events[1].event_id]
    assert journal.unstorable_files(tmp_path) == [(kept, 1)]
    assert sum("can never be stored" in message for message in caplog.messages) == 1


def test_an_event_set_aside_by_a_live_process_counts_as_settled_and_is_kept(tmp_path):
    log = journal.Journal(tmp_path)
    events = [click(movie_id=n) for n in range(1, 4)]
    segment = log.record(events)
    log.settle(segment, 2)
    kept = log.set_aside(segment, events[2:])  # the outbox can never store the last one
    assert log.wait_settled(timeout=0)  # close() has nothing to wait for
    log.close()
    assert list(tmp_path.iterdir()) == [kept]  # the segment is gone, the set-aside event kept
    assert [from_message(line).event_id for line in kept.read_bytes().splitlines()] == [events[2].event_id]
    assert recovered(tmp_path) == []  # never resent by a recovery


def test_a_recovery_after_a_live_set_aside_keeps_each_event_once(tmp_path):
    """The process set an event aside and died before the rest of its segment settled."""
    log = journal.Journal(tmp_path)
    events = [click(movie_id=n) for n in range(1, 4)]
    segment = log.record(events)
    log.set_aside(segment, events[:1])
    killed(log)

    def refuses_the_first(found):
        return [(events[0], ValueError("not storable"))]

    assert journal.recover_orphans(tmp_path, refuses_the_first) == 2
    [(kept, count)] = journal.unstorable_files(tmp_path)
    assert count == 1 and from_message(kept.read_bytes().splitlines()[0]).event_id == events[0].event_id
    assert list(tmp_path.iterdir()) == [kept]


def test_a_set_aside_file_renamed_back_is_recovered(tmp_path):
    """What an operator does once the cause is fixed."""
    log = journal.Journal(tmp_path)
    event = click()
    kept = log.set_aside(log.record([event]), [event])
    log.close()
    kept.rename(kept.with_suffix(journal.SUFFIX))
    assert [found.event_id for found in recovered(tmp_path)] == [event.event_id]
    assert list(tmp_path.iterdir()) == [] and journal.unstorable_files(tmp_path) == []


def test_a_set_aside_file_renamed_onto_a_live_segments_name_is_not_deleted_with_it(tmp_path):
    """An operator renames a set-aside file back while the process still holds
    the segment of that name: the process settles and deletes its own segment,
    and the renamed file stays for the next recovery."""
    log = journal.Journal(tmp_path)
    refused, later = click(movie_id=1), click(movie_id=2)
    segment = log.record([refused])
    kept = log.set_aside(segment, [refused])
    kept.replace(segment.path)
    log.settle(log.record([later]))
    log.close()
    assert [found.event_id for found in recovered(tmp_path)] == [refused.event_id]


def test_a_segment_whose_every_event_is_refused_is_left_for_a_later_recovery(tmp_path, caplog):
    log = journal.Journal(tmp_path)
    events = [click(movie_id=n) for n in range(1, 4)]
    log.record(events)
    killed(log)
    tried = []

    def broken(some):  # a code bug: every event refused, alone too
        tried.append(len(some))
        raise ValueError("a code bug")

    with pytest.raises(outbox.EveryItemRefused, match="all 3 items"):
        journal.recover_orphans(tmp_path, lambda found: outbox.save_each_storable(found, broken)[1])
    assert tried == [3, 1, 1, 1]
    [kept] = tmp_path.iterdir()
    assert kept.suffix == journal.SUFFIX  # not set aside: as it was, for the next recovery
    assert not any("can never be stored" in message for message in caplog.messages)
    assert [event.event_id for event in recovered(tmp_path)] == [event.event_id for event in events]


@pytest.mark.parametrize(
    "verdict", [DataError("Data too long for column 'details'"), IntegrityError("NOT NULL")], ids=repr
)
def test_a_segment_whose_every_event_the_database_refuses_alone_is_set_aside(tmp_path, verdict):
    """One malformed client's burst, with no good event beside it: the
    database's verdict on each row, not a bug, so it does not hold up the recovery."""
    log = journal.Journal(tmp_path)
    events = [click(movie_id=n) for n in range(1, 4)]
    log.record(events)
    killed(log)
    tried = []

    def refuses_each(some):
        tried.append(len(some))
        raise verdict

    assert journal.recover_orphans(tmp_path, lambda found: outbox.save_each_storable(found, refuses_each)[1]) == 0
    assert tried == [3, 1, 1, 1]  # the batch, then each alone once
    [(kept, count)] = journal.unstorable_files(tmp_path)
    assert count == 3 and list(tmp_path.iterdir()) == [kept]

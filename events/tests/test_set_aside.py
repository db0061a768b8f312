"""Events the outbox can never store, set aside in the journal folder: what
an operator is told about them, and the count once the files are dealt with."""

import io

from django.core.management import call_command

from events import journal, set_aside
from events.models import SetAsideEvents
from events.records import new_event


def report():
    out = io.StringIO()
    call_command("set_aside_events", stdout=out)
    return out.getvalue().strip()


def test_the_command_says_how_many_are_set_aside_and_where(db, settings, tmp_path):
    settings.EVENTS_JOURNAL_DIR = tmp_path
    assert report() == f"No event is set aside as unstorable in {tmp_path}."
    log = journal.Journal(tmp_path, on_set_aside=set_aside.count)
    for movie_id in (1, 2):  # two segments, one set-aside event each
        event = new_event("session:abc", "click", movie_id)
        log.set_aside(log.record([event]), [event])
        log.close()
    assert SetAsideEvents.objects.get().events == 2  # counted as they were set aside
    sentence = report()
    assert sentence.startswith("2 events that the outbox can never store are set aside in 2 files (*.unstorable")
    assert f"in {tmp_path}:" in sentence and "a new name ending in .events" in sentence


def test_the_command_recounts_once_the_files_are_dealt_with(db, settings, tmp_path):
    settings.EVENTS_JOURNAL_DIR = tmp_path
    log = journal.Journal(tmp_path, on_set_aside=set_aside.count)
    event = new_event("session:abc", "click", 1)
    kept = log.set_aside(log.record([event]), [event])
    log.close()
    kept.rename(kept.with_suffix(journal.SUFFIX))  # the cause is fixed: the next recovery stores it
    assert report() == f"No event is set aside as unstorable in {tmp_path}."
    assert set_aside.where_set_aside() == []  # nor on the dashboard

"""Record-only writes taken off the request path (events/deferred.py): a
failing write is dropped and counted, never raised to the page, and never
takes the good writes of its batch or the writer thread down with it."""

import pytest
from django.db import transaction
from django.utils import timezone

from events import deferred
from events.models import ConsumerHeartbeat


def heartbeat(worker):
    return lambda: ConsumerHeartbeat.objects.create(worker=worker, group_id="g", topic="t", updated_at=timezone.now())


def broken():
    raise ValueError("a bug in one write")


@pytest.mark.django_db
def test_inside_a_transaction_a_failing_write_is_dropped_not_raised():
    before = deferred.dropped()
    with transaction.atomic():
        deferred.defer(broken)
        deferred.defer(heartbeat("a"))
        deferred.defer(heartbeat("a"))  # a database error: the unique worker
        deferred.defer(heartbeat("b"))
    assert sorted(ConsumerHeartbeat.objects.values_list("worker", flat=True)) == ["a", "b"]
    assert deferred.dropped() == before + 2


@pytest.mark.django_db(transaction=True)
def test_a_batch_with_bad_writes_keeps_its_good_ones(monkeypatch):
    monkeypatch.setattr(deferred, "RETRY_SECONDS", 0)
    before = deferred.dropped()
    deferred._write([heartbeat("a"), broken, heartbeat("b"), heartbeat("a"), heartbeat("c")])
    assert sorted(ConsumerHeartbeat.objects.values_list("worker", flat=True)) == ["a", "b", "c"]
    assert deferred.dropped() == before + 2


@pytest.mark.django_db(transaction=True)
def test_the_writer_thread_outlives_a_failing_write(monkeypatch):
    monkeypatch.setattr(deferred, "RETRY_SECONDS", 0)
    deferred.defer(broken)
    deferred.flush()
    deferred.defer(heartbeat("later"))
    deferred.flush()
    assert list(ConsumerHeartbeat.objects.values_list("worker", flat=True)) == ["later"]


@pytest.mark.django_db(transaction=True)
def test_deferred_creates_of_a_burst_are_stored_together_with_other_writes():
    fields = {"group_id": "g", "topic": "t", "updated_at": timezone.now()}
    deferred._write([deferred._Create(ConsumerHeartbeat, {"worker": "a", **fields}), heartbeat("b")])
    deferred._write([deferred._Create(ConsumerHeartbeat, {"worker": name, **fields}) for name in ("c", "d")])
    assert sorted(ConsumerHeartbeat.objects.values_list("worker", flat=True)) == ["a", "b", "c", "d"]


@pytest.mark.django_db(transaction=True)
def test_a_write_after_a_deferred_create_in_its_batch_finds_the_row():
    def rename():
        ConsumerHeartbeat.objects.filter(worker="a").update(worker="renamed")

    fields = {"worker": "a", "group_id": "g", "topic": "t", "updated_at": timezone.now()}
    deferred._write([deferred._Create(ConsumerHeartbeat, fields), rename, heartbeat("b")])
    assert sorted(ConsumerHeartbeat.objects.values_list("worker", flat=True)) == ["b", "renamed"]

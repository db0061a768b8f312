"""The site catalog's movie ids, held in each process's memory.

Checking a click's movie with a SELECT per POST was a third of the endpoint's
time (issue 20); the whole set is a few hundred kilobytes even at ml-25m
size (62k movies). It is read again after EVENTS_MOVIE_IDS_SECONDS, and at
once (at most every MISS_REFRESH_SECONDS) when a request names an id it does
not hold, so a movie imported a moment ago is accepted.
"""

import threading
import time

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from movie.models import Dataset, Movie

MISS_REFRESH_SECONDS = 5

_lock = threading.Lock()
_ids = frozenset()
_dataset = None
_read_at = float("-inf")


def _read():
    global _ids, _dataset, _read_at
    dataset = settings.MOVIELENS_DATASET
    ids = frozenset(Movie.objects.filter(dataset__name=dataset).values_list("pk", flat=True))
    with _lock:
        _ids, _dataset, _read_at = ids, dataset, time.monotonic()
    return ids


def known(movie_ids):
    """The ids among ``movie_ids`` that are movies of the site's dataset."""
    ids, age = _ids, time.monotonic() - _read_at
    if _dataset != settings.MOVIELENS_DATASET or age > settings.EVENTS_MOVIE_IDS_SECONDS:
        ids = _read()
    elif not ids.issuperset(movie_ids) and age > MISS_REFRESH_SECONDS:
        ids = _read()
    return ids.intersection(movie_ids)


def forget():
    """Read the catalog again on next use (tests and imports call this)."""
    global _read_at
    _read_at = float("-inf")


@receiver([post_save, post_delete], sender=Movie, dispatch_uid="events.catalog_ids.movie_changed")
@receiver([post_save, post_delete], sender=Dataset, dispatch_uid="events.catalog_ids.dataset_changed")
def _catalog_changed(**kwargs):
    # A change in this process (tests, the admin) is seen at once; another
    # process's import within the refresh times above.
    forget()

"""Fixtures shared by every test module.

Real services (Kafka via tansu, DynamoDB via moto, MariaDB) are started or
reached by the fixtures of the modules that need them; nothing here opens a
connection unless a test asks for it.
"""

import os
from pathlib import Path

import pytest

pytest_plugins = ["tests.accounts"]


@pytest.fixture(scope="session")
def ml100k_dir(tmp_path_factory):
    """The real MovieLens-100k, found or fetched as the loader does; the test
    skips, saying where it looked, on a machine that cannot have it."""
    from tests.datasets import DatasetError, real_dataset_path

    if os.environ.get("MOVIELENS_100K_DIR"):
        return Path(os.environ["MOVIELENS_100K_DIR"])
    try:
        return real_dataset_path("ml-100k", tmp_path_factory.mktemp("ml-100k"))
    except DatasetError as exc:
        pytest.skip(f"MovieLens-100k cannot be had on this machine: {exc}")


@pytest.fixture
def catalog(db, settings):
    """A small catalog in the site's dataset: see tests/factories.py."""
    from tests.factories import make_catalog

    settings.MOVIELENS_DATASET = "test-catalog"
    return make_catalog("test-catalog")


@pytest.fixture
def empty_cache():
    """Rate-limit counters and recent events must not leak from one test to the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny tensors on a shared 2-core machine: thread hand-offs cost more than they save."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def writes_in_the_request():
    """Tests recount "Popular now" in the request (production does it in a
    background thread), so that nothing waits in another thread to touch
    another test's database. An override of its own, not the ``settings``
    fixture: that one is then the test's, restored before other autouse
    fixtures (an emptied cache, say) tear down."""
    from django.test import override_settings

    with override_settings(POPULAR_REFRESH_IN_BACKGROUND=False):
        yield


@pytest.fixture(autouse=True)
def fresh_state_reads():
    """The registry and catalog reads a process keeps for a second
    (sitewide/recheck.py) start afresh: a flushed database reuses primary keys."""
    from sitewide.recheck import forget_all

    forget_all()
    yield
    forget_all()


@pytest.fixture(autouse=True)
def deferred_writes_done():
    """Outside a transaction (``transaction=True`` tests) record-only writes go
    to a background thread; wait for them at the end of the test, so that
    none lands in the next test's database while its fixtures fill it."""
    yield
    from events import deferred

    deferred.flush()

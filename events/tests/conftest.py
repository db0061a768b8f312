import pytest


@pytest.fixture(autouse=True)
def empty_cache():
    """Rate-limit counters and recent events must not leak from one test to the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()

import pytest


@pytest.fixture(autouse=True)
def _empty_cache(empty_cache):
    """Every events test starts from an empty cache (see the root conftest)."""

"""Fixtures shared by every test module.

Real services (Kafka via tansu, DynamoDB via moto, MariaDB) are started or
reached by the fixtures of the modules that need them; nothing here opens a
connection unless a test asks for it.
"""
import os
from pathlib import Path

import pytest

from tests.services import REPO_DIR


def shared_ml100k_dir():
    """The original GroupLens ml-100k files shipped beside the project."""
    return Path(os.environ.get("MOVIELENS_100K_DIR", REPO_DIR.parent / "shared" / "data" / "ml-100k"))


@pytest.fixture(scope="session")
def ml100k_dir():
    path = shared_ml100k_dir()
    if not (path / "u.data").exists():
        pytest.fail(f"MovieLens-100k not found at {path}; set MOVIELENS_100K_DIR.")
    return path


@pytest.fixture
def catalog(db, settings):
    """A small catalog in the site's dataset: see tests/factories.py."""
    from tests.factories import make_catalog

    settings.MOVIELENS_DATASET = "test-catalog"
    return make_catalog("test-catalog")


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny tensors on a shared 2-core machine: thread hand-offs cost more than they save."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

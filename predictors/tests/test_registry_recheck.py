"""Which versions are active is read once a second per process
(sitewide/recheck.py): an activation made elsewhere is served within
STATE_RECHECK_SECONDS, one made by this process at once."""

import pytest
from django.db import transaction

from movie.catalog import catalog_version
from movie.models import Dataset
from predictors.models import ModelVersion
from predictors.serving import active_versions
from sitewide.recheck import Recheck
from tests.factories import new_version

# Outside a transaction, as a request of the site runs: inside one the registry is always read.
pytestmark = pytest.mark.django_db(transaction=True)


def activate_elsewhere(version):
    """What another process's activation looks like to this one: rows changed, no signal here."""
    ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.ACTIVE, active_flag=True)


def test_an_activation_by_this_process_is_served_at_once(settings):
    settings.STATE_RECHECK_SECONDS = 60
    version = new_version()
    assert active_versions() == {}
    version.activate()
    assert active_versions() == {"gmf": (version.pk, version.artifact_sha256)}
    version.retire()
    assert active_versions() == {}


def test_an_activation_elsewhere_is_served_once_the_recheck_time_passed(settings):
    settings.STATE_RECHECK_SECONDS = 60
    version = new_version()
    assert active_versions() == {}
    activate_elsewhere(version)
    assert active_versions() == {}  # kept: read again only after STATE_RECHECK_SECONDS
    settings.STATE_RECHECK_SECONDS = 0
    assert active_versions() == {"gmf": (version.pk, version.artifact_sha256)}


def test_inside_a_transaction_the_registry_is_always_read(settings):
    settings.STATE_RECHECK_SECONDS = 60
    version = new_version()
    assert active_versions() == {}
    with transaction.atomic():
        activate_elsewhere(version)
        assert active_versions() == {"gmf": (version.pk, version.artifact_sha256)}
        transaction.set_rollback(True)
    assert active_versions() == {}  # what the rolled-back transaction saw was not kept


def test_a_deletion_by_this_process_is_served_at_once(settings):
    settings.STATE_RECHECK_SECONDS = 60
    version = new_version()
    version.activate()
    assert "gmf" in active_versions()
    version.delete()
    assert active_versions() == {}


def test_one_model_and_all_models_are_one_read(settings):
    """A page that asks for one model and then for all gets the same
    versions, so nothing is built with one version and kept under another."""
    settings.STATE_RECHECK_SECONDS = 60
    version = new_version()
    assert active_versions(["gmf"]) == {}
    activate_elsewhere(version)
    assert active_versions() == {} and active_versions(["gmf"]) == {}
    settings.STATE_RECHECK_SECONDS = 0
    assert active_versions() == active_versions(["gmf"]) == {"gmf": (version.pk, version.artifact_sha256)}


def test_an_answer_is_the_callers_own_copy(settings):
    settings.STATE_RECHECK_SECONDS = 60
    new_version().activate()
    active_versions().clear()
    assert "gmf" in active_versions()


def dataset_row():
    return catalog_version()[1]  # the version's other parts: this process's changes, the CACHE_SECONDS period


def test_another_processs_import_changes_the_catalog_version_within_the_recheck_time(settings):
    settings.STATE_RECHECK_SECONDS = 60
    settings.MOVIELENS_DATASET = "recheck-catalog"
    Dataset.objects.create(name="recheck-catalog", fingerprint="first")
    before = dataset_row()
    Dataset.objects.filter(name="recheck-catalog").update(fingerprint="second")  # another process's import
    assert dataset_row() == before
    settings.STATE_RECHECK_SECONDS = 0
    assert dataset_row() != before


def test_an_import_by_this_process_changes_the_catalog_version_at_once(settings):
    settings.STATE_RECHECK_SECONDS = 60
    settings.MOVIELENS_DATASET = "recheck-catalog"
    dataset = Dataset.objects.create(name="recheck-catalog", fingerprint="first")
    before = dataset_row()
    dataset.fingerprint = "second"
    dataset.save()
    assert dataset_row() != before


def test_a_read_that_began_before_a_change_is_not_kept(settings):
    settings.STATE_RECHECK_SECONDS = 60
    answers = iter(["read while the change was made", "read after it"])

    def read(alias):
        value = next(answers)
        if value.startswith("read while"):
            recheck.changed()  # another thread's save lands during this read
        return value

    recheck = Recheck(read)
    assert recheck.get("default") == "read while the change was made"
    assert recheck.get("default") == "read after it"

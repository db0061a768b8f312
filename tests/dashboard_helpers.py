"""Registry rows and admin clients for the dashboard tests."""

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from predictors import artifacts
from predictors.models import ModelVersion

METRICS = {
    "ncf": {"hr@10": 0.61, "ndcg@10": 0.35},
    "full": {"precision@10": 0.3, "recall@10": 0.2, "ndcg@10": 0.4, "map@10": 0.25, "recall@20": 0.33, "ndcg@20": 0.38},
}


@pytest.fixture
def store(settings, tmp_path):
    settings.MODEL_STORE_URI = str(tmp_path / "models")
    return artifacts.LocalStore(tmp_path / "models")


def make_version(store, model_name="gmf", activate=False, metrics=None, **fields):
    """A registered version whose artifact is a small, valid file."""
    uri, size, sha256 = artifacts.save(store, model_name, {"model_name": model_name, "marker": len(fields)})
    recorded = {
        "dataset": "test-catalog",
        "dataset_fingerprint": {"n_users": 12, "sha256": "ab" * 32},
        "hyperparameters": {"dim": 8, "lr": 0.002},
        "metrics": METRICS if metrics is None else metrics,
        "training_seconds": 12.0,
        **fields,
    }
    version = ModelVersion.objects.register(
        model_name=model_name, artifact_uri=uri, artifact_size=size, artifact_sha256=sha256, **recorded
    )
    if activate:
        version.activate()
    return version


def logged_in(user, enforce_csrf_checks=False):
    client = Client(enforce_csrf_checks=enforce_csrf_checks)
    client.force_login(user)
    return client


@pytest.fixture
def admin_user(db):
    return User.objects.create_superuser("boss", "boss@example.com", "pw-not-used")


@pytest.fixture
def admin_client_(admin_user):
    return logged_in(admin_user)


def staff_user(username, *permissions):
    user = User.objects.create_user(username, password="pw-not-used", is_staff=True)
    for codename in permissions:
        user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label="predictors"))
    return user

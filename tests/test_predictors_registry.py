"""The model registry and the train_model / evaluate_model commands."""
import pytest
import torch
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction

from predictors.models import ModelVersion, TrainingRun

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def model_store(settings, tmp_path):
    settings.MODEL_STORE_URI = str(tmp_path / "models")
    settings.MODEL_TRAINING_THREADS = 1
    yield
    torch.set_num_threads(1)


def make_version(model_name="gmf", **fields):
    defaults = {"dataset": "ml-100k", "artifact_uri": "/nowhere", "artifact_sha256": "0" * 64}
    return ModelVersion.objects.register(model_name=model_name, **{**defaults, **fields})


def test_versions_are_numbered_per_model():
    assert [make_version("gmf").version, make_version("gmf").version, make_version("ngcf").version] == [1, 2, 1]
    assert make_version("gmf").label == "gmf:3"


def test_activating_a_version_retires_the_previous_one():
    first, second, other = make_version("gmf"), make_version("gmf"), make_version("ngcf")
    first.activate()
    other.activate()
    assert ModelVersion.objects.active("gmf") == first
    second.activate()
    first.refresh_from_db()
    assert first.status == "retired" and ModelVersion.objects.active("gmf") == second
    assert ModelVersion.objects.active("ngcf") == other  # other models are untouched
    assert ModelVersion.objects.active("neumf") is None
    assert ModelVersion.objects.filter(model_name="gmf", status="active").count() == 1


def test_the_database_refuses_a_second_active_version():
    first, second = make_version("gmf"), make_version("gmf")
    first.activate()
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=second.pk).update(status="active", active_flag=True)
    # The flag cannot drift from the status either.
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=second.pk).update(status="active")


@pytest.mark.parametrize(
    "args, message",
    [
        (["svd"], "invalid choice"),
        (["gmf", "--epochs", "0"], "--epochs must be at least 1"),
        (["gmf", "--lr", "-1"], "--lr must be a positive number"),
        (["ngcf", "--layers", "0"], "--layers must be at least 1"),
        (["ngcf", "--dropout", "1"], "--dropout must be at least 0 and below 1"),
        (["gmf", "--recent-weight", "0"], "--recent-weight must be at least 1"),
        (["gmf", "--recent-positives", "-1"], "--recent-positives must be zero or more"),
        (["gmf", "--protocol", "loo"], "invalid choice"),
        (["gmf", "--dataset", "ml-nothing"], "has no interactions"),
        (["ease", "--epochs", "3"], "EASE is fitted in closed form and takes only l2, ratings; epochs does not apply"),
    ],
)
def test_train_model_refuses_bad_arguments_with_one_sentence(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("train_model", *args)
    assert not ModelVersion.objects.exists()


@pytest.mark.parametrize(
    "label, message",
    [("gmf:7", "There is no model version gmf:7"), ("gmf", "No version of 'gmf' is active"), ("gmf:x", "MODEL:NUMBER")],
)
def test_evaluate_model_refuses_unknown_versions(label, message):
    with pytest.raises(CommandError, match=message):
        call_command("evaluate_model", label)


def test_train_then_evaluate_a_model_from_the_catalog(catalog, capsys):
    call_command("train_model", "gmf", "--epochs", "2", "--dim", "4", "--activate", "--verbosity", "0")
    version = ModelVersion.objects.active("gmf")
    assert version.label == "gmf:1" and version.dataset == "test-catalog"
    assert set(version.metrics["full"]) == {"precision@10", "recall@10", "ndcg@10", "map@10", "recall@20", "ndcg@20"}
    assert version.dataset_fingerprint["n_interactions"] == catalog.n_interactions
    run = TrainingRun.objects.get()
    assert run.status == "finished" and run.version == version and len(run.epochs) >= 1
    assert "Registered gmf:1 (active)" in capsys.readouterr().out

    call_command("evaluate_model", "gmf:1")
    recomputed = capsys.readouterr().out
    expected = f"{version.metrics['full']['ndcg@10']:.4f}"
    assert recomputed.startswith("gmf:1 on test-catalog") and f"ndcg@10={expected}" in recomputed


def test_ease_trains_from_the_command_and_evaluates_to_the_same_numbers(catalog, capsys):
    call_command("train_model", "ease", "--l2", "50", "--verbosity", "0")
    version = ModelVersion.objects.get(model_name="ease")
    assert version.hyperparameters["l2"] == 50.0 and version.status == "candidate"
    assert "Registered ease:1 (candidate)" in (out := capsys.readouterr().out) and "fitted in closed form in" in out
    call_command("evaluate_model", "ease:1")
    assert f"ndcg@10={version.metrics['full']['ndcg@10']:.4f}" in capsys.readouterr().out


def test_latest_protocols_record_ncf_and_d2l_metrics(catalog):
    call_command("train_model", "ngcf", "--epochs", "1", "--dim", "4", "--layers", "1", "--dropout", "0.1", "--protocol", "d2l", "--verbosity", "0")
    version = ModelVersion.objects.get()
    assert version.status == "candidate" and version.hyperparameters["dropout"] == 0.1
    assert set(version.metrics) == {"ncf", "d2l"} and set(version.metrics["d2l"]) == {"hit@50", "auc"}


def test_evaluate_model_refuses_a_corrupted_artifact(catalog):
    call_command("train_model", "gmf", "--epochs", "1", "--dim", "4", "--verbosity", "0")
    version = ModelVersion.objects.get()
    with open(version.artifact_uri, "r+b") as handle:
        handle.seek(100)
        handle.write(b"garbage")
    with pytest.raises(CommandError, match="corrupted"):
        call_command("evaluate_model", "gmf:1")

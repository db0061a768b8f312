"""The training service on the test catalog: the served artifact is fitted on
every interaction, the version keeps the split's metrics and the baselines,
and train_model's --activate refuses a version below popularity."""

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from predictors import artifacts, training_service
from predictors.data import from_database
from predictors.models import ModelVersion, TrainingRun
from predictors.registry import load_version

pytestmark = pytest.mark.usefixtures("model_store")

TINY = {"dim": 4, "epochs": 3, "patience": 3, "batch_size": 64}


def trained(model_name, **overrides):
    run = training_service.start_run(model_name, "test-catalog", overrides=overrides)
    return training_service.train(run)


def interaction_pairs(users, items, data):
    return sorted(
        zip(data.user_ids[np.asarray(users)].tolist(), data.item_ids[np.asarray(items)].tolist(), strict=True)
    )


@pytest.mark.parametrize(
    "model_name, overrides", [("gmf", TINY), ("ngcf", {**TINY, "layers": 1}), ("ease", {"l2": 50.0})]
)
def test_the_served_artifact_saw_every_interaction(catalog, model_name, overrides):
    outcome = trained(model_name, **overrides)
    version, data = outcome.version, from_database("test-catalog")
    payload = artifacts.load(version.artifact_uri, version.artifact_sha256)
    everything = interaction_pairs(data.users, data.items, data)
    assert interaction_pairs(payload["fit_users"], payload["fit_items"], data) == everything
    train, test = outcome.result.split
    assert len(train) < len(data) and len(test) > 0  # the metrics come from the split
    assert (version.fitted_on["interactions"], version.fitted_on["users"], version.fitted_on["items"]) == (
        len(data),
        data.n_users,
        data.n_items,
    )
    if model_name == "ngcf":  # the graph it propagates over holds every interaction too
        assert load_version(version).model.graph.num_edges("rates") == len(data)


def test_the_served_model_trains_for_the_epochs_early_stopping_kept(catalog):
    outcome = trained("gmf", **TINY)
    curve = outcome.result.curves
    best = curve[int(np.argmax([entry["val_ndcg@10"] for entry in curve]))]["epoch"]
    assert outcome.version.fitted_on["epochs"] == best
    run = TrainingRun.objects.get()
    assert run.stage == "gmf (all data)" and run.epoch == best  # the final fit's progress: exactly that many epochs
    assert run.epochs == curve and run.status == "finished"


def test_the_version_keeps_the_split_metrics_and_the_baselines(catalog):
    version = trained("ease", l2=50.0).version
    assert set(version.baselines) == {"popularity", "als"}
    assert set(version.baselines["popularity"]["full"]) == set(version.metrics["full"])
    assert version.popularity_ndcg_at_10 == version.baselines["popularity"]["full"]["ndcg@10"]
    assert version.fitted_on["epochs"] is None  # closed form


def test_train_model_prints_the_baselines_beside_the_new_model(catalog, capsys):
    call_command("train_model", "ease", "--l2", "50", "--verbosity", "0")
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert {"ease:1", "popularity", "implicit"} <= set(rows)
    assert "served model fitted on all" in out and "same split: popularity ndcg@10=" in out


def test_activate_refuses_a_version_below_popularity_and_force_accepts_it(catalog, capsys):
    # Two softmax epochs of a 4-wide GMF on 30 movies stay below popularity there.
    with pytest.raises(CommandError) as refused:
        call_command(
            "train_model", "gmf", "--loss", "softmax", "--epochs", "2", "--dim", "4", "--activate", "--verbosity", "0"
        )
    message = str(refused.value)
    assert refused.value.returncode != 0
    assert message.startswith("Refused to activate gmf:1: its NDCG@10 (") and "below popularity's" in message
    assert message.count(". ") == 0 and message.endswith("--force activates it anyway.")
    version = ModelVersion.objects.get()
    assert version.status == "candidate" and version.below_popularity()
    assert "Registered gmf:1 (candidate)" in capsys.readouterr().out

    call_command(
        "train_model",
        "gmf",
        "--loss",
        "softmax",
        "--epochs",
        "2",
        "--dim",
        "4",
        "--activate",
        "--force",
        "--verbosity",
        "0",
    )
    assert ModelVersion.objects.active("gmf").label == "gmf:2"
    assert "Registered gmf:2 (active)" in capsys.readouterr().out

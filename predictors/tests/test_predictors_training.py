"""Short trainings on generated data, artifacts and the model store."""

import socket

import boto3
import numpy as np
import pandas as pd
import pytest
import torch

from predictors import artifacts, foldin
from predictors.baselines import fit_popularity
from predictors.data import from_frame
from predictors.evaluation import full_ranking, model_scorer
from predictors.models import ModelVersion
from predictors.registry import artifact_payload, load_version, loaded_model, register
from predictors.synthetic import planted_interactions
from predictors.training import branch_hyperparameters, epoch_rows, train_and_evaluate
from predictors.zoo import hyperparameters

FAST = {
    "gmf": {"dim": 8, "lr": 0.05, "epochs": 20, "l2": 1e-4, "batch_size": 128, "patience": 20},
    "ngcf": {
        "dim": 8,
        "layers": 2,
        "lr": 0.05,
        "epochs": 6,
        "batch_size": 256,
        "l2": 1e-4,
        # Its factorisation start at a penalty for 15 interactions per user, not MovieLens' hundred.
        "branches": {"gmf": {"loss": "wls", "l2": 1.0, "confidence": 3.0, "epochs": 10, "patience": 3}},
    },
    "neumf": {"dim": 4, "layers": 1, "lr": 0.005, "epochs": 2, "batch_size": 256},
    "ease": {"l2": 10.0},
}


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # Tiny tensors on a shared 2-core machine: thread hand-offs cost more than they save.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def planted():
    return from_frame(planted_interactions(n_users=120, n_items=60, n_groups=3, per_user=15, noise=0.05, seed=0))


def quick_training(data, name, seed=0):
    return train_and_evaluate(data, name, hyperparameters(name, **FAST[name]), "full", seed, progress=False)


@pytest.mark.parametrize("name", ["gmf", "ngcf", "ease"])
def test_short_training_on_planted_tastes_beats_popularity(planted, name):
    result = quick_training(planted, name)
    train, test = result.split
    popularity = full_ranking(fit_popularity(train), train, test)
    assert result.metrics["full"]["ndcg@10"] > popularity["ndcg@10"] + 0.1
    assert result.metrics["full"]["recall@10"] > popularity["recall@10"]
    for stage in {entry["stage"] for entry in result.curves}:  # NGCF's factorisation start is a stage of its own
        epochs = [entry["epoch"] for entry in result.curves if entry["stage"] == stage]
        assert epochs == list(range(epochs[0], epochs[0] + len(epochs))) and epochs[0] in (0, 1)


def test_neumf_training_starts_from_pretrained_branches(planted):
    result = quick_training(planted, "neumf")
    assert [entry["stage"] for entry in result.curves][0] == "neumf/gmf"
    assert {"neumf/gmf", "neumf/mlp", "neumf"} <= {entry["stage"] for entry in result.curves}


def test_same_seed_gives_the_same_model(planted):
    first, second = quick_training(planted, "gmf", seed=4), quick_training(planted, "gmf", seed=4)
    assert first.metrics == second.metrics


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["gmf", "neumf", "ngcf", "ease"])
def test_artifact_round_trip_scores_the_same(planted, tmp_path, name):
    result = quick_training(planted, name)
    version = register(
        name, result, planted, "planted", {"n_interactions": len(planted)}, store=artifacts.LocalStore(tmp_path)
    )
    loaded = load_version(version)
    users = torch.arange(planted.n_users)
    assert np.allclose(model_scorer(loaded.model)(users), model_scorer(result.model)(users), atol=1e-6)
    assert list(loaded.item_ids) == list(planted.item_ids) and list(loaded.user_ids) == list(planted.user_ids)
    assert version.artifact_size == (tmp_path / name / f"{version.artifact_sha256}.pt").stat().st_size


@pytest.mark.django_db
def test_a_corrupted_artifact_is_refused(planted, tmp_path):
    version = register(
        "gmf", quick_training(planted, "gmf"), planted, "planted", {}, store=artifacts.LocalStore(tmp_path)
    )
    path = tmp_path / "gmf" / f"{version.artifact_sha256}.pt"
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(artifacts.ArtifactError, match="corrupted"):
        load_version(version)
    path.unlink()
    with pytest.raises(artifacts.ArtifactError, match="does not exist"):
        load_version(version)


def recommendations(loaded, history):
    model = loaded.model.freeze_for_serving()
    return foldin.top_k_unseen(model, foldin.fold_in(model, history), history, 10)


@pytest.mark.django_db
def test_the_serving_copy_of_ngcf_has_no_graph_and_recommends_the_same(planted, tmp_path):
    version = register(
        "ngcf", quick_training(planted, "ngcf"), planted, "planted", {}, store=artifacts.LocalStore(tmp_path)
    )
    complete, serving = load_version(version), load_version(version, serving=True)
    assert serving.model.graph is None and serving.fit_users is None and serving.fit_items is None
    history = [0, 5, 7, 21]
    (expected_items, expected_scores), (items, scores) = (
        recommendations(complete, history),
        recommendations(serving, history),
    )
    assert list(items) == list(expected_items) and np.allclose(scores, expected_scores, atol=1e-5)
    with pytest.raises(RuntimeError, match="cannot be trained"):
        serving.model.train()
    with pytest.raises(RuntimeError, match="fold a user in"):
        serving.model.user_representation(torch.tensor([0]))


def test_an_ngcf_artifact_without_propagated_layers_is_served_by_rebuilding_the_graph(planted, tmp_path):
    result = quick_training(planted, "ngcf")
    older_payload = {key: value for key, value in artifact_payload("ngcf", result, planted).items() if key != "serving"}
    uri, _, sha256 = artifacts.save(artifacts.LocalStore(tmp_path), "ngcf", older_payload)
    loaded = loaded_model(artifacts.load(uri, sha256, artifacts.LocalStore(tmp_path)), serving=True)
    assert loaded.model.graph is not None
    assert len(recommendations(loaded, [1, 2, 3])[0]) == 10


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def s3_endpoint(monkeypatch):
    from moto.server import ThreadedMotoServer

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.mark.django_db
def test_artifacts_round_trip_through_s3(planted, s3_endpoint, settings):
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket="models")
    settings.MODEL_STORE_URI, settings.MODEL_STORE_ENDPOINT_URL = "s3://models/registry", s3_endpoint
    result = quick_training(planted, "gmf")
    version = register("gmf", result, planted, "planted", {})
    assert version.artifact_uri == f"s3://models/registry/gmf/{version.artifact_sha256}.pt"
    loaded = load_version(version)
    users = torch.arange(5)
    assert np.allclose(model_scorer(loaded.model)(users), model_scorer(result.model)(users), atol=1e-6)
    version.artifact_sha256 = "0" * 64
    with pytest.raises(artifacts.ArtifactError, match="corrupted"):
        load_version(version)
    version.artifact_uri = "s3://models/registry/gmf/missing.pt"
    with pytest.raises(artifacts.ArtifactError, match="does not exist"):
        load_version(version)


def test_bpr_pairs_one_negative_per_positive_unless_told_otherwise():
    assert hyperparameters("gmf", loss="bpr")["negatives"] == 1  # a pointwise model switched to BPR
    assert hyperparameters("gmf", loss="bpr", negatives=3)["negatives"] == 3
    assert hyperparameters("ngcf", loss="bpr")["negatives"] == 1
    assert hyperparameters("gmf", loss="bce")["negatives"] == 4  # He et al.'s four for a model switched to BCE


def test_next_movie_protocols_weight_each_users_latest_interactions():
    assert hyperparameters("gmf")["recent_positives"] == 0  # full: a random hold-out has no order to lean on
    neumf = hyperparameters("neumf", "d2l")
    assert (neumf["recent_positives"], neumf["recent_weight"]) == (10, 3) and hyperparameters("ngcf", "ncf")[
        "recent_weight"
    ] == 3
    assert branch_hyperparameters(neumf, "gmf")["recent_positives"] == 10  # NeuMF's pre-training weights them too
    assert hyperparameters("gmf", "d2l", recent_positives=0)["recent_positives"] == 0

    # User 1 has four interactions (times 1..4), user 2 one: the two latest of each count three times.
    data = from_frame(
        pd.DataFrame({"user_id": [1, 1, 1, 1, 2], "item_id": [1, 2, 3, 4, 5], "timestamp": [3, 1, 4, 2, 5]})
    )
    rows = epoch_rows(data, hyperparameters("gmf", "d2l", recent_positives=2))
    times_seen = {
        (int(data.user_ids[data.users[row]]), int(data.item_ids[data.items[row]])): int(n)
        for row, n in enumerate(np.bincount(rows, minlength=len(data)))
    }
    assert times_seen == {(1, 2): 1, (1, 4): 1, (1, 1): 3, (1, 3): 3, (2, 5): 3}
    assert sorted(epoch_rows(data, hyperparameters("gmf"))) == list(range(len(data)))

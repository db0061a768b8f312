"""The model registry and the train_model / evaluate_model commands."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction

from predictors.models import ModelVersion, TrainingRun
from tests.dashboard_helpers import store  # noqa: F401
from tests.factories import new_version

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("model_store")]


def test_versions_are_numbered_per_model():
    assert [new_version("gmf").version, new_version("gmf").version, new_version("ngcf").version] == [1, 2, 1]
    assert new_version("gmf").label == "gmf:3"


def test_activating_a_version_retires_the_previous_one():
    first, second, other = new_version("gmf"), new_version("gmf"), new_version("ngcf")
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
    first, second = new_version("gmf"), new_version("gmf")
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
    call_command("train_model", "gmf", "--epochs", "2", "--dim", "4", "--activate", "--force", "--verbosity", "0")
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
    call_command(
        "train_model",
        "ngcf",
        "--epochs",
        "1",
        "--dim",
        "4",
        "--layers",
        "1",
        "--dropout",
        "0.1",
        "--protocol",
        "d2l",
        "--verbosity",
        "0",
    )
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


# --- registry rules, as methods of ModelVersion ------------------------------------------------


def scored(ndcg, popularity=None, **fields):
    baselines = {} if popularity is None else {"popularity": {"full": {"ndcg@10": popularity}}}
    return new_version(metrics={"full": {"ndcg@10": ndcg}}, baselines=baselines, **fields)


def test_activation_refuses_a_version_below_popularity_unless_forced():
    from predictors.models import ActivationRefused

    weak = scored(0.18, popularity=0.20)
    with pytest.raises(
        ActivationRefused, match=r"Refused to activate gmf:1: its NDCG@10 \(0.1800\) is below popularity's \(0.2000\)"
    ):
        weak.activate()
    assert ModelVersion.objects.active("gmf") is None
    weak.activate(force=True)
    assert ModelVersion.objects.active("gmf") == weak
    scored(0.25, popularity=0.20).activate()  # above popularity: no question asked
    scored(0.25).activate()  # no baseline recorded: nothing to hold it to


def test_activation_can_verify_the_artifact():
    from predictors.models import ActivationRefused

    version = new_version()  # its artifact_uri points nowhere
    with pytest.raises(ActivationRefused, match="Refused to activate gmf:1: Artifact /nowhere"):
        version.activate(verify_artifact=True)
    assert ModelVersion.objects.active("gmf") is None


def test_retire_says_whether_it_took_the_served_version_away():
    served, candidate = scored(0.3), scored(0.3)
    served.activate()
    assert served.retire() is True and candidate.retire() is False
    assert ModelVersion.objects.active("gmf") is None
    assert {v.status for v in ModelVersion.objects.all()} == {"retired"}


def test_roll_back_serves_the_version_served_before(store):
    from predictors.models import RegistryRuleError
    from tests.dashboard_helpers import make_version as with_artifact

    first, never_served, third = with_artifact(store), with_artifact(store), with_artifact(store)
    with pytest.raises(RegistryRuleError, match="no earlier active version"):
        ModelVersion.objects.roll_back("gmf")
    first.activate()
    third.activate()
    assert ModelVersion.objects.previously_active("gmf") == first
    replaced, served = ModelVersion.objects.roll_back("gmf")
    assert (replaced, served) == (third, first) and ModelVersion.objects.active("gmf") == first
    never_served.refresh_from_db()
    assert never_served.status == "candidate"


def test_worse_than_compares_ndcg_at_10_on_each_versions_split():
    active, better, worse, unscored = scored(0.40), scored(0.45), scored(0.35), new_version(metrics={})
    assert worse.worse_than(active) and not better.worse_than(active)
    assert not unscored.worse_than(active) and not worse.worse_than(None)


def test_the_served_copy_knows_how_much_evidence_its_trained_users_had(catalog):
    """Fold-in weighs its prior by the trained users' mean interactions
    (foldin.prior_weight): the artifact carries it, so a serving copy,
    which loads no fitted interactions, still has it."""
    from predictors.registry import load_version

    call_command("train_model", "gmf", "--epochs", "2", "--dim", "4", "--verbosity", "0")
    version = ModelVersion.objects.get(model_name="gmf")
    served = load_version(version, serving=True).model
    fitted = version.fitted_on
    assert served.fold_in_interactions_per_user == pytest.approx(fitted["interactions"] / fitted["users"])

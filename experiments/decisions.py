"""Ending an experiment with its winner served, through the registry's rules."""

from experiments.models import ExperimentRuleError
from predictors.models import ModelVersion


def winning_version(experiment, side):
    """The version side ``side`` served: its pinned version, else its model's active one (or None)."""
    model_name, version = experiment.arm(side)
    return version if version is not None else ModelVersion.objects.active(model_name)


def decided_version(experiment, summary):
    """The winner's version; ExperimentRuleError while the interval still includes zero."""
    if summary.winner is None:
        raise ExperimentRuleError(
            f"{experiment} has no winner yet: the 95% interval of the preference still includes zero."
        )
    version = winning_version(experiment, summary.winner)
    if version is None:
        raise ExperimentRuleError(f"Arm {summary.winner.upper()}'s model has no active version to keep serving.")
    return version


def stop_and_activate(experiment, summary, force=False):
    """Activates the winner's version (ModelVersion.activate: the quality gate
    against popularity unless ``force``, the artifact verified), then stops the
    experiment; returns the version. A refusal (RegistryRuleError) leaves the
    experiment running."""
    version = decided_version(experiment, summary)
    if version.status != ModelVersion.Status.ACTIVE:
        version.activate(force=force, verify_artifact=True)
    experiment.stop(winner=summary.winner)
    return version

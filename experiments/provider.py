"""The experiment's provider for predictors.surfaces: decides per request
whether the visitor takes part and, if so, which list they see.

A visitor takes part when an experiment runs on the surface, they have a
history, their hash falls in the traffic share and both arms can rank for
them. The list's details (experiment, surface, shown, credits and a nonce
made for this page) travel with the page's impression event; ``signature``
binds them to the visitor, so an impression whose credits a client rewrote
is not counted, and the nonce lets attribution count one page's impression
once however many times a client re-posts it (see experiments.attribution).
"""

import logging
import secrets
from dataclasses import dataclass, field

from django.core.cache import cache
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from experiments import arms
from experiments.interleaving import ab_side, in_traffic, request_rng, single_side, team_draft
from experiments.models import Experiment, Participant
from predictors import explain

log = logging.getLogger(__name__)

SIGNATURE_SALT = "experiments.impression"
PARTICIPANT_CACHE_SECONDS = 3600


@dataclass
class SurfaceList:
    movie_ids: list
    because: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)


def signature(details, visitor_key):
    shown = ",".join(str(movie_id) for movie_id in details.get("shown", []))
    credits = "".join(str(credit) for credit in details.get("credits", []))
    nonce = details.get("nonce", "")
    message = f"{details.get('experiment')}|{details.get('surface')}|{visitor_key}|{shown}|{credits}|{nonce}"
    return salted_hmac(SIGNATURE_SALT, message, algorithm="sha256").hexdigest()[:32]


def signed(details, visitor_key):
    """True when ``details`` carry the signature the server gave them for this visitor."""
    given = details.get("sig")
    return isinstance(given, str) and constant_time_compare(given, signature(details, visitor_key))


def record_participant(experiment, visitor_key):
    """Remember who took part (once; the cache spares the repeat writes)."""
    marker = f"experiments:participant:{experiment.pk}:{visitor_key}"
    if cache.get(marker):
        return
    Participant.objects.bulk_create(
        [Participant(experiment=experiment, visitor_key=visitor_key)], ignore_conflicts=True
    )
    cache.set(marker, True, PARTICIPANT_CACHE_SECONDS)


def experiment_list(experiment, visitor_key, history, k, exclude, today):
    """(shown, credits) for this visitor, or None when they are not in it."""
    if not visitor_key or not history or not in_traffic(experiment.pk, visitor_key, experiment.traffic_share):
        return None
    excluded = set(exclude or ())
    wanted = k + len(excluded)
    if experiment.method == Experiment.Method.AB:
        side = ab_side(experiment.pk, visitor_key)
        ranking = arms.ranking(*experiment.arm(side), history, wanted)
        if ranking is None:
            return None
        return single_side([m for m in ranking if m not in excluded], side, k)
    ranking_a = arms.ranking(*experiment.arm("a"), history, wanted)
    ranking_b = arms.ranking(*experiment.arm("b"), history, wanted) if ranking_a is not None else None
    if ranking_b is None:
        return None
    rng = request_rng(experiment.pk, visitor_key, today)
    return team_draft([m for m in ranking_a if m not in excluded], [m for m in ranking_b if m not in excluded], k, rng)


def because(experiment, history, shown, credits):
    """Each card's evidence from the side that drafted it, when that side is its model's served version."""
    found = {}
    for side in ("a", "b"):
        model_name, version = experiment.arm(side)
        if version is None or version.status == version.Status.ACTIVE:
            drafted = [movie_id for movie_id, credit in zip(shown, credits, strict=True) if credit == side]
            found.update(explain.because(model_name, history, drafted))
    return found


def provide(surface):
    """The provider registered for ``surface`` (see predictors.surfaces.register_provider)."""

    def provider(request, visitor_key, history, k, exclude):
        experiment = Experiment.objects.running(surface)
        if experiment is None:
            return None
        drafted = experiment_list(experiment, visitor_key, history, k, exclude, timezone.localdate())
        if drafted is None:
            return None
        shown, credits = drafted
        record_participant(experiment, visitor_key)
        details = {
            "experiment": experiment.pk,
            "surface": surface,
            "shown": shown,
            "credits": credits,
            "nonce": secrets.token_hex(8),
        }
        details["sig"] = signature(details, visitor_key)
        return SurfaceList(movie_ids=shown, because=because(experiment, history, shown, credits), details=details)

    provider.live = lambda: Experiment.objects.filter(surface=surface, status=Experiment.Status.RUNNING).exists()
    return provider

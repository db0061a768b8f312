import json

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from events.history import latest_ratings, visitor_history
from events.visitors import visitor_key
from movie.catalog import movies_by_ids
from predictors import serving, surfaces
from predictors.metrics_log import record_impression
from predictors.models import ModelVersion
from predictors.names import SERVED_MODELS
from predictors.popularity import popular_movie_ids
from predictors.training_status import training_notice
from sitewide.errors import NotFound, json_error
from sitewide.numbers import whole_number

MAX_K = 50
HISTORY_SHOWN = 20


def _visitor(request):
    """(history events newest first, movie pks oldest first, {movie pk: rating})."""
    events = visitor_history(visitor_key(request, create=False))
    movie_ids = list(dict.fromkeys(event.movie_id for event in reversed(events)))
    return events, movie_ids, latest_ratings(events)


def primary_model_name():
    """The model behind "For you": PRIMARY_MODEL when set, else the active
    version with the best evaluation NDCG@10, else the first served model."""
    if settings.PRIMARY_MODEL in SERVED_MODELS:
        return settings.PRIMARY_MODEL
    active = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE, model_name__in=list(SERVED_MODELS))
    best = max(active, key=lambda version: version.ndcg_at_10 or 0.0, default=None)
    return best.model_name if best else next(iter(SERVED_MODELS))


@require_safe
def for_you(request):
    return _recommendation_page(request, primary_model_name(), for_you=True)


@require_safe
def model_page(request, model_name):
    if model_name not in SERVED_MODELS:
        raise NotFound(f"There is no model called {model_name!r}.")
    return _recommendation_page(request, model_name)


def _recommendation_page(request, model_name, for_you=False):
    events, history_ids, ratings = _visitor(request)
    result = serving.recommend(model_name, serving.history_from_events(events), k=10)
    record_impression(result, visitor_key(request, create=False))
    recent = list(dict.fromkeys(event.movie_id for event in events))[:HISTORY_SHOWN]
    history_movies = movies_by_ids(recent)
    for movie in history_movies:
        movie.visitor_rating = ratings.get(movie.pk)
    # An experiment above predictors may take the For-you list over (predictors/surfaces.py).
    provider = surfaces.provider_for(surfaces.TOP_PICKS) if for_you else None
    taken = provider(request, visitor_key(request, create=False), serving.history_from_events(events), 10, ()) if provider else None
    context = {
        "model_name": model_name,
        "model_label": SERVED_MODELS[model_name],
        "result": result,
        "recommended": movies_by_ids(taken.movie_ids if taken else result.movie_ids),
        "impression_details": json.dumps(taken.details) if taken else "",
        "popular": movies_by_ids(popular_movie_ids(10, exclude=history_ids)),
        "history": history_movies,
        "other_models": [(name, label) for name, label in SERVED_MODELS.items() if name != model_name],
        "for_you": for_you,
        # Why popularity stands in: the model's training run, queued, running or not served.
        "training": training_notice(model_name) if result.fallback == serving.Fallback.NOT_TRAINED else None,
    }
    return render(request, "predictors/model_page.html", context)


@require_safe
def recommendations_api(request):
    model_name = request.GET.get("model", "")
    if model_name not in SERVED_MODELS:
        return json_error(400, f"model must be one of {', '.join(SERVED_MODELS)}.")
    raw_k = request.GET.get("k", "10")
    k = whole_number(raw_k, max_digits=3)
    if k is None or not 1 <= k <= MAX_K:
        return json_error(400, f"k must be a whole number from 1 to {MAX_K}.")
    events, history_ids, _ = _visitor(request)
    result = serving.recommend(model_name, serving.history_from_events(events), k=k)
    record_impression(result, visitor_key(request, create=False))
    movies = movies_by_ids(result.movie_ids)
    # The popular list that stands in for a model carries no scores.
    scores = dict(zip(result.movie_ids, result.scores, strict=False))
    return JsonResponse(
        {
            "model": model_name,
            "version": result.version_label,
            "fallback": result.fallback,
            "history": history_ids,
            "recommendations": [
                {
                    "movie_id": movie.pk,
                    "title": movie.title,
                    "year": movie.year,
                    "url": movie.get_absolute_url(),
                    "score": scores.get(movie.pk),
                }
                for movie in movies
            ],
        }
    )

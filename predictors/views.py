from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from movie.catalog import movies_by_ids
from movie.errors import NotFound, json_error
from movie.events import latest_ratings, visitor_history, visitor_key
from paper_review.links import review_url_for_model
from predictors import serving
from predictors.metrics_log import record_impression
from predictors.names import SERVED_MODELS
from predictors.popularity import popular_movie_ids

MAX_K = 50
HISTORY_SHOWN = 20


def _visitor(request):
    """(history events newest first, movie pks oldest first, {movie pk: rating})."""
    events = visitor_history(visitor_key(request, create=False))
    movie_ids = list(dict.fromkeys(event.movie_id for event in reversed(events)))
    return events, movie_ids, latest_ratings(events)


@require_safe
def model_page(request, model_name):
    if model_name not in SERVED_MODELS:
        raise NotFound(f"There is no model called {model_name!r}.")
    events, history_ids, ratings = _visitor(request)
    result = serving.recommend(model_name, serving.history_from_events(events), k=10)
    record_impression(result, visitor_key(request, create=False))
    recent = list(dict.fromkeys(event.movie_id for event in events))[:HISTORY_SHOWN]
    history_movies = movies_by_ids(recent)
    for movie in history_movies:
        movie.visitor_rating = ratings.get(movie.pk)
    context = {
        "model_name": model_name,
        "model_label": SERVED_MODELS[model_name],
        "result": result,
        "recommended": movies_by_ids(result.movie_ids),
        "popular": movies_by_ids(popular_movie_ids(10, exclude=history_ids)),
        "history": history_movies,
        "review_url": review_url_for_model(model_name),
        "other_models": [(name, label) for name, label in SERVED_MODELS.items() if name != model_name],
    }
    return render(request, "predictors/model_page.html", context)


@require_safe
def recommendations_api(request):
    model_name = request.GET.get("model", "")
    if model_name not in SERVED_MODELS:
        return json_error(400, f"model must be one of {', '.join(SERVED_MODELS)}.")
    raw_k = request.GET.get("k", "10")
    if not raw_k.isdigit() or not 1 <= int(raw_k) <= MAX_K:
        return json_error(400, f"k must be a whole number from 1 to {MAX_K}.")
    events, history_ids, _ = _visitor(request)
    result = serving.recommend(model_name, serving.history_from_events(events), k=int(raw_k))
    record_impression(result, visitor_key(request, create=False))
    movies = movies_by_ids(result.movie_ids)
    scores = dict(zip(result.movie_ids, result.scores))
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

import dataclasses
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from events.history import latest_ratings, request_history, visitor_history
from events.visitors import visitor_key
from movie.catalog import movie_summaries
from predictors import fragments, home_rows, serving
from predictors.home_rows import primary_model_name
from predictors.metrics_log import record_impression
from predictors.names import SERVED_MODELS
from predictors.popularity import popular_movie_ids
from predictors.training_status import training_notice
from sitewide.errors import NotFound, json_error
from sitewide.numbers import whole_number

MAX_K = 50
HISTORY_SHOWN = 20


class VisitorState:
    """The requesting visitor's key, events (newest first), weighted history
    and the movies no list may show them (history and "not interested")."""

    def __init__(self, request):
        self.key = visitor_key(request, create=False)
        self.events = visitor_history(self.key)
        self.verdicts = home_rows.Verdicts(self.events)
        self.history, self.hidden, self.stated = self.verdicts.history, self.verdicts.hidden, self.verdicts.stated
        self.exclude = frozenset({pk for pk, _ in self.history} | self.hidden)

    def recent_row(self, limit=HISTORY_SHOWN):
        kinds = self.verdicts.entries(limit)
        return home_rows.Row(home_rows.RECENT, "Your history", list(kinds), kinds=kinds)


@require_safe
def for_you(request):
    return _recommendation_page(request, primary_model_name(), for_you=True)


@require_safe
def model_page(request, model_name):
    if model_name not in SERVED_MODELS:
        raise NotFound(f"There is no model called {model_name!r}.")
    return _recommendation_page(request, model_name)


def _recommendation_page(request, model_name, for_you=False):
    visitor = VisitorState(request)
    versions = home_rows.active_versions()
    # "For you" lets an experiment rank its list (predictors.surfaces); a model page is that model's own.
    row = None
    if for_you and visitor.history:
        row = home_rows.top_picks(request, visitor.key, visitor.history, model_name, visitor.exclude)
    result = row.served if row is not None else None
    if row is None:
        row, result = home_rows.model_row(model_name, visitor.history, visitor.exclude, versions=versions)
    row.stated = visitor.stated  # the page's own copy (home_rows._own_row): its words, not its list
    if result is not None:
        record_impression(result, visitor.key)
    # Popular now repeats no pick; when popularity stood in for the model, the two are the same list.
    picked = set(row.movie_ids) if result is None or not result.is_fallback else set()
    popular = home_rows.Row(
        home_rows.POPULAR, "Popular now", popular_movie_ids(home_rows.ROW_LENGTH, exclude=visitor.exclude | picked)
    )
    history = visitor.recent_row()
    ratings = latest_ratings(visitor.events)
    # Why popularity stands in: the model's training run, queued, running or not served.
    training = (
        training_notice(model_name) if result is not None and result.fallback == serving.Fallback.NOT_TRAINED else None
    )

    def render_content():
        home_rows.attach_movies([row, popular, history], ratings)
        context = {
            "model_name": model_name,
            "model_label": SERVED_MODELS[model_name],
            "result": result,
            "row": row,
            "popular": popular.movies,
            "history": history.movies,
            "other_models": [(name, label) for name, label in SERVED_MODELS.items() if name != model_name],
            "for_you": for_you,
            "n_models": len(SERVED_MODELS),
            "row_length": home_rows.ROW_LENGTH,
            "training": training,
        }
        return render_to_string("predictors/_model_page_content.html", context)

    shown = fragments.ModelPage(model_name, for_you, versions, result, row, popular, history, ratings, training)
    key = fragments.model_page_key(shown)
    content = fragments.cached(key, render_content)
    label = SERVED_MODELS[model_name]
    return render(request, "predictors/model_page.html", {"content": content, "for_you": for_you, "model_label": label})


@require_safe
@never_cache
def home_rows_fragment(request):
    """The home page's personal part for the requesting visitor, which the
    onboarding panel puts in place of the popular grid once they have picked
    enough (static/js/onboarding.js); 204 while they have no history."""
    rows = home_rows.home_rows_for(request, request_history(request))
    if not rows:
        return HttpResponse(status=204)
    return render(request, "predictors/_home_personal.html", {"rows": rows})


@require_safe
def compare(request):
    """Every served model's list for the same visitor, side by side."""
    visitor = VisitorState(request)
    columns = []
    for model_name in SERVED_MODELS:
        row, result = home_rows.model_row(model_name, visitor.history, visitor.exclude)
        row = dataclasses.replace(row, title=SERVED_MODELS[model_name], stated=visitor.stated)
        columns.append({"model_name": model_name, "row": row, "result": result})
    home_rows.attach_movies([column["row"] for column in columns], latest_ratings(visitor.events))
    return render(
        request,
        "predictors/compare.html",
        {"columns": columns, "has_history": bool(visitor.history), "row_length": home_rows.ROW_LENGTH},
    )


@require_safe
def recommendations_api(request):
    model_name = request.GET.get("model", "")
    if model_name not in SERVED_MODELS:
        return json_error(400, f"model must be one of {', '.join(SERVED_MODELS)}.")
    raw_k = request.GET.get("k", "10")
    k = whole_number(raw_k, max_digits=3)
    if k is None or not 1 <= k <= MAX_K:
        return json_error(400, f"k must be a whole number from 1 to {MAX_K}.")
    visitor = VisitorState(request)
    versions = home_rows.active_versions()
    row, result = home_rows.model_row(model_name, visitor.history, visitor.exclude, k=k, versions=versions)
    record_impression(result, visitor.key)

    def body():
        summaries = movie_summaries([*row.movie_ids, *{pk for named in row.because.values() for pk in named}])
        # The popular list that stands in for a model carries no scores.
        scores = dict(zip(result.movie_ids, result.scores, strict=False))
        answer = {
            "model": model_name,
            "version": result.version_label,
            "fallback": result.fallback,
            "history": [pk for pk, _ in visitor.history],
            "recommendations": [
                {
                    **summaries[pk],
                    "score": scores.get(pk),
                    # The liked history movies that contributed most (predictors.explain).
                    "because": [named for named in row.because.get(pk, ()) if named in summaries],
                }
                for pk in row.movie_ids
                if pk in summaries
            ],
        }
        # JsonResponse's bytes without building a response only to read its content.
        return json.dumps(answer, cls=DjangoJSONEncoder).encode()

    key = fragments.api_key(model_name, versions, visitor.history, visitor.exclude, k, result)
    return HttpResponse(fragments.cached(key, body), content_type="application/json")

"""The "Viewers also watched" section of a movie's page.

A history of that one movie, folded into a model, answers exactly "what do
people who watched this movie watch too?". EASE answers it from its
item-to-item weights (one row of B); an embedding model folds in a one-click
visitor. The answer is cached on (model version, history) by serving like any
visitor's, so a page costs one fold-in per movie and model version.

Popularity is no answer to that question, so when the model is missing or
fails the page leaves the section out instead of showing a fallback.
"""

from django.conf import settings

from predictors import serving
from predictors.names import SERVED_MODELS


def also_watched_ids(movie_id, k):
    """(model label, up to k Movie pks, best first) or None."""
    model_name = settings.ALSO_WATCHED_MODEL
    if model_name not in SERVED_MODELS:  # empty: switched off; anything else the system check reports
        return None
    result = serving.recommend(model_name, [movie_id], k=k)
    if result.is_fallback:
        return None
    return SERVED_MODELS[model_name], result.movie_ids

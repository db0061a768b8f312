from django.http import Http404
from django.shortcuts import render

from movie.context_processors import MODEL_PAGES

MODEL_LABELS = dict(MODEL_PAGES)


def model_page(request, model_name):
    """Placeholder until the serving code lands: the page exists and says so."""
    if model_name not in MODEL_LABELS:
        raise Http404(f"There is no model called {model_name!r}.")
    return render(
        request,
        "predictors/model_page.html",
        {"model_name": model_name, "model_label": MODEL_LABELS[model_name]},
    )

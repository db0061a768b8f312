"""Surfaces of the site whose ranking an app above predictors may take over.

An online experiment lives in an app that imports predictors, so predictors
cannot call it. Instead that app registers a provider for a surface when it
starts (``AppConfig.ready``); the surface asks for it on every request and
falls back to its own ranking when there is none or it declines (returns None).
"""

TOP_PICKS = "top_picks"  # the "Top picks for you" row of the home page and of /for-you/

_providers = {}


def register_provider(surface, provider):
    """provider(request, visitor_key, history, k, exclude) -> SurfaceList | None.

    ``history`` is what ``serving.history_from_events`` builds, ``exclude`` the
    movie ids the page already shows elsewhere. The returned object has
    ``movie_ids`` (best first), ``because`` ({movie id: [history movie ids]})
    and ``details`` (a small JSON-able dict the page sends with its impression).
    """
    _providers[surface] = provider


def unregister_provider(surface):
    _providers.pop(surface, None)


def provider_for(surface):
    return _providers.get(surface)


def taken_over(surface):
    """True when a provider may answer for ``surface`` now: registered, and its
    ``live()`` (when it has one, e.g. "an experiment is running") says so.
    A surface that is not taken over may serve its own cached ranking."""
    provider = _providers.get(surface)
    live = getattr(provider, "live", None)
    return provider is not None and (live is None or live())

"""gunicorn settings for the README's production command.

With ``--preload`` the master imports the site and loads every active model
before it forks the workers, so the workers share the model weights (pages
copied only when written) instead of each loading its own copy. Without it
nothing here runs and each worker loads a model on its first recommendation.
"""

import gc


def when_ready(server):
    # In the master, after the application was imported, before any worker exists.
    if not server.cfg.preload_app:
        return
    from django.db import connections

    from predictors import serving
    from predictors.names import SERVED_MODELS

    for name in SERVED_MODELS:
        try:
            serving.get_predictor(name).current()
        except Exception:  # a bad artifact: the workers fall back to popularity and say so
            server.log.exception("could not preload %s", name)
    connections.close_all()  # a forked worker must open its own connections
    # Objects that exist now stay out of the collector's passes, which would
    # otherwise write to (and so un-share) every page holding them.
    gc.freeze()

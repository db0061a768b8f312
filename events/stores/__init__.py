"""The configured click-log store: ``settings.CLICKLOG_STORE`` names a module
whose ``Store`` class is built once per process (the way SESSION_ENGINE picks
a session backend)."""

import threading
from importlib import import_module

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from events.stores.base import ClickLogStore, StoreUnavailable

__all__ = ["ClickLogStore", "StoreUnavailable", "get_store", "reset_store", "store_module"]

# The short names the setting took before it named modules.
ALIASES = {"sql": "events.stores.sql", "dynamodb": "events.stores.dynamodb"}

# (CLICKLOG_STORE value, its store), or None: one global, read once, so a
# reader never pairs one setting's store with another setting.
_built = None
_store_lock = threading.Lock()


def store_module(setting=None):
    """The dotted path of the store module a CLICKLOG_STORE value names."""
    setting = settings.CLICKLOG_STORE if setting is None else setting
    return ALIASES.get(setting, setting)


def get_store():
    """The configured store, built on first use."""
    global _built
    built = _built  # built already: no lock (every click asks a few times)
    if built is not None and built[0] == settings.CLICKLOG_STORE:
        return built[1]
    with _store_lock:
        if _built is None or _built[0] != settings.CLICKLOG_STORE:
            path = store_module()
            try:
                store_class = import_module(path).Store
            except (ImportError, AttributeError):
                raise ImproperlyConfigured(
                    f"CLICKLOG_STORE must name a module with a Store class, such as "
                    f"{', '.join(sorted(ALIASES.values()))}; got {settings.CLICKLOG_STORE!r}."
                ) from None
            _built = (settings.CLICKLOG_STORE, store_class())
        return _built[1]


def reset_store():
    """Forget the built store (tests change settings between cases)."""
    global _built
    with _store_lock:
        _built = None

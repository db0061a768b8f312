"""A module imported on its first attribute access.

Serving reaches torch through fold-in and the registry; the URL conf imports
serving's views in every process that runs Django's checks (``migrate``, the
event consumer), which serve no model and should not pay torch's start-up
time and memory.
"""

from importlib import import_module


class LazyModule:
    def __init__(self, name):
        self._name = name
        self._module = None

    def __getattr__(self, attribute):
        if self._module is None:
            # import_module holds the import lock, so threads racing here get one module.
            self._module = import_module(self._name)
        return getattr(self._module, attribute)

    def __repr__(self):
        return f"<lazy module {self._name!r}>"

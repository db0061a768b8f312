"""A small in-process cache for what pages compute again and again."""

import threading
from collections import OrderedDict


class BoundedCache:
    """A thread-safe least-recently-used dict of at most ``size`` entries."""

    def __init__(self, size):
        self.size = size
        self._entries = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, keys):
        with self._lock:
            found = {key: self._entries[key] for key in keys if key in self._entries}
            for key in found:
                self._entries.move_to_end(key)
        return found

    def put_many(self, entries):
        with self._lock:
            self._entries.update(entries)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self):
        with self._lock:
            self._entries.clear()

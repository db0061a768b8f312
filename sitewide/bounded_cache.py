"""A small in-process cache for what pages compute again and again."""

import threading
from collections import OrderedDict


class BoundedCache:
    """A thread-safe least-recently-used dict of at most ``size`` entries and,
    when ``max_weight`` is given, at most that much ``weigh(value)`` summed
    (say the characters of rendered HTML), so large values cannot add up
    beyond a budget however few they are."""

    def __init__(self, size, max_weight=None, weigh=len):
        self.size = size
        self.max_weight = max_weight
        self._weigh = weigh
        self._weight = 0
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
            for key, value in entries.items():
                if self.max_weight is not None:
                    if key in self._entries:
                        self._weight -= self._weigh(self._entries[key])
                    self._weight += self._weigh(value)
                self._entries[key] = value
                self._entries.move_to_end(key)
            while len(self._entries) > self.size or (self.max_weight is not None and self._weight > self.max_weight):
                _, value = self._entries.popitem(last=False)
                if self.max_weight is not None:
                    self._weight -= self._weigh(value)

    def get_or_put(self, key, compute):
        """The value under ``key``, compute() kept there first when it is
        missing. compute runs outside the lock: it may use this cache itself
        (a cached block inside a cached block), and two threads missing at
        once both compute, the same value."""
        found = self.get_many([key])
        if key in found:
            return found[key]
        value = compute()
        self.put_many({key: value})
        return value

    def __len__(self):
        return len(self._entries)

    @property
    def weight(self):
        """The summed weight of the entries (0 without a ``max_weight``)."""
        return self._weight

    def clear(self):
        with self._lock:
            self._entries.clear()
            self._weight = 0

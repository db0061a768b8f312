"""Small database reads that every request makes, kept per process for a moment.

Which model versions are active and which import the catalog comes from are
asked by every recommendation answer, and change a few times a day. Each
process reads them again once STATE_RECHECK_SECONDS have passed, so a change
made by another process (an activation in the admin of another worker, an
import) is served within that long. A change made by this process forgets
what was kept (the caller's post_save receiver), so the request that made it
reads the rows afresh; its other threads, like other processes, within that
long (``Recheck.changed``). Inside a transaction the
read always goes to the database: the transaction may have changed the rows
(a test case, an activation's own checks), and what it sees must not outlive it.
"""

import threading
import time

from django.conf import settings
from django.db import connections

_every = []  # every Recheck, for forget_all


def forget_all():
    """Forget what every Recheck keeps (tests, whose databases are emptied between them)."""
    for recheck in _every:
        recheck.forget()


class Recheck:
    """read(alias, *key) -> value, kept per database alias and key for STATE_RECHECK_SECONDS."""

    def __init__(self, read):
        _every.append(self)
        self._read = read
        self._kept = {}  # (alias, *key) -> (monotonic time read, value)
        self._lock = threading.Lock()
        self._generation = 0  # bumped by forget: a read that began before it is not kept

    def get(self, alias, *key):
        if connections[alias].in_atomic_block:
            return self._read(alias, *key)
        slot, now = (alias, *key), time.monotonic()
        kept = self._kept.get(slot)
        if kept is not None and now - kept[0] < settings.STATE_RECHECK_SECONDS:
            return kept[1]
        generation = self._generation
        value = self._read(alias, *key)
        with self._lock:
            if generation == self._generation:
                if len(self._kept) > 256:  # a handful of keys in practice; never grow without end
                    self._kept.clear()
                self._kept[slot] = (now, value)
        return value

    def forget(self):
        """Drop every kept value."""
        with self._lock:
            self._generation += 1
            self._kept.clear()

    def changed(self, **kwargs):
        """A signal receiver: this process changed the rows. Its own thread
        then reads them afresh; another of its threads that read them between
        this change and its commit keeps what it read, like another process,
        for at most STATE_RECHECK_SECONDS."""
        self.forget()

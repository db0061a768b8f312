"""Title search that forgives: accents, case, word order, a typo, a missing space.

Two stages keep it fast at ml-25m size (62k titles). A trigram index over each
title with its spaces removed picks the few hundred titles sharing the most
letter triples with the query (word order and spaces do not matter there);
rapidfuzz then scores only those, and results rank by that score and, among
equally good matches, by how often the movie was rated.
"""

import re
import threading
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

# Titles scored exactly per query; the trigram stage narrows the catalog to these.
CANDIDATES = 400
# Scores (0-100) below this are not matches at all.
MIN_SCORE = 60
# A match this far below the best one is dropped, so "godfathr" lists
# Godfather films rather than every title with "father" in it.
MAX_BEHIND_BEST = 25
# Scores within this many points count as equally good; popularity decides.
SCORE_STEP = 4


def normalize(text):
    """Lower case without accents or punctuation: "Á köldum klaka" -> "a koldum klaka"."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return re.sub(r"[^0-9a-z]+", " ", plain).strip()


def trigrams(compact):
    return {compact[i : i + 3] for i in range(len(compact) - 2)}


@dataclass(frozen=True)
class Match:
    movie_id: int
    score: int


class TitleIndex:
    """The searchable titles of one catalog, built once per process and catalog."""

    def __init__(self, movies):
        """``movies``: (movie id, title, year, rating count) tuples."""
        self.ids = np.array([m[0] for m in movies], dtype=np.int64)
        self.popularity = np.array([m[3] for m in movies], dtype=np.int64)
        self.spaced = [normalize(f"{title} {year or ''}") for _, title, year, _ in movies]
        self.compact = [text.replace(" ", "") for text in self.spaced]
        postings = defaultdict(list)
        word_starts = defaultdict(set)
        for position, (spaced, compact) in enumerate(zip(self.spaced, self.compact, strict=True)):
            for gram in trigrams(compact):
                postings[gram].append(position)
            for word in spaced.split():
                word_starts[word[:1]].add(position)
                word_starts[word[:2]].add(position)
        self.postings = {gram: np.array(rows, dtype=np.int32) for gram, rows in postings.items()}
        # For queries of one or two letters, which have no trigram.
        self.word_starts = {start: np.array(sorted(rows), dtype=np.int32) for start, rows in word_starts.items()}

    def __len__(self):
        return len(self.ids)

    def search(self, query, limit=None):
        """Matches best first; an empty list when nothing is close enough."""
        spaced = normalize(query)
        compact = spaced.replace(" ", "")
        if not compact:
            return []
        rows = self._candidates(compact)
        if rows.size == 0:
            return []
        texts_spaced = [self.spaced[row] for row in rows]
        texts_compact = [self.compact[row] for row in rows]
        by_words = process.cdist([spaced], texts_spaced, scorer=fuzz.token_set_ratio, workers=1)[0]
        by_letters = process.cdist([compact], texts_compact, scorer=fuzz.partial_ratio, workers=1)[0]
        scores = np.maximum(by_words, by_letters)
        floor = max(MIN_SCORE, scores.max() - MAX_BEHIND_BEST)
        keep = scores >= floor
        rows, scores = rows[keep], scores[keep]
        # Sort by score band, then popularity, then title, all descending but the title.
        bands = np.floor(scores / SCORE_STEP)
        order = np.lexsort((rows, -self.popularity[rows], -bands))
        matches = [Match(int(self.ids[rows[i]]), int(round(scores[i]))) for i in order]
        return matches[:limit] if limit else matches

    def _candidates(self, compact):
        if len(compact) < 3:
            # Too short for trigrams: titles with a word starting with it, most rated first.
            rows = self.word_starts.get(compact, np.array([], dtype=np.int32))
            if rows.size > CANDIDATES:
                rows = rows[np.argsort(-self.popularity[rows], kind="stable")[:CANDIDATES]]
            return rows
        query_grams = trigrams(compact)
        grams = [self.postings[gram] for gram in query_grams if gram in self.postings]
        if not grams:
            return np.array([], dtype=np.int32)
        shared = np.bincount(np.concatenate(grams), minlength=len(self.ids))
        # A title must share at least half of the query's trigrams.
        enough = np.flatnonzero(shared * 2 >= len(query_grams))
        if enough.size > CANDIDATES:
            best = np.argpartition(-shared[enough], CANDIDATES)[:CANDIDATES]
            enough = enough[best]
        return enough.astype(np.int32)


_indexes = {}
_lock = threading.Lock()


def index_for(key, load_movies):
    """The index for ``key`` (e.g. the dataset's fingerprint), built on first use
    from ``load_movies()``; one per process, rebuilt when the key changes."""
    index = _indexes.get(key)
    if index is None:
        with _lock:
            index = _indexes.get(key)
            if index is None:
                index = TitleIndex(load_movies())
                _indexes.clear()
                _indexes[key] = index
    return index

"""Title search that forgives: accents, case, word order, a typo, a missing space.

Two stages keep it fast at ml-25m size (62k titles). A trigram index over each
title with its spaces removed picks the titles sharing at least half of the
query's letter triples (word order and spaces do not matter there); rapidfuzz
then scores only those (a title holding the query's letters outright needs no
scoring), and results rank by that score and, among equally good matches, by
how often the movie was rated. Every candidate is scored, so the number of
matches a page shows is exact.
"""

import re
import threading
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

# Matches a search page lists at most: enough for any person, few enough to rank per query.
MAX_RESULTS = 1000
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


@dataclass(frozen=True)
class Found:
    """The best matches of a query (as many as asked for) and how many titles match in all."""

    matches: list
    total: int


class TitleIndex:
    """The searchable titles of one catalog, built once per process and catalog."""

    def __init__(self, movies):
        """``movies``: (movie id, title, year, rating count) tuples."""
        self.ids = np.array([m[0] for m in movies], dtype=np.int64)
        self.popularity = np.array([m[3] for m in movies], dtype=np.int64)
        # Object arrays: a query's candidate texts are gathered by one fancy index, not a Python loop.
        self.spaced = np.array([normalize(f"{title} {year or ''}") for _, title, year, _ in movies], dtype=object)
        self.compact = np.array([text.replace(" ", "") for text in self.spaced], dtype=object)
        self.padded = np.array([f" {text}" for text in self.spaced], dtype=object)  # a space before every word
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
        return self.find(query, limit).matches

    def find(self, query, limit=None):
        """The best ``limit`` matches (all without one), best first, and the number of matches in all.
        Every candidate is scored: a cap on the candidates would cap the count
        too, and leave out equally good titles at random."""
        spaced = normalize(query)
        compact = spaced.replace(" ", "")
        if not compact:
            return Found([], 0)
        rows = self._candidates(compact)
        if rows.size == 0:
            return Found([], 0)
        scores = self._scores(spaced, compact, rows)
        floor = max(MIN_SCORE, scores.max() - MAX_BEHIND_BEST)
        keep = scores >= floor
        rows, scores = rows[keep], scores[keep]
        # Sort by score band, then popularity, then title, all descending but the title.
        bands = np.floor(scores / SCORE_STEP)
        order = np.lexsort((rows, -self.popularity[rows], -bands))[:limit]
        best = zip(self.ids[rows[order]].tolist(), np.rint(scores[order]).astype(np.int64).tolist(), strict=True)
        return Found([Match(movie_id, score) for movie_id, score in best], int(rows.size))

    def _scores(self, spaced, compact, rows):
        """Each row's score: the better of its words' and its letters' similarity to the query."""
        texts_compact = self.compact[rows]
        # A title holding the query's letters scores 100 (partial_ratio's best) without rapidfuzz:
        # common words ("the", "love") have thousands of those at ml-25m size. Letters that
        # start no word of it, or run across a space ("lo|st ar|k" for "star"), score a band less.
        scores = np.array([compact in text for text in texts_compact], dtype=np.float64) * 100
        held = np.flatnonzero(scores)
        padded = f" {spaced}"
        scores[held] -= (
            np.array([padded not in text for text in self.padded[rows[held]]], dtype=np.float64) * SCORE_STEP
        )
        rest = np.flatnonzero(scores == 0)
        if rest.size:
            # Below the floor a score is dropped whatever it is, and with a letter match the floor is
            # known already: rapidfuzz gives up on a title (0) as soon as it cannot reach it.
            cutoff = MIN_SCORE if rest.size == rows.size else max(MIN_SCORE, scores.max() - MAX_BEHIND_BEST)
            words, letters = self.spaced[rows[rest]], texts_compact[rest]
            by_words = process.cdist([spaced], words, scorer=fuzz.token_set_ratio, score_cutoff=cutoff, workers=1)
            by_letters = process.cdist([compact], letters, scorer=fuzz.partial_ratio, score_cutoff=cutoff, workers=1)
            scores[rest] = np.maximum(by_words[0], by_letters[0])
        return scores

    def _candidates(self, compact):
        if len(compact) < 3:
            # Too short for trigrams: titles with a word starting with it.
            return self.word_starts.get(compact, np.array([], dtype=np.int32))
        query_grams = trigrams(compact)
        grams = [self.postings[gram] for gram in query_grams if gram in self.postings]
        if not grams:
            return np.array([], dtype=np.int32)
        shared = np.bincount(np.concatenate(grams), minlength=len(self.ids))
        # A title must share at least half of the query's trigrams.
        return np.flatnonzero(shared * 2 >= len(query_grams)).astype(np.int32)


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

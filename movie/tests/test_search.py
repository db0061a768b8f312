"""Title search forgives accents, case, word order, a typo and a missing space,
and ranks equally good matches by popularity."""

import pytest

from movie.search import TitleIndex, index_for, normalize

# (id, title, year, rating count): real MovieLens titles, counts as in ml-100k.
CATALOG = [
    (50, "Star Wars", 1977, 583),
    (172, "Empire Strikes Back, The", 1980, 367),
    (181, "Return of the Jedi", 1983, 507),
    (271, "Starship Troopers", 1997, 211),
    (127, "Godfather, The", 1972, 413),
    (187, "Godfather: Part II, The", 1974, 209),
    (1367, "Á köldum klaka (Cold Fever)", 1994, 1),
    (1, "Toy Story", 1995, 452),
    (1000, "Return of the Pink Panther, The", 1974, 54),
    (2000, "Stars Fell on Henrietta, The", 1995, 3),
    (174, "Raiders of the Lost Ark", 1981, 420),
    (222, "Star Trek: First Contact", 1996, 365),
]


@pytest.fixture(scope="module")
def index():
    return TitleIndex(CATALOG)


@pytest.mark.parametrize(
    ("query", "movie_id"),
    [
        ("starwars", 50),
        ("star wars 1977", 50),
        ("STAR WARS", 50),
        ("jedi return", 181),
        ("koldum", 1367),
        ("Köldum Klaka", 1367),
        ("godfathr", 127),
        ("toy  story!", 1),
    ],
)
def test_the_intended_movie_comes_first(index, query, movie_id):
    assert index.search(query)[0].movie_id == movie_id


def test_equally_good_matches_rank_by_popularity(index):
    ranked = [match.movie_id for match in index.search("godfather")]
    assert ranked[:2] == [127, 187]


def test_a_query_at_a_word_start_ranks_above_letters_that_run_across_a_space(index):
    # "lo|st ar|k" holds the letters of "star" with the spaces taken out; it is still a match.
    ranked = [match.movie_id for match in index.search("star")]
    assert ranked.index(174) > max(ranked.index(50), ranked.index(222), ranked.index(271))


def test_unrelated_titles_are_not_matches(index):
    assert index.search("zzzz qqqq") == []
    assert 1 not in [match.movie_id for match in index.search("godfathr")]


def test_empty_and_punctuation_only_queries_find_nothing(index):
    assert index.search("") == []
    assert index.search("  ?!  ") == []


def test_one_or_two_letters_match_word_starts(index):
    assert {match.movie_id for match in index.search("to")} == {1}


def test_limit(index):
    assert len(index.search("star", limit=2)) == 2


def test_find_counts_every_match_beyond_the_limit_and_keeps_the_most_rated():
    sequels = TitleIndex([(i, f"The Sequel {i}", 1990, i) for i in range(1, 2001)])
    found = sequels.find("the", limit=10)
    assert found.total == 2000 and [match.movie_id for match in found.matches] == list(range(2000, 1990, -1))
    assert sequels.find("zzzz qqqq").total == 0


def test_normalize_drops_accents_case_and_punctuation():
    assert normalize("Á köldum klaka (Cold Fever)") == "a koldum klaka cold fever"


def test_index_is_built_once_per_key_and_rebuilt_when_it_changes():
    loads = []

    def load():
        loads.append(1)
        return CATALOG

    first = index_for("catalog-a", load)
    assert index_for("catalog-a", load) is first
    assert index_for("catalog-b", load) is not first
    assert len(loads) == 2

"""Onboarding groups: planted clusters come back as groups, each labelled by
its dominant genres and two most rated titles; genres stand in without a model."""

from types import SimpleNamespace

import numpy as np
import pytest

from predictors import onboarding
from predictors.ease import EASE
from predictors.onboarding import Group, cluster_groups, dominant_genres, genre_groups, item_vectors


def planted(n_clusters=3, per_cluster=8, dim=6, seed=0):
    """Three tight clusters of vectors around orthogonal directions; cluster c
    is all "Genre c" (plus "Drama" everywhere); movie ids 100 * c + i."""
    rng = np.random.default_rng(seed)
    ids, vectors, genres_of, popularity, titles = [], [], {}, {}, {}
    for c in range(n_clusters):
        for i in range(per_cluster):
            pk = 100 * c + i
            direction = np.eye(dim)[c]
            ids.append(pk)
            vectors.append(direction * rng.uniform(0.5, 3.0) + rng.normal(0, 0.05, dim))
            genres_of[pk] = (f"Genre {c}", "Drama")
            popularity[pk] = 1000 * (n_clusters - c) - i  # cluster 0 most rated, then 1, then 2
            titles[pk] = f"Movie {pk}"
    return ids, np.array(vectors), popularity, genres_of, titles


def test_planted_clusters_come_back_as_groups_most_rated_first():
    ids, vectors, popularity, genres_of, titles = planted()
    groups = cluster_groups(vectors, ids, popularity, genres_of, titles, n_groups=3)
    assert [set(g.movie_ids) <= {100 * c + i for i in range(8)} for c, g in enumerate(groups)] == [True] * 3
    assert [g.genres[0] for g in groups] == ["Genre 0", "Genre 1", "Genre 2"]
    assert all(len(g.movie_ids) == onboarding.MOVIES_PER_GROUP for g in groups)
    # Inside a group, the most rated first; its two first titles are the examples.
    assert groups[1].movie_ids[:2] == (100, 101)
    assert groups[1].examples == ("Movie 100", "Movie 101")
    assert groups[1].label == "Genre 1: Movie 100, Movie 101"


def test_grouping_is_deterministic():
    ids, vectors, popularity, genres_of, titles = planted(seed=3)
    first = cluster_groups(vectors, ids, popularity, genres_of, titles, n_groups=3)
    assert first == cluster_groups(vectors, ids, popularity, genres_of, titles, n_groups=3)


def test_a_genre_everybody_has_does_not_label_a_group():
    genres_of = {1: ("Drama", "Horror"), 2: ("Drama", "Horror"), 3: ("Drama", "Comedy"), 4: ("Drama", "Comedy")}
    assert dominant_genres([1, 2], [1, 2, 3, 4], genres_of) == ("Horror",)
    # ... unless it is all there is to say.
    assert dominant_genres([1], [1], {1: ("Drama",)}) == ("Drama",)


def test_the_examples_are_the_most_rated_movies_of_the_dominant_genres():
    genres_of = {1: ("Drama",), 2: ("Horror",), 3: ("Horror",), 4: ("Horror",), 5: ("Drama",), 6: ("Drama",)}
    popularity = {pk: 100 - pk for pk in genres_of}
    titles = {pk: f"M{pk}" for pk in genres_of}
    group = onboarding.make_group([1, 2, 3, 4], list(genres_of), popularity, genres_of, titles)
    assert group.genres == ("Horror",) and group.examples == ("M2", "M3")
    assert group.movie_ids[0] == 1  # shown most rated first all the same


def test_no_two_groups_carry_the_same_genres_in_another_order():
    # Two clusters of action romances, the second with some romantic comedies, and dramas around them.
    genres_of = {pk: ("Action", "Romance") for pk in range(1, 11)}
    genres_of.update({pk: ("Romance", "Comedy") for pk in (11, 12)})
    genres_of.update({pk: ("Drama", "Comedy") if pk < 17 else ("Drama",) for pk in range(13, 25)})
    popularity = {pk: 100 - pk for pk in genres_of}
    titles = {pk: f"M{pk}" for pk in genres_of}
    clusters = [list(range(1, 7)), list(range(7, 13)), list(range(13, 25))]
    assert set(dominant_genres(list(range(7, 13)), list(genres_of), genres_of)) == {"Action", "Romance"}
    groups = onboarding.ordered_groups(clusters, list(genres_of), popularity, genres_of, titles, n_groups=3)
    by_first_movie = {group.movie_ids[0]: set(group.genres) for group in groups}
    assert by_first_movie[1] == {"Action", "Romance"}  # the group above keeps its label
    assert by_first_movie[7] == {"Romance", "Comedy"}  # the one below says what sets it apart
    assert len({frozenset(genres) for genres in by_first_movie.values()}) == 3


def test_two_dominant_genres_in_order_of_over_representation():
    genres_of = {1: ("Sci-Fi", "Action"), 2: ("Sci-Fi", "Action"), 3: ("Sci-Fi",), 4: ("Comedy",), 5: ("Comedy",)}
    assert dominant_genres([1, 2, 3], [1, 2, 3, 4, 5], genres_of) == ("Sci-Fi", "Action")
    group = Group(genres=("Sci-Fi", "Action"), examples=("Star Wars", "Alien"), movie_ids=(1, 2))
    assert group.label == "Sci-Fi and Action: Star Wars, Alien"


def test_clusters_too_small_to_pick_from_are_left_out():
    ids, vectors, popularity, genres_of, titles = planted(n_clusters=2, per_cluster=8)
    # One far-away movie on its own: k-means gives it a cluster of one.
    ids, vectors = ids + [999], np.vstack([vectors, np.eye(6)[5] * 5])
    popularity[999], genres_of[999], titles[999] = 10**6, ("Western",), "Loner"
    groups = cluster_groups(vectors, ids, popularity, genres_of, titles, n_groups=3)
    assert all(999 not in g.movie_ids for g in groups) and len(groups) == 2


def test_without_a_model_each_movie_joins_its_rarest_genre():
    genres_of = {1: ("Drama", "War"), 2: ("Drama", "War"), 3: ("Drama", "War"), 4: ("Drama",), 5: ("Drama",)}
    genres_of |= {6: ("Drama",), 7: ("Comedy",), 8: ("Comedy",)}
    popularity = {pk: 100 - pk for pk in genres_of}
    titles = {pk: f"M{pk}" for pk in genres_of}
    groups = genre_groups(list(genres_of), popularity, genres_of, titles)
    # Comedy has only two movies: too few to pick from.
    assert [set(g.movie_ids) for g in groups] == [{1, 2, 3}, {4, 5, 6}]
    assert groups[0].genres[0] == "War" and groups[1].genres == ("Drama",)


def test_ease_groups_movies_that_predict_the_same_movies():
    # Users 0-9 watch items 0-3, users 10-19 items 4-7: two blocks of B.
    users = np.repeat(np.arange(20), 4)
    items = np.concatenate([np.arange(4) if u < 10 else np.arange(4, 8) for u in range(20)])
    model = EASE(20, 8, users, items).fit(l2=1.0)
    vectors = item_vectors(model, list(range(8)))
    assert vectors.shape[0] == 8
    ids = list(range(8))
    genres_of = {i: ("A",) if i < 4 else ("B",) for i in ids}
    groups = cluster_groups(vectors, ids, {i: 10 - i for i in ids}, genres_of, {i: str(i) for i in ids}, 2)
    assert sorted(set(g.movie_ids) for g in groups) == [{0, 1, 2, 3}, {4, 5, 6, 7}]


@pytest.mark.django_db
def test_the_site_groups_by_genre_until_a_model_is_trained(catalog, fresh_predictors):
    onboarding.clear_cache()
    groups = onboarding.site_groups("ease")
    assert groups.source == onboarding.FROM_GENRES
    assert groups.groups and all(len(g.genres) >= 1 and len(g.examples) == 2 for g in groups.groups)


def test_vectors_that_cannot_be_clustered_give_genre_groups(catalog):
    import torch

    ids = onboarding.catalog_candidates()[0]
    broken = SimpleNamespace(cached_item_side=lambda items: torch.full((len(items), 4), float("nan")))
    loaded = SimpleNamespace(
        index={pk: i for i, pk in enumerate(ids)}, model=broken, version=SimpleNamespace(label="gmf:1")
    )
    groups = onboarding.model_groups(loaded)
    assert groups.source == onboarding.FROM_GENRES and groups.groups


def test_nan_vectors_are_refused_rather_than_clustered():
    ids, vectors, popularity, genres_of, titles = planted()
    vectors[0, 0] = np.nan
    with pytest.raises(ValueError):
        cluster_groups(vectors, ids, popularity, genres_of, titles)


def test_a_group_can_show_its_movies_by_another_score_and_names_the_most_rated_it_shows():
    genres_of = {pk: ("Drama",) for pk in range(1, 9)}
    popularity = {pk: 100 - pk for pk in genres_of}
    telling = {pk: float(pk) for pk in genres_of}  # the least rated first
    titles = {pk: f"M{pk}" for pk in genres_of}
    group = onboarding.make_group(list(genres_of), list(genres_of), popularity, genres_of, titles, shown_by=telling)
    assert group.movie_ids == (8, 7, 6, 5, 4, 3)[: onboarding.MOVIES_PER_GROUP]
    assert group.examples == ("M3", "M4")  # never a title the group does not show


def test_a_large_groups_label_describes_the_movies_it_shows():
    # Ten members: the six most rated (shown) are comedies, the four others horror, rare among all candidates.
    genres_of = {pk: ("Comedy",) for pk in range(1, 7)} | {pk: ("Horror",) for pk in range(7, 11)}
    everyone = {**genres_of, **{pk: ("Comedy",) for pk in range(11, 31)}}
    popularity = {pk: 100 - pk for pk in everyone}
    titles = {pk: f"M{pk}" for pk in everyone}
    group = onboarding.make_group(list(genres_of), list(everyone), popularity, everyone, titles)
    assert group.movie_ids == (1, 2, 3, 4, 5, 6)
    assert group.genres == ("Comedy",) and group.examples == ("M1", "M2")
    assert {titles[pk] for pk in group.movie_ids} >= set(group.examples)


@pytest.mark.django_db
def test_counts_given_stand_in_for_the_catalogs_rating_counts(catalog):
    from movie.catalog import catalog_movies

    movies = list(catalog_movies())
    assert onboarding.catalog_candidates(n=3)[0] == [movie.pk for movie in movies[:3]]  # most rated
    # The benchmark's training users' counts: a movie the catalog ranks last comes first.
    last, second = movies[-1].pk, movies[1].pk
    ids, counts, genres_of, titles = onboarding.catalog_candidates(counts={last: 50, second: 7}, n=3)
    assert ids[:2] == [last, second] and counts[last] == 50 and titles[last] == movies[-1].title
    assert ids[2] == movies[0].pk and counts[ids[2]] == 0  # uncounted: the catalog's order, counted 0


def test_the_sites_groups_and_their_labels_are_the_same_at_every_reload(catalog, fresh_predictors):
    onboarding.clear_cache()
    first = onboarding.site_groups("ease")
    onboarding.clear_cache()  # as another process, or the next version of the catalog, makes them again
    assert onboarding.site_groups("ease") == first
    titles = onboarding.catalog_candidates()[3]
    for group in first.groups:
        assert set(group.examples) <= {titles[pk] for pk in group.movie_ids}

"""What the import keeps beyond titles: tags, TMDB ids and each movie's
rating histogram, in the layouts that have them."""

import pytest
from django.core.management import call_command

from movie.models import Movie, MovieTag, Tag
from movie.tests.test_load_movielens import ML100K_FILES, MLLATEST_FILES, write_files

pytestmark = pytest.mark.django_db

TAGS_CSV = (
    "userId,movieId,tag,timestamp\r\n"
    "1,1,pixar,1139045764\r\n"
    "2,1,Pixar,1139045765\r\n"
    "3,1,  pixar ,1139045766\r\n"
    '4,1,"funny, clever",1139045767\r\n'
    "4,2,politics,1139045768\r\n"
    "4,2,!!!,1139045769\r\n"
    "4,999,not in the movie list,1139045770\r\n"
)


def import_files(tmp_path, files, dataset="ml-latest-small"):
    call_command("load_movielens", dataset=dataset, path=str(write_files(tmp_path / dataset, files)), verbosity=0)
    return {movie.source_id: movie for movie in Movie.objects.filter(dataset__name=dataset)}


def test_tags_are_counted_per_movie_across_spellings(tmp_path):
    movies = import_files(tmp_path, {**MLLATEST_FILES, "tags.csv": TAGS_CSV})
    toy_story = {row.tag.name: row.count for row in MovieTag.objects.filter(movie=movies[1]).select_related("tag")}
    assert toy_story == {"pixar": 2 + 1, "funny, clever": 1}  # "Pixar" and " pixar " are the same tag
    assert Tag.objects.get(slug="pixar").name == "pixar"  # the most common spelling
    assert [row.tag.slug for row in MovieTag.objects.filter(movie=movies[2])] == ["politics"]  # "!!!" has no letters


def test_reimporting_replaces_the_tag_counts(tmp_path):
    import_files(tmp_path, {**MLLATEST_FILES, "tags.csv": TAGS_CSV})
    movies = import_files(
        tmp_path / "again", {**MLLATEST_FILES, "tags.csv": "userId,movieId,tag,timestamp\n1,2,satire,1\n"}
    )
    assert list(MovieTag.objects.values_list("movie_id", "tag__slug", "count")) == [(movies[2].pk, "satire", 1)]


def test_tmdb_ids_come_from_links(tmp_path):
    movies = import_files(tmp_path, MLLATEST_FILES)
    assert movies[1].tmdb_id == 862 and movies[1].tmdb_url == "https://www.themoviedb.org/movie/862"
    assert movies[3].tmdb_id is None and movies[3].tmdb_url == ""


def test_rating_histogram_per_half_star(tmp_path):
    movies = import_files(tmp_path, MLLATEST_FILES)
    assert movies[1].rating_histogram == [0, 0, 0, 0, 0, 0, 0, 1, 1, 0]  # 4.0 and 4.5
    assert movies[3].rating_histogram == [1] + [0] * 9  # one 0.5


def test_layouts_without_tags_import_none(tmp_path):
    movies = import_files(tmp_path, ML100K_FILES, dataset="ml-100k")
    assert not MovieTag.objects.exists()
    assert movies[1].rating_histogram[9] == 1  # one 5-star rating of Toy Story

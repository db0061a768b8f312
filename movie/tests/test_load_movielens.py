"""The catalog import: every supported layout, where files come from, and
what happens when they are bad."""

import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from functools import partial

import pytest
from django.core.management import CommandError, call_command

from movie import datasets
from movie.models import Dataset, Genre, Interaction, Movie
from tests.services import REPO_DIR

pytestmark = pytest.mark.django_db

# Three movies, four ratings, in each layout's own spelling.
ML100K_FILES = {
    "u.genre": "unknown|0\nAction|1\nComedy|2\n\n",
    "u.item": (
        "1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|0|0|1\n"
        "2|Usual Suspects, The (1995)|14-Aug-1995||http://us.imdb.com/x|0|1|0\n"
        "3|unknown||||1|0|0\n"
    ),
    "u.data": "10\t1\t5\t881250949\n10\t2\t3\t881250950\n11\t1\t4\t881250951\n12\t3\t1\t881250952\n",
}
ML1M_FILES = {
    "movies.dat": (
        "1::Toy Story (1995)::Animation|Children's|Comedy\n"
        "2::Heat (1995)::Action|Crime|Thriller\n"
        "3::Sabrina (1995)::Comedy|Romance\n"
    ),
    "ratings.dat": "1::1::5::978300760\n1::2::3::978302109\n2::1::4::978301968\n3::3::1::978300275\n",
    "users.dat": "1::F::1::10::48067\n",
}
MLLATEST_FILES = {
    "movies.csv": (
        "movieId,title,genres\n"
        "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
        '2,"American President, The (1995)",Comedy|Drama|Romance\n'
        "3,Some Film Without Year,(no genres listed)\n"
    ),
    "links.csv": "movieId,imdbId,tmdbId\n1,0114709,862\n2,0112346,9087\n3,,\n",
    "ratings.csv": (
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,3.5,964981247\n2,1,4.5,964982224\n5,3,0.5,964983815\n"
    ),
}
LAYOUTS = {"ml-100k": ML100K_FILES, "ml-1m": ML1M_FILES, "ml-latest-small": MLLATEST_FILES, "ml-25m": MLLATEST_FILES}


def write_files(directory, files):
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(
            text, encoding="latin-1" if name.endswith((".dat", ".item", ".genre")) else "utf-8"
        )
    return directory


def zip_directory(directory, archive, folder):
    with zipfile.ZipFile(archive, "w") as zf:
        for path in directory.iterdir():
            zf.write(path, f"{folder}/{path.name}")
    return archive


def catalog_snapshot(name):
    movies = Movie.objects.filter(dataset__name=name).order_by("source_id")
    return [
        (
            m.source_id,
            m.title,
            m.year,
            m.imdb_url,
            m.rating_count,
            m.rating_mean,
            sorted(g.name for g in m.genres.all()),
        )
        for m in movies
    ], sorted(
        Interaction.objects.filter(dataset__name=name).values_list("user_id", "movie__source_id", "rating", "timestamp")
    )


@pytest.mark.parametrize("name", LAYOUTS)
def test_each_layout_imports_movies_genres_and_ratings(tmp_path, name):
    path = write_files(tmp_path / name, LAYOUTS[name])
    call_command("load_movielens", dataset=name, path=str(path), verbosity=0)

    dataset = Dataset.objects.get(name=name)
    assert (dataset.n_movies, dataset.n_users, dataset.n_interactions) == (3, 3, 4)
    movies, ratings = catalog_snapshot(name)
    assert movies[0][1:3] == ("Toy Story", 1995)
    assert movies[0][4] == 2 and movies[0][5] == pytest.approx(
        (5 + 4) / 2 if name in ("ml-100k", "ml-1m") else (4.0 + 4.5) / 2
    )
    assert len(ratings) == 4


def test_titles_are_tidied_and_genres_and_imdb_links_kept(tmp_path):
    call_command(
        "load_movielens", dataset="ml-latest-small", path=str(write_files(tmp_path / "s", MLLATEST_FILES)), verbosity=0
    )
    movies, _ = catalog_snapshot("ml-latest-small")
    assert movies[0][3] == "https://www.imdb.com/title/tt0114709/"
    assert movies[0][6] == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    assert movies[1][1:3] == ("The American President", 1995)
    assert movies[2][1:4] == ("Some Film Without Year", None, "")
    assert movies[2][6] == []  # "(no genres listed)" is not a genre


def test_ml100k_unknown_genre_and_missing_date(tmp_path):
    call_command("load_movielens", dataset="ml-100k", path=str(write_files(tmp_path / "k", ML100K_FILES)), verbosity=0)
    movies, _ = catalog_snapshot("ml-100k")
    assert movies[1][1] == "The Usual Suspects"
    assert movies[2][1:3] == ("unknown", None)
    assert movies[2][6] == []
    assert not Genre.objects.filter(name="unknown").exists()


def test_grouplens_zip_is_read_directly(tmp_path):
    directory = write_files(tmp_path / "ml-1m", ML1M_FILES)
    archive = zip_directory(directory, tmp_path / "ml-1m.zip", "ml-1m")
    call_command("load_movielens", dataset="ml-1m", path=str(archive), verbosity=0)
    assert Dataset.objects.get(name="ml-1m").n_interactions == 4


def test_running_twice_changes_nothing(tmp_path, capsys):
    path = write_files(tmp_path / "k", ML100K_FILES)
    call_command("load_movielens", dataset="ml-100k", path=str(path), verbosity=0)
    before = catalog_snapshot("ml-100k"), list(Movie.objects.values_list("pk", flat=True).order_by("pk"))
    call_command("load_movielens", dataset="ml-100k", path=str(path), verbosity=0)
    assert "nothing changed" in capsys.readouterr().out
    assert (catalog_snapshot("ml-100k"), list(Movie.objects.values_list("pk", flat=True).order_by("pk"))) == before


def test_changed_files_update_movies_in_place(tmp_path):
    path = write_files(tmp_path / "k", ML100K_FILES)
    call_command("load_movielens", dataset="ml-100k", path=str(path), verbosity=0)
    toy_story_pk = Movie.objects.get(source_id=1).pk
    (path / "u.data").write_text(ML100K_FILES["u.data"] + "13\t1\t2\t881250999\n")
    call_command("load_movielens", dataset="ml-100k", path=str(path), verbosity=0)
    toy_story = Movie.objects.get(source_id=1)
    assert toy_story.pk == toy_story_pk  # visitor events keep pointing at it
    assert toy_story.rating_count == 3
    assert Interaction.objects.count() == 5


@pytest.mark.parametrize(
    "file_name, bad_text, line, reason",
    [
        ("u.data", "10\t1\t5\t881250949\n10\tx\t3\t881250950\n", 2, "must be numbers"),
        ("u.data", "10\t1\t5\n", 1, "expected 4 fields"),
        ("u.data", "10\t1\t9\t881250949\n", 1, "outside 0–5"),
        ("u.data", "10\t99\t5\t881250949\n", 1, "movie 99, which is not in the movie list"),
        ("u.item", "1|Toy Story (1995)|01-Jan-1995||url|0|0|7\n", 1, "genre flags"),
    ],
)
def test_a_malformed_file_leaves_the_database_as_it_was(tmp_path, file_name, bad_text, line, reason):
    good = write_files(tmp_path / "good", ML100K_FILES)
    call_command("load_movielens", dataset="ml-100k", path=str(good), verbosity=0)
    before = catalog_snapshot("ml-100k")

    bad = write_files(tmp_path / "bad", {**ML100K_FILES, file_name: bad_text})
    with pytest.raises(CommandError) as error:
        call_command("load_movielens", dataset="ml-100k", path=str(bad), verbosity=0)
    message = str(error.value)
    assert f"{file_name}, line {line}" in message and reason in message
    assert "left as it was" in message
    assert catalog_snapshot("ml-100k") == before


def test_bad_arguments_give_one_sentence(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("load_movielens", dataset="ml-100k", path=str(tmp_path / "nowhere"), verbosity=0)
    with pytest.raises(CommandError, match="not ml-1m"):
        call_command(
            "load_movielens", dataset="ml-1m", path=str(write_files(tmp_path / "k", ML100K_FILES)), verbosity=0
        )
    with pytest.raises(CommandError, match="Unknown dataset 'ml-5k'; choose one of"):
        call_command("load_movielens", dataset="ml-5k", verbosity=0)
    assert not Dataset.objects.exists()


def test_command_line_exit_code_and_message(tmp_path):
    """What a person at the terminal sees: one sentence, no traceback, exit 1."""
    result = subprocess.run(
        [sys.executable, "manage.py", "load_movielens", "--dataset", "ml-100k", "--path", str(tmp_path / "nowhere")],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        env={**os.environ, "SQLITE_PATH": str(tmp_path / "db.sqlite3")},
    )
    assert result.returncode == 1
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_the_real_ml100k(ml100k_dir):
    call_command("load_movielens", dataset="ml-100k", path=str(ml100k_dir), verbosity=0)
    dataset = Dataset.objects.get(name="ml-100k")
    assert (dataset.n_movies, dataset.n_users, dataset.n_interactions) == (1682, 943, 100_000)
    star_wars = Movie.objects.get(dataset=dataset, source_id=50)
    assert (star_wars.title, star_wars.year, star_wars.rating_count) == ("Star Wars", 1977, 583)
    assert star_wars.rating_mean == pytest.approx(4.3585, abs=1e-4)
    assert {g.name for g in star_wars.genres.all()} == {"Action", "Adventure", "Romance", "Sci-Fi", "War"}
    assert Genre.objects.count() == 18


# --- Where the files come from ----------------------------------------------------------


@pytest.fixture
def file_server(tmp_path):
    """A real HTTP server on a free loopback port, standing in for GroupLens."""
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/datasets/"
    server.shutdown()
    server.server_close()


def publish(root, tmp_path, name, files, checksum=None):
    directory = write_files(tmp_path / "src" / name, files)
    (root / "datasets").mkdir(exist_ok=True)
    archive = zip_directory(directory, root / "datasets" / f"{name}.zip", name)
    md5 = checksum or hashlib.md5(archive.read_bytes()).hexdigest()
    (root / "datasets" / f"{name}.zip.md5").write_text(f"{md5}  {name}.zip\n")


def test_download_from_grouplens_with_checksum(tmp_path, file_server, settings):
    root, url = file_server
    publish(root, tmp_path, "ml-latest-small", MLLATEST_FILES)
    settings.MOVIELENS_BASE_URL, settings.MOVIELENS_CACHE_DIR, settings.MOVIELENS_DIR = url, tmp_path / "cache", ""
    call_command("load_movielens", dataset="ml-latest-small", verbosity=0)
    assert Dataset.objects.get(name="ml-latest-small").n_interactions == 4
    assert (tmp_path / "cache" / "ml-latest-small.zip").exists()
    # The next run finds the cached archive: the server is not needed any more.
    shutil.rmtree(root / "datasets")
    located = datasets.locate("ml-latest-small", cache_dir=tmp_path / "cache", base_url=url)
    assert located.how == "cache"


def test_download_with_a_wrong_checksum_is_refused_and_not_kept(tmp_path, file_server, settings):
    root, url = file_server
    publish(root, tmp_path, "ml-1m", ML1M_FILES, checksum="0" * 32)
    settings.MOVIELENS_BASE_URL, settings.MOVIELENS_CACHE_DIR, settings.MOVIELENS_DIR = url, tmp_path / "cache", ""
    with pytest.raises(CommandError, match="failed its checksum"):
        call_command("load_movielens", dataset="ml-1m", verbosity=0)
    assert not (tmp_path / "cache" / "ml-1m.zip").exists()
    assert not Dataset.objects.exists()


def test_movielens_dir_is_used_before_the_cache(tmp_path, settings):
    write_files(tmp_path / "env" / "ml-1m", ML1M_FILES)
    located = datasets.locate(
        "ml-1m",
        env_dir=tmp_path / "env",
        cache_dir=tmp_path / "cache",
        base_url="http://127.0.0.1:9/",
        allow_download=False,
    )
    assert located.how == "MOVIELENS_DIR"


def test_nothing_found_offline_lists_what_was_tried(tmp_path, settings):
    settings.MOVIELENS_CACHE_DIR, settings.MOVIELENS_DIR = tmp_path / "cache", ""
    with pytest.raises(CommandError) as error:
        call_command("load_movielens", dataset="ml-25m", no_download=True, verbosity=0)
    assert "ml-25m.zip does not exist" in str(error.value) and "--path" in str(error.value)


def test_recbole_wheel_layout(tmp_path):
    """ml-100k as packed in the recbole wheel (same prefix and headers)."""
    wheel = tmp_path / datasets.RECBOLE_WHEEL_FILE
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(
            f"{datasets.RECBOLE_ML100K_DIR}/ml-100k.item",
            "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
            "1\tToy Story\t1995\tAnimation Children's Comedy\n"
            "2\tUsual Suspects, The\t1995\tCrime Thriller\n",
        )
        zf.writestr(
            f"{datasets.RECBOLE_ML100K_DIR}/ml-100k.inter",
            "user_id:token\titem_id:token\trating:float\ttimestamp:float\n196\t1\t3\t881250949\n186\t2\t5\t891717742\n",
        )
    source = datasets.FileSource(wheel, datasets.RECBOLE_ML100K_DIR + "/")
    layout = datasets.detect_layout(source, "ml-100k")
    movies = list(layout.movies())
    assert [(m.title, m.year, m.genres) for m in movies] == [
        ("Toy Story", 1995, ["Animation", "Children's", "Comedy"]),
        ("The Usual Suspects", 1995, ["Crime", "Thriller"]),
    ]
    assert list(layout.ratings()) == [(196, 1, 3.0, 881250949), (186, 2, 5.0, 891717742)]


def test_recbole_wheel_with_a_wrong_digest_is_refused(tmp_path):
    (tmp_path / datasets.RECBOLE_WHEEL_FILE).write_bytes(b"not the wheel")
    with pytest.raises(datasets.DatasetError, match="expected 9c99"):
        datasets.fetch_recbole_wheel(tmp_path)

"""Reading the GroupLens MovieLens datasets in their original layouts.

Four datasets, three layouts:
- ml-100k          u.item (latin-1, '|'), u.genre, u.data (tab-separated)
- ml-1m            movies.dat, ratings.dat (latin-1, '::'-separated)
- ml-latest-small,
  ml-25m           movies.csv, ratings.csv, links.csv (UTF-8 CSV with headers)
plus the copy of ml-100k inside the recbole wheel (RecBole "atomic files"),
which makes a first start possible without internet.

Where the files come from is decided by ``locate()``: an explicit path, the
MOVIELENS_DIR directory, the cache, a GroupLens download (checksum verified),
and for ml-100k the recbole wheel from the package index. Everything here
streams: ml-25m's 25M ratings are never held in memory at once.
"""

import csv
import hashlib
import io
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

log = logging.getLogger(__name__)

DATASET_NAMES = ("ml-100k", "ml-latest-small", "ml-1m", "ml-25m")

# The recbole wheel ships ml-100k; its digest is pinned so a tampered or
# different file is refused.
RECBOLE_WHEEL = "recbole==1.2.1"
RECBOLE_WHEEL_FILE = "recbole-1.2.1-py3-none-any.whl"
RECBOLE_WHEEL_SHA256 = "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407"
RECBOLE_ML100K_DIR = "recbole/dataset_example/ml-100k"

IMDB_TITLE_URL = "https://www.imdb.com/title/tt{:07d}/"
NO_GENRE = {"unknown", "(no genres listed)", ""}
_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:[-–]\d{0,4})?\)\s*$")
_TRAILING_ARTICLE = re.compile(r"^(?P<rest>.+), (?P<article>The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El)$")


class DatasetError(Exception):
    """A dataset could not be found, fetched or read; the message says why."""


class DatasetFormatError(DatasetError):
    def __init__(self, source, line_number, reason):
        self.source, self.line_number, self.reason = source, line_number, reason
        super().__init__(f"{source}, line {line_number}: {reason}")


@dataclass
class MovieRow:
    source_id: int
    title: str
    year: int | None
    genres: list[str] = field(default_factory=list)
    imdb_url: str = ""
    tmdb_id: int | None = None


# --- Where the files are ------------------------------------------------------------


class FileSource:
    """A dataset's files, in a directory or inside a zip archive (possibly
    under a folder such as ``ml-100k/``)."""

    def __init__(self, location, member_prefix=""):
        self.location = Path(location)
        self.is_zip = zipfile.is_zipfile(self.location) if self.location.is_file() else False
        self.member_prefix = member_prefix
        if self.is_zip:
            self._zip = zipfile.ZipFile(self.location)
            self._members = {
                PurePosixPath(name).name: name
                for name in self._zip.namelist()
                if not name.endswith("/") and name.startswith(member_prefix)
            }
        elif not self.location.is_dir():
            raise DatasetError(f"{self.location} is neither a directory nor a zip file.")

    def __repr__(self):
        return f"FileSource({self.location})"

    def has(self, name):
        return name in self._members if self.is_zip else (self.location / name).is_file()

    def describe(self, name):
        if self.is_zip:
            return f"{self.location}:{self._members.get(name, name)}"
        return str(self.location / name)

    def open_binary(self, name):
        if not self.has(name):
            raise DatasetError(f"{self.describe(name)} is missing.")
        if self.is_zip:
            return self._zip.open(self._members[name])
        return open(self.location / name, "rb")

    def open_text(self, name, encoding):
        # newline="" keeps csv's own line handling; for the other layouts it
        # changes nothing because lines are split by the reader below.
        return io.TextIOWrapper(self.open_binary(name), encoding=encoding, newline="")

    def sha256(self, names):
        digest = hashlib.sha256()
        for name in names:
            with self.open_binary(name) as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
        return digest.hexdigest()


# --- Layouts ------------------------------------------------------------------------------


class Layout:
    """How one family of datasets spells movies and ratings."""

    name = ""
    marker = ""  # a file whose presence identifies the layout
    files = ()  # the files that make up the data (fingerprinted)

    def __init__(self, source: FileSource):
        self.source = source

    def movies(self):
        raise NotImplementedError

    def ratings(self):
        """Yields (user_id, movie_source_id, rating, timestamp)."""
        raise NotImplementedError

    def tags(self):
        """Yields (movie_source_id, tag) for each tag a user applied; most layouts have none."""
        return iter(())

    def fingerprint(self):
        return self.source.sha256(name for name in self.files if self.source.has(name))

    def _lines(self, name, encoding, separator, n_fields, skip_header=False):
        """Yields (line_number, fields); a wrong field count is a format error."""
        where = self.source.describe(name)
        with self.source.open_text(name, encoding) as handle:
            for number, line in enumerate(handle, start=1):
                if skip_header and number == 1:
                    continue
                line = line.rstrip("\r\n")
                if not line.strip():
                    continue
                fields = line.split(separator)
                if len(fields) < n_fields:
                    raise DatasetFormatError(
                        where, number, f"expected {n_fields} fields separated by {separator!r}, found {len(fields)}"
                    )
                yield number, fields

    def _csv_rows(self, name, columns):
        """Yields (line_number, row) from a UTF-8 CSV with a header naming ``columns``."""
        where = self.source.describe(name)
        with self.source.open_text(name, "utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None or [c.strip() for c in header[: len(columns)]] != list(columns):
                raise DatasetFormatError(where, 1, f"expected the header {','.join(columns)}")
            for row in reader:
                if not row:
                    continue
                if len(row) < len(columns):
                    raise DatasetFormatError(
                        where, reader.line_num, f"expected {len(columns)} columns, found {len(row)}"
                    )
                yield reader.line_num, row

    def _ratings_from_lines(self, name, encoding, separator, skip_header=False):
        """Rating tuples from a delimited file of user, movie, rating, timestamp."""
        for number, fields in self._lines(name, encoding, separator, 4, skip_header=skip_header):
            yield self._rating_tuple(name, number, *fields[:4])

    def _rating_tuple(self, name, number, user, movie, rating, timestamp):
        # The file's description only when there is an error to describe: a million lines, one call each.
        try:
            values = (int(user), int(movie), float(rating), int(float(timestamp)))
        except ValueError:
            raise DatasetFormatError(
                self.source.describe(name), number, "user, movie and timestamp must be numbers"
            ) from None
        if not 0 <= values[2] <= 5:
            raise DatasetFormatError(self.source.describe(name), number, f"rating {rating} is outside 0–5")
        return values


class ML100K(Layout):
    name = "ml-100k"
    marker = "u.data"
    files = ("u.item", "u.genre", "u.data")

    def _genre_names(self):
        names = {}
        for number, fields in self._lines("u.genre", "latin-1", "|", 2):
            try:
                names[int(fields[1])] = fields[0]
            except ValueError:
                raise DatasetFormatError(
                    self.source.describe("u.genre"), number, "genre index must be a number"
                ) from None
        return [names[i] for i in sorted(names)]

    def movies(self):
        genres = self._genre_names()
        where = self.source.describe("u.item")
        for number, fields in self._lines("u.item", "latin-1", "|", 5 + len(genres)):
            flags = fields[5 : 5 + len(genres)]
            if any(flag not in ("0", "1") for flag in flags):
                raise DatasetFormatError(where, number, "genre flags must be 0 or 1")
            title, year = split_title(fields[1])
            if year is None and fields[2][-4:].isdigit():
                year = int(fields[2][-4:])
            yield MovieRow(
                source_id=parse_int(fields[0], where, number, "movie id"),
                title=title,
                year=year,
                genres=[g for g, flag in zip(genres, flags, strict=True) if flag == "1" and g not in NO_GENRE],
                imdb_url=fields[4].strip(),
            )

    def ratings(self):
        yield from self._ratings_from_lines("u.data", "latin-1", "\t")


class ML1M(Layout):
    name = "ml-1m"
    marker = "ratings.dat"
    files = ("movies.dat", "ratings.dat")

    def movies(self):
        where = self.source.describe("movies.dat")
        for number, fields in self._lines("movies.dat", "latin-1", "::", 3):
            title, year = split_title(fields[1])
            yield MovieRow(
                source_id=parse_int(fields[0], where, number, "movie id"),
                title=title,
                year=year,
                genres=split_genres(fields[2]),
            )

    def ratings(self):
        yield from self._ratings_from_lines("ratings.dat", "latin-1", "::")


class MLLatest(Layout):
    """ml-latest-small and ml-25m (and ml-latest, ml-20m) share this layout."""

    name = "ml-latest"
    marker = "ratings.csv"
    # The ratings file stays last: import errors name it as files[-1].
    files = ("movies.csv", "links.csv", "tags.csv", "ratings.csv")

    def _links(self):
        """{movieId: (IMDb URL, TMDB id)} from links.csv, where the dataset has it."""
        if not self.source.has("links.csv"):
            return {}
        links = {}
        where = self.source.describe("links.csv")
        for number, row in self._csv_rows("links.csv", ("movieId", "imdbId")):
            imdb = IMDB_TITLE_URL.format(parse_int(row[1], where, number, "imdbId")) if row[1].strip() else ""
            tmdb = parse_int(row[2], where, number, "tmdbId") if len(row) > 2 and row[2].strip() else None
            links[parse_int(row[0], where, number, "movieId")] = (imdb, tmdb)
        return links

    def movies(self):
        links = self._links()
        where = self.source.describe("movies.csv")
        for number, row in self._csv_rows("movies.csv", ("movieId", "title", "genres")):
            source_id = parse_int(row[0], where, number, "movieId")
            title, year = split_title(row[1])
            imdb, tmdb = links.get(source_id, ("", None))
            yield MovieRow(source_id, title, year, split_genres(row[2]), imdb, tmdb)

    def tags(self):
        if not self.source.has("tags.csv"):
            return
        where = self.source.describe("tags.csv")
        for number, row in self._csv_rows("tags.csv", ("userId", "movieId", "tag")):
            yield parse_int(row[1], where, number, "movieId"), row[2]

    def ratings(self):
        for number, row in self._csv_rows("ratings.csv", ("userId", "movieId", "rating", "timestamp")):
            yield self._rating_tuple("ratings.csv", number, *row[:4])


class RecBoleML100K(Layout):
    """ml-100k as shipped in the recbole wheel: tab-separated with typed headers."""

    name = "ml-100k (recbole)"
    marker = "ml-100k.inter"
    files = ("ml-100k.item", "ml-100k.inter")

    def movies(self):
        where = self.source.describe("ml-100k.item")
        for number, fields in self._lines("ml-100k.item", "utf-8", "\t", 4, skip_header=True):
            year = int(fields[2]) if fields[2].isdigit() else None
            title = tidy_title(fields[1].strip())
            yield MovieRow(parse_int(fields[0], where, number, "item id"), title, year, split_genres(fields[3], " "))

    def ratings(self):
        yield from self._ratings_from_lines("ml-100k.inter", "utf-8", "\t", skip_header=True)


LAYOUTS = (ML100K, ML1M, MLLatest, RecBoleML100K)
EXPECTED_LAYOUTS = {
    "ml-100k": (ML100K, RecBoleML100K),
    "ml-1m": (ML1M,),
    "ml-latest-small": (MLLatest,),
    "ml-25m": (MLLatest,),
}


def detect_layout(source: FileSource, dataset_name) -> Layout:
    for layout in EXPECTED_LAYOUTS[dataset_name]:
        if source.has(layout.marker):
            return layout(source)
    found = [layout.marker for layout in LAYOUTS if source.has(layout.marker)]
    expected = " or ".join(layout.marker for layout in EXPECTED_LAYOUTS[dataset_name])
    hint = f" (it looks like another dataset: found {', '.join(found)})" if found else ""
    raise DatasetError(f"{source.location} has no {expected}, so it is not {dataset_name}{hint}.")


# --- Small parsers --------------------------------------------------------------------


def parse_int(text, where, number, what):
    try:
        return int(text)
    except ValueError:
        raise DatasetFormatError(where, number, f"{what} {text!r} is not a number") from None


def tidy_title(title):
    """'Usual Suspects, The' -> 'The Usual Suspects' (GroupLens sorts articles last)."""
    match = _TRAILING_ARTICLE.match(title)
    if match:
        article = match["article"]
        joiner = "" if article.endswith("'") else " "
        return f"{article}{joiner}{match['rest']}"
    return title


def split_title(raw):
    """'Toy Story (1995)' -> ('Toy Story', 1995); titles without a year keep None."""
    raw = raw.strip()
    match = _TITLE_YEAR.match(raw)
    if match:
        return tidy_title(match["title"].strip()), int(match["year"])
    return tidy_title(raw), None


def split_genres(raw, separator="|"):
    return [g for g in (part.strip() for part in raw.split(separator)) if g not in NO_GENRE]


# --- Finding the files ------------------------------------------------------------------


@dataclass
class Located:
    source: FileSource
    how: str  # "path", "MOVIELENS_DIR", "cache", "download", "recbole wheel"

    @property
    def description(self):
        return f"{self.source.location} ({self.how})"


def locate(dataset_name, *, path=None, env_dir=None, cache_dir, base_url, allow_download=True, progress=None):
    """Find a dataset's files, in the documented order. Raises DatasetError
    with every place that was tried when none works."""
    if dataset_name not in DATASET_NAMES:
        raise DatasetError(f"Unknown dataset {dataset_name!r}; choose one of {', '.join(DATASET_NAMES)}.")
    if path:
        path = Path(path)
        if not path.exists():
            raise DatasetError(f"--path {path} does not exist.")
        return Located(_source_for(path, dataset_name), "path")

    tried = []
    candidates = []
    if env_dir:
        candidates += [(Path(env_dir) / dataset_name, "MOVIELENS_DIR"), (Path(env_dir), "MOVIELENS_DIR")]
    cache_dir = Path(cache_dir)
    candidates += [(cache_dir / dataset_name, "cache"), (cache_dir / f"{dataset_name}.zip", "cache")]
    for candidate, how in candidates:
        if candidate.exists():
            try:
                return Located(_source_for(candidate, dataset_name), how)
            except DatasetError as exc:
                tried.append(str(exc))
        else:
            tried.append(f"{candidate} does not exist")

    if allow_download:
        try:
            archive = download(dataset_name, cache_dir, base_url, progress=progress)
            return Located(_source_for(archive, dataset_name), "download")
        except DatasetError as exc:
            tried.append(str(exc))
        if dataset_name == "ml-100k":
            try:
                wheel = fetch_recbole_wheel(cache_dir)
                return Located(FileSource(wheel, RECBOLE_ML100K_DIR + "/"), "recbole wheel")
            except DatasetError as exc:
                tried.append(str(exc))
    raise DatasetError(f"Could not find {dataset_name}. Tried: " + "; ".join(tried) + ". Pass --path DIR_OR_ZIP.")


def _source_for(path, dataset_name):
    source = FileSource(path, _zip_prefix(path, dataset_name))
    detect_layout(source, dataset_name)
    return source


def _zip_prefix(path, dataset_name):
    """GroupLens zips hold one folder named after the dataset."""
    if Path(path).is_file() and zipfile.is_zipfile(path):
        names = zipfile.ZipFile(path).namelist()
        if any(name.startswith(dataset_name + "/") for name in names):
            return dataset_name + "/"
    return ""


def _fetch(url, destination, progress=None, timeout=30):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(destination, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            with (progress or no_progress)(
                total=total or None, desc=f"download {Path(url).name}", unit="B", unit_scale=True
            ) as bar:
                for chunk in iter(lambda: response.read(1 << 16), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
    except OSError as exc:  # URLError, HTTPError and socket errors are OSErrors
        raise DatasetError(f"download of {url} failed: {exc}") from None


def download(dataset_name, cache_dir, base_url, progress=None):
    """Download ``<base_url><name>.zip`` into the cache, verified against the
    ``.zip.md5`` file GroupLens publishes beside it."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    url = base_url.rstrip("/") + f"/{dataset_name}.zip"
    with tempfile.TemporaryDirectory(dir=cache_dir) as scratch:
        checksum_file = Path(scratch) / "checksum"
        _fetch(url + ".md5", checksum_file)
        expected = checksum_file.read_text(errors="replace").split()
        expected = next((word.lower() for word in expected if re.fullmatch(r"[0-9a-fA-F]{32}", word)), None)
        if expected is None:
            raise DatasetError(f"{url}.md5 holds no MD5 checksum")
        archive = Path(scratch) / f"{dataset_name}.zip"
        _fetch(url, archive, progress=progress)
        actual = file_digest(archive, "md5")
        if actual != expected:
            raise DatasetError(f"{url} failed its checksum (expected md5 {expected}, got {actual}); nothing was kept")
        final = cache_dir / f"{dataset_name}.zip"
        shutil.move(archive, final)
    log.info("downloaded %s to %s", url, final)
    return final


def fetch_recbole_wheel(cache_dir):
    """The recbole wheel from the package index (not installed: only read)."""
    cache_dir = Path(cache_dir)
    wheel = cache_dir / RECBOLE_WHEEL_FILE
    if not wheel.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-q",
            "-d",
            str(cache_dir),
            RECBOLE_WHEEL,
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 or not wheel.exists():
            raise DatasetError(f"pip download {RECBOLE_WHEEL} failed: {result.stderr.strip()[-300:] or 'no wheel'}")
    actual = file_digest(wheel, "sha256")
    if actual != RECBOLE_WHEEL_SHA256:
        raise DatasetError(f"{wheel} has sha256 {actual}, expected {RECBOLE_WHEEL_SHA256}; delete it and retry")
    return wheel


def no_progress(**kwargs):
    """A progress bar that shows nothing (tqdm's own, disabled)."""
    from tqdm import tqdm

    return tqdm(disable=True, **kwargs)


def file_digest(path, algorithm):
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()

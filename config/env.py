"""Typed readers for settings that come from the environment.

Kept apart from settings.py so that tests can exercise the parsing rules
(booleans, lists, database URLs) without reloading Django's settings.
"""

import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import quote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_str(name, default=""):
    return os.environ.get(name, default)


def env_bool(name, default=False):
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}.")


def _env_number(name, default, convert, kind):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return convert(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be {kind}; got {raw!r}.") from None


def env_int(name, default):
    return _env_number(name, default, int, "a whole number")


def env_float(name, default):
    return _env_number(name, default, float, "a number")


def env_list(name, default=()):
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [part.strip() for part in raw.split(",") if part.strip()]


# The schemes the site ships drivers and tests for; dj-database-url reads more.
DATABASE_SCHEMES = ("sqlite", "mysql", "mariadb")
dj_database_url.register("mariadb", "django.db.backends.mysql")(dj_database_url.apply_ssl_ca)


def database_from_url(url):
    """Turn ``mysql://user:pass@host:port/name`` or ``sqlite:///path`` into a
    Django DATABASES entry (dj-database-url's reading), with MySQL in utf8mb4
    and host and port defaulting to 127.0.0.1:3306."""
    parts = urlsplit(url)
    if parts.scheme not in DATABASE_SCHEMES:
        raise ImproperlyConfigured(
            f"DATABASE_URL scheme {parts.scheme!r} is not supported; use sqlite:/// or mysql://."
        )
    if not parts.path.lstrip("/"):
        if parts.scheme == "sqlite":
            raise ImproperlyConfigured("DATABASE_URL sqlite:// needs a file path, e.g. sqlite:///var/db.sqlite3.")
        raise ImproperlyConfigured(
            "DATABASE_URL for MySQL needs a database name, e.g. mysql://root@127.0.0.1:3306/movies."
        )
    database = dj_database_url.parse(url)
    if parts.scheme == "sqlite":
        return database
    database["HOST"] = database["HOST"] or "127.0.0.1"
    database["PORT"] = str(database["PORT"] or 3306)
    database.setdefault("OPTIONS", {}).setdefault("charset", "utf8mb4")
    database["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
    return database


def local_secret_key(path: Path):
    """A random key kept in a git-ignored file, created on first use.

    This lets a fresh clone run without anyone inventing a secret, while the
    key never appears in the repository. Production sets DJANGO_SECRET_KEY.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if key:
            return key
        # A concurrent first start may not have written it yet; fall through.
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "w") as handle:
        key = secrets.token_urlsafe(50)
        handle.write(key)
    return key


def unwritable_reason(folder: Path):
    """Why nothing can be created in ``folder`` (the OS's words), or None when
    it can or does not exist yet. Tried for real: root ignores permission bits."""
    if not folder.is_dir():
        return None
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as error:
        return os.strerror(error.errno) if error.errno else str(error)
    return None


def on_read_only_mount(folder: Path):
    """Whether ``folder`` is on a file system mounted read-only (nobody can change what is there)."""
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def sqlite_read_only_name(path: Path):
    """An SQLite URI that opens ``path`` for reading only, in a folder where
    SQLite cannot create its -wal and -shm files, with why it opens that way.

    immutable=1 (SQLite reads without locks and assumes nothing changes) is
    right only where nothing can change the file: on a read-only mount. In a
    folder another owner can still write, immutable would serve stale pages,
    so the reader shares the writer's -wal/-shm with plain mode=ro. Without
    those files (no writer has the file open) and no way to create them,
    mode=ro cannot open a WAL database at all; then the connection opens
    immutable and ``fresh_each_request`` says to close it after the request,
    so a change shows from the next request. Decided per connection
    (config/sqlite_read_only), since the files come and go with the writer.
    Returns (uri, fresh_each_request, reason)."""
    uri = f"file:{quote(str(path))}?mode=ro"
    if on_read_only_mount(path.parent):
        return uri + "&immutable=1", False, "its folder is on a read-only mount: opened immutable"
    if all(path.with_name(path.name + suffix).exists() for suffix in ("-wal", "-shm")):
        return uri, False, "another owner may write it: opened mode=ro, sharing the writer's -wal/-shm"
    return (
        uri + "&immutable=1",
        True,
        "no -wal/-shm files to share and none can be made: opened immutable for one request at a time",
    )

"""Settings come from the environment, with safe defaults and no secrets in code."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import database_from_url, env_bool, local_secret_key
from tests.services import REPO_DIR


def settings_in_subprocess(env, expression):
    """Evaluate ``expression`` against config.settings in a fresh interpreter."""
    code = f"import config.settings as s; print(repr({expression}))"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_DIR, env={**clean, **env}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_debug_is_off_unless_asked_for(tmp_path):
    env = {"APP_VAR_DIR": str(tmp_path)}
    assert settings_in_subprocess(env, "s.DEBUG") == "False"
    assert settings_in_subprocess({**env, "DJANGO_DEBUG": "1"}, "s.DEBUG") == "True"


def test_secret_key_from_environment_or_a_private_generated_file(tmp_path):
    env = {"APP_VAR_DIR": str(tmp_path)}
    assert settings_in_subprocess({**env, "DJANGO_SECRET_KEY": "from-env"}, "s.SECRET_KEY") == "'from-env'"
    generated = settings_in_subprocess(env, "s.SECRET_KEY")
    assert len(generated) > 50
    assert settings_in_subprocess(env, "s.SECRET_KEY") == generated  # stable across starts
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_no_secret_or_database_host_in_the_code():
    settings_text = (REPO_DIR / "config" / "settings.py").read_text()
    assert 'SECRET_KEY = "' not in settings_text and "SECRET_KEY = '" not in settings_text
    assert "127.0.0.1:3306" not in settings_text


def test_sqlite_by_default_mysql_from_database_url(tmp_path):
    env = {"APP_VAR_DIR": str(tmp_path)}
    assert "sqlite3" in settings_in_subprocess(env, "s.DATABASES['default']['ENGINE']")
    mysql = {**env, "DATABASE_URL": "mysql://movie:p%40ss@db.example:3307/movies"}
    assert settings_in_subprocess(mysql, "s.DATABASES['default']['ENGINE']") == "'django.db.backends.mysql'"
    assert (
        settings_in_subprocess(mysql, "(s.DATABASES['default']['HOST'], s.DATABASES['default']['PASSWORD'])")
        == "('db.example', 'p@ss')"
    )


def test_allowed_hosts_and_https_settings(tmp_path):
    env = {
        "APP_VAR_DIR": str(tmp_path),
        "DJANGO_ALLOWED_HOSTS": "movies.example, www.movies.example",
        "DJANGO_HTTPS": "1",
    }
    assert settings_in_subprocess(env, "s.ALLOWED_HOSTS") == "['movies.example', 'www.movies.example']"
    assert (
        settings_in_subprocess(env, "(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT)")
        == "(True, True, True)"
    )


def test_importing_settings_contacts_nothing(tmp_path):
    """A broker or database that does not exist must not stop the site from booting."""
    env = {
        "APP_VAR_DIR": str(tmp_path),
        "DATABASE_URL": "mysql://nobody@127.0.0.1:1/none",
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
    }
    code = "import django; django.setup(); from django.urls import resolve; resolve('/'); print('booted')"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": "config.settings"},
    )
    assert result.returncode == 0, result.stderr
    assert "booted" in result.stdout


@pytest.mark.parametrize("raw, expected", [("1", True), ("yes", True), ("off", False), ("", False)])
def test_env_bool(monkeypatch, raw, expected):
    monkeypatch.setenv("X_FLAG", raw)
    assert env_bool("X_FLAG") is expected


def test_env_bool_rejects_nonsense(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env_bool("X_FLAG")


def test_database_url_errors_are_clear():
    with pytest.raises(ImproperlyConfigured, match="not supported"):
        database_from_url("postgres://x/y")
    with pytest.raises(ImproperlyConfigured, match="database name"):
        database_from_url("mysql://root@127.0.0.1:3306/")
    assert database_from_url("sqlite:///var/x.db")["NAME"] == "var/x.db"


def test_mysql_urls_default_to_utf8mb4_and_the_local_server():
    database = database_from_url("mariadb://movie@/movies?ssl-ca=/etc/ca.pem")
    assert database["ENGINE"] == "django.db.backends.mysql"
    assert (database["HOST"], database["PORT"], database["NAME"]) == ("127.0.0.1", "3306", "movies")
    assert database["OPTIONS"] == {"charset": "utf8mb4", "ssl": {"ca": "/etc/ca.pem"}}
    assert database["TEST"] == {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
    assert database_from_url("mysql://movie@db/movies?charset=latin1")["OPTIONS"]["charset"] == "latin1"


def test_local_secret_key_is_created_once(tmp_path):
    path = tmp_path / "k"
    assert local_secret_key(path) == local_secret_key(path)


def test_sqlite_reads_immutable_only_on_a_read_only_mount(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from config.env import sqlite_read_only_name

    path = tmp_path / "db.sqlite3"
    uri, fresh_each_request, _ = sqlite_read_only_name(path)
    assert "immutable=1" in uri and fresh_each_request  # no -wal/-shm to share: one request at a time
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).touch()
    uri, fresh_each_request, reason = sqlite_read_only_name(path)
    assert uri.endswith("?mode=ro") and not fresh_each_request and "mode=ro" in reason
    monkeypatch.setattr(os, "statvfs", lambda folder: SimpleNamespace(f_flag=os.ST_RDONLY))
    uri, fresh_each_request, reason = sqlite_read_only_name(path)
    assert uri.endswith("&immutable=1") and not fresh_each_request and "read-only mount" in reason

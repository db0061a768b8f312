"""Processes that serve no model (migrate, check, the event consumer, the
admin) start without torch or DGL: a consumer process should not carry a few
hundred MB of libraries it never calls."""

import json
import subprocess
import sys
from pathlib import Path

from tests.services import run_for_json

REPO_DIR = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter: this test process has long imported torch.
PROBE = """
import json, sys
import django
django.setup()
from django.core.management import call_command, load_command_class
from django.test import Client

call_command("migrate", "--noinput", verbosity=0)
call_command("check", verbosity=0)
call_command("migrate", "--check", verbosity=0)
for app, name in [("events", "consume_events"), ("events", "drain_outbox"),
                  ("predictors", "queue_missing_models"), ("movie", "load_movielens")]:
    load_command_class(app, name)
Client().get("/admin/login/")
print(json.dumps({name: name in sys.modules for name in ("torch", "dgl")}))
"""


def test_migrate_check_commands_and_the_admin_do_not_import_torch_or_dgl(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "APP_VAR_DIR": str(tmp_path),
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "LOG_LEVEL": "WARNING",
    }
    imported, _ = run_for_json(["-c", PROBE], env, timeout=300)
    assert imported == {"torch": False, "dgl": False}

"""Settings for the movie recommendation site.

Everything that differs between a laptop and production comes from the
environment (see README, "Environment variables"). The defaults are the safe,
zero-setup ones: SQLite under var/, DEBUG off, no broker, no cloud services.
Nothing here opens a connection: brokers and databases are contacted lazily.
"""

from datetime import timedelta
from pathlib import Path

from config.env import (
    database_from_url,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
    local_secret_key,
    sqlite_read_only_name,
    unwritable_reason,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("APP_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY") or local_secret_key(VAR_DIR / "secret_key")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "sitewide",
    "movie",
    "events",
    "predictors",
    "experiments",
    "paper_review",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "sitewide.throttling.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything that reads the database: the short wait, and a 503 for a refused write.
    "sitewide.database.DatabaseBusyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "sitewide.errors.MethodNotAllowedMiddleware",
    # Last of the site's own middleware, as django-axes asks.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "sitewide.context_processors.site_navigation",
                "predictors.context_processors.model_navigation",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# DATABASE_URL=mysql://user:password@host:3306/name switches to MySQL/MariaDB.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": database_from_url(DATABASE_URL)}
else:
    SQLITE_PATH = Path(env_str("SQLITE_PATH", str(VAR_DIR / "db.sqlite3")))
    # A data folder the site cannot write (a read-only mount, another owner):
    # the file is opened read-only, so pages that only read keep working and
    # writes fail with a sentence (503); events/data_folder.py says so at start.
    # How it opens (immutable or mode=ro) is decided per connection
    # (config/sqlite_read_only): immutable only where nothing can change it.
    SQLITE_READ_ONLY_REASON = unwritable_reason(SQLITE_PATH.parent)
    DATABASES = {
        "default": {
            "ENGINE": "config.sqlite_read_only" if SQLITE_READ_ONLY_REASON else "django.db.backends.sqlite3",
            "NAME": sqlite_read_only_name(SQLITE_PATH)[0] if SQLITE_READ_ONLY_REASON else str(SQLITE_PATH),
            "READ_ONLY_PATH": str(SQLITE_PATH),
            # Several web workers and the event consumer share the file (WAL). A
            # writer waits at most SQLITE_BUSY_TIMEOUT_SECONDS for a lock (the
            # consumer and background writes; they retry), a web request at most
            # SQLITE_WEB_BUSY_TIMEOUT_SECONDS (sitewide.database.DatabaseBusyMiddleware),
            # so a locked file slows a page by a second, not tens of them.
            # synchronous=NORMAL: a commit survives a killed process without an
            # fsync each (only a power loss can drop the last ones).
            "OPTIONS": {
                "timeout": env_float("SQLITE_BUSY_TIMEOUT_SECONDS", 5.0),
                # Read-only: no journal mode to set (it would be a write).
                "init_command": ""
                if SQLITE_READ_ONLY_REASON
                else "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
SQLITE_WEB_BUSY_TIMEOUT_SECONDS = env_float("SQLITE_WEB_BUSY_TIMEOUT_SECONDS", 1.0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Seconds a request thread keeps its connection (0: a new one per request,
# which on SQLite also re-runs the PRAGMAs and re-registers its functions).
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "movie:home"
LOGOUT_REDIRECT_URL = "movie:home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (WhiteNoise serves them in production) ----------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(VAR_DIR / "static")))
# WhiteNoise warns on every request while the folder is missing.
try:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
except OSError:
    pass  # a read-only data folder: reported at start (events/data_folder.py)
# Hashed, compressed file names once `collectstatic` has written its manifest
# (production); plain names before that (tests, a fresh checkout).
_COLLECTED = (STATIC_ROOT / "staticfiles.json").exists()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env_str(
            "DJANGO_STATICFILES_STORAGE",
            "config.static_storage.CompressedManifestStorage" if _COLLECTED else "config.static_storage.PlainStorage",
        )
    },
}
# Before collectstatic (a fresh checkout, `./run serve`) WhiteNoise serves the
# files straight from static/ and the apps, so the site works without DEBUG.
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", not _COLLECTED)

# --- Security -------------------------------------------------------------------
# DJANGO_HTTPS=1 when the site is served over TLS (directly or behind a proxy
# that sets X-Forwarded-Proto).
HTTPS = env_bool("DJANGO_HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("DJANGO_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if HTTPS and env_bool("DJANGO_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
# The pages hand the CSRF token to JavaScript in a <meta> tag, so no script reads the cookie.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No inline script anywhere (the admin's own included); inline styles stay for
# the admin's templates and the generated SVG posters.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Log-in throttling (django-axes): a username tried from one address with this
# many wrong passwords is refused for the cool-off, before any password hashing.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "sitewide.throttling.lockout_response"
AXES_VERBOSE = False
# Sign-up attempts per client address and hour.
SIGNUP_RATE_LIMIT = env_int("SIGNUP_RATE_LIMIT", 5)
# Request bodies larger than this are refused by Django before any view runs.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DJANGO_MAX_BODY_BYTES", 256 * 1024)

# --- MovieLens catalog ------------------------------------------------------------
# The dataset whose movies the site shows and the models train on.
MOVIELENS_DATASET = env_str("MOVIELENS_DATASET", "ml-100k")
# A directory holding extracted GroupLens datasets (e.g. $MOVIELENS_DIR/ml-100k/u.data).
MOVIELENS_DIR = env_str("MOVIELENS_DIR")
MOVIELENS_CACHE_DIR = Path(env_str("MOVIELENS_CACHE_DIR", str(VAR_DIR / "datasets")))
MOVIELENS_BASE_URL = env_str("MOVIELENS_BASE_URL", "https://files.grouplens.org/datasets/movielens/")
MOVIELENS_DOWNLOAD = env_bool("MOVIELENS_DOWNLOAD", True)

# --- Logging --------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"skip_unavailable_database": {"()": "sitewide.log_filters.SkipUnavailableDatabase"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"filters": ["skip_unavailable_database"]},
        "kafka": {"level": "WARNING"},
        "botocore": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}

# --- Cache ------------------------------------------------------------------------
# Rate limits, "Popular now", cached recommendations and read-your-writes live
# here: Redis through Django's RedisCache when REDIS_URL is set (every process
# shares it), else each process's memory (the zero-setup default).
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "movie"),
            # A Redis that is down must slow nothing for long: short socket timeouts.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "movie"}}

# --- Events -----------------------------------------------------------------------
# Clicks, detail views and ratings (the events app). Without a broker the
# events are written straight to the click-log store ("inline").
KAFKA_BOOTSTRAP_SERVERS = env_list("KAFKA_BOOTSTRAP_SERVERS")
KAFKA_TOPIC = env_str("KAFKA_TOPIC", "movie-events")
KAFKA_TOPIC_PARTITIONS = env_int("KAFKA_TOPIC_PARTITIONS", 3)
# Copies of each partition when ensure_topic creates the topic (3 on a production cluster).
KAFKA_TOPIC_REPLICATION = env_int("KAFKA_TOPIC_REPLICATION", 1)
KAFKA_CONSUMER_GROUP = env_str("KAFKA_CONSUMER_GROUP", "clicklog-writer")
KAFKA_SECURITY_PROTOCOL = env_str("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
KAFKA_SEND_RETRIES = env_int("KAFKA_SEND_RETRIES", 5)
# A request waits this long for the broker's acknowledgement of its events;
# without one they go to the outbox, and for KAFKA_RETRY_SECONDS after a failure
# requests write the outbox straight away instead of waiting on the broker.
KAFKA_ACK_TIMEOUT_MS = env_int("KAFKA_ACK_TIMEOUT_MS", 800)
KAFKA_RETRY_SECONDS = env_int("KAFKA_RETRY_SECONDS", 5)
KAFKA_LINGER_MS = env_int("KAFKA_LINGER_MS", 1)
# With the hand-off no request waits for the broker, so the producer gathers
# records this long into each produce request: kafka-python's network thread
# costs per request, not per record (docs/tuning.md, "Kafka path").
KAFKA_HANDOFF_LINGER_MS = env_int("KAFKA_HANDOFF_LINGER_MS", 50)
# Write every event to the outbox before sending it, not only the unacknowledged
# ones: for a broker that can lose acknowledged messages (no durable storage, one
# replica). Costs two more database writes per event.
KAFKA_OUTBOX_FIRST = env_bool("KAFKA_OUTBOX_FIRST", False)
# Off (the default): a request answers once its events are in the local hand-off
# journal and handed to the producer, without waiting for the broker
# (events/journal.py: the journal keeps them until acknowledged, unacknowledged
# ones go to the outbox). On: each request waits for the broker's ack.
KAFKA_WAIT_FOR_ACK = env_bool("KAFKA_WAIT_FOR_ACK", False)
# How long the producer keeps trying to deliver a handed-off event before the
# outbox takes it (kafka-python's delivery_timeout_ms).
KAFKA_DELIVERY_TIMEOUT_MS = env_int("KAFKA_DELIVERY_TIMEOUT_MS", 15_000)
# One folder per machine, shared by its web processes and its consumer, which
# run as one user: segments are owner-only (they hold visitors' events).
EVENTS_JOURNAL_DIR = Path(env_str("EVENTS_JOURNAL_DIR", str(VAR_DIR / "events-journal")))
# How long a client waits for the first broker contact before giving up.
KAFKA_CONNECT_TIMEOUT_MS = env_int("KAFKA_CONNECT_TIMEOUT_MS", 10_000)
KAFKA_MAX_POLL_INTERVAL_MS = env_int("KAFKA_MAX_POLL_INTERVAL_MS", 300_000)
# A consumer that died (SIGKILL, a lost host) keeps its partitions this long
# before the group hands them to the other members (at most the poll interval).
KAFKA_SESSION_TIMEOUT_MS = env_int("KAFKA_SESSION_TIMEOUT_MS", 10_000)
# A consumer without partitions this long (say after a broker lost its topics)
# is rebuilt: the topic is created again and the group rejoined.
KAFKA_NO_ASSIGNMENT_TIMEOUT_SECONDS = env_int("KAFKA_NO_ASSIGNMENT_TIMEOUT_SECONDS", 60)
# The click-log store: a module with a Store class, "events.stores.sql" (the
# ClickEvent table) or "events.stores.dynamodb"; "sql" and "dynamodb" still work.
CLICKLOG_STORE = env_str("CLICKLOG_STORE", "events.stores.sql")
DYNAMODB_TABLE = env_str("DYNAMODB_TABLE", "movie-click-log")
AWS_REGION = env_str("AWS_REGION", "us-east-1")
# Only for a local stand-in (moto, DynamoDB Local); empty means the real AWS endpoint.
AWS_ENDPOINT_URL = env_str("AWS_ENDPOINT_URL")
DYNAMODB_WRITE_CONCURRENCY = env_int("DYNAMODB_WRITE_CONCURRENCY", 8)
# Attempts per DynamoDB call, first one included, retried by botocore in this
# retry mode ("standard", or "adaptive" to also slow down while throttled).
DYNAMODB_MAX_ATTEMPTS = env_int("DYNAMODB_MAX_ATTEMPTS", 6)
DYNAMODB_RETRY_MODE = env_str("DYNAMODB_RETRY_MODE", "standard")
# Request limits for POST /api/events.
EVENTS_MAX_BODY_BYTES = env_int("EVENTS_MAX_BODY_BYTES", 16 * 1024)
EVENTS_MAX_BATCH = env_int("EVENTS_MAX_BATCH", 50)
# Events per visitor and per client address in each window, counted in the
# cache (shared by every process with REDIS_URL, per process without).
EVENTS_RATE_LIMIT = env_int("EVENTS_RATE_LIMIT", 600)
EVENTS_RATE_LIMIT_PER_ADDRESS = env_int("EVENTS_RATE_LIMIT_PER_ADDRESS", 3000)
EVENTS_RATE_WINDOW_SECONDS = env_int("EVENTS_RATE_WINDOW_SECONDS", 60)
# Outbox rows sent again and still unconfirmed after this long are sent once more.
EVENTS_OUTBOX_RESEND_SECONDS = env_int("EVENTS_OUTBOX_RESEND_SECONDS", 30)
# With Kafka, a visitor's acknowledged events are kept this long in the cache so
# their pages show them before the consumer has stored them (read-your-writes).
EVENTS_RECENT_SECONDS = env_int("EVENTS_RECENT_SECONDS", 300)
# The catalog's movie ids are cached per process for this long (a click is checked against them).
EVENTS_MOVIE_IDS_SECONDS = env_int("EVENTS_MOVIE_IDS_SECONDS", 300)
# "Popular now" (predictors/popularity.py): distinct visitors per movie in each
# bucket, kept up to date by the store as events arrive and summed over the
# window. The dataset's most rated movie counts as POPULAR_DATASET_VOTES such
# visitors, so a quiet site shows the dataset's favourites and a busy one its
# own. A new bucket size starts the counts afresh.
POPULAR_WINDOW_HOURS = max(1, env_int("POPULAR_WINDOW_HOURS", 24))
POPULAR_BUCKET_MINUTES = max(1, env_int("POPULAR_BUCKET_MINUTES", 60))
POPULAR_DATASET_VOTES = env_int("POPULAR_DATASET_VOTES", 4)
# One process computes the list per interval; the others read it from the cache.
POPULAR_CACHE_SECONDS = env_int("POPULAR_CACHE_SECONDS", 30)
# Recount in a background thread once the list is stale (the request gets the previous one).
POPULAR_REFRESH_IN_BACKGROUND = env_bool("POPULAR_REFRESH_IN_BACKGROUND", True)
# A JSON answer when an /api/ write lacks its CSRF token, the site's page with a way back for a form.
CSRF_FAILURE_VIEW = "sitewide.errors.csrf_failure"
# Anonymous visitors are told apart by a signed random id in this cookie, set
# by the first page they load (events/visitors.py); no session row is created.
EVENTS_VISITOR_COOKIE_NAME = env_str("EVENTS_VISITOR_COOKIE_NAME", "visitor_id")
# The id expires (checked on the server too); login and logout retire it at once.
EVENTS_VISITOR_COOKIE_AGE_SECONDS = env_int("EVENTS_VISITOR_COOKIE_AGE_SECONDS", 90 * 24 * 3600)
MIDDLEWARE = [*MIDDLEWARE, "events.visitors.VisitorCookieMiddleware"]

# --- Model registry -----------------------------------------------------------------
# Where trained model artifacts go: a directory, or s3://bucket/prefix (boto3
# reads AWS credentials from its usual environment variables / config files).
MODEL_STORE_URI = env_str("MODEL_STORE_URI", str(VAR_DIR / "models"))
# An S3-compatible endpoint (MinIO, moto in tests); empty means AWS itself.
MODEL_STORE_ENDPOINT_URL = env_str("MODEL_STORE_ENDPOINT_URL")
# Each process reads which model versions are active, and which import the
# catalog is, again after this many seconds (sitewide/recheck.py): an
# activation or import made by another process is served within it.
STATE_RECHECK_SECONDS = env_float("STATE_RECHECK_SECONDS", 1.0)
# torch threads for train_model/evaluate_model (0 keeps torch's own choice). One is
# fastest on a small shared machine: the tensors are small, thread hand-offs dear.
MODEL_TRAINING_THREADS = env_int("MODEL_TRAINING_THREADS", 1)
# A running training job whose worker reported no epoch for this long (and is
# not a process of this host, which is checked directly) is marked failed.
TRAINING_JOB_STALE_SECONDS = env_int("TRAINING_JOB_STALE_SECONDS", 6 * 3600)
# Training jobs queued from the admin wait in the database (django-tasks'
# database backend) for `manage.py run_training_jobs` (or `db_worker`).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# The model behind "Viewers also watched" on a movie's page (predictors/related.py);
# empty: no such section. EASE is not offered above 20k movies (ml-25m): use gmf there.
ALSO_WATCHED_MODEL = env_str("ALSO_WATCHED_MODEL", "ease")
# The model behind "For you"; empty: the active model with the best evaluation NDCG@10.
PRIMARY_MODEL = env_str("PRIMARY_MODEL")
# A visitor's rating at or below this many stars is a dislike: fold-in takes the
# movie as a negative, never as a like (predictors/serving.py).
FOLD_IN_DISLIKE_AT = env_float("FOLD_IN_DISLIKE_AT", 2.0)

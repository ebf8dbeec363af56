"""Settings read from the environment.

With nothing set, the console runs on its embedded defaults: a SQLite file under
``var/``, and the Redis and Kafka endpoints that the launcher (``python -m eda_console.launch``)
starts and exports.
"""

from pathlib import Path

import dj_database_url

from eda_console.env import env_bool, env_choice, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("EDA_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and env_bool("EDA_REQUIRE_SECRET_KEY", False):
        raise RuntimeError("SECRET_KEY must be set when EDA_REQUIRE_SECRET_KEY=1")
    # Development and tests only: a production deployment sets SECRET_KEY.
    SECRET_KEY = "eda-console-insecure-development-key-change-me"  # noqa: S105
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "template_partials",
    "django_htmx",
    "channels",
    "apps.eventstore",
    "apps.orders",
    "apps.accounts",
    "apps.messaging",
    "apps.console",
    "apps.sagas",
    "apps.projections",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.console.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "eda_console.urls"
ASGI_APPLICATION = "eda_console.asgi.application"

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
            ],
        },
    }
]

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'eda.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASE_URL.startswith("sqlite:"):
    # The embedded default's file lives under var/; a fresh checkout has no var/ yet.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the relay and the console read while a writer commits.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
# PostgreSQL: psycopg prepares a statement the store's reads or a projection's batch has run
# this many times on a connection (server-bound statements only; Django's own cursor binds on
# the client and never prepares). A 5-event aggregate load ran 8 to 15 % faster prepared. 0
# turns it off, for a pooler in transaction mode that cannot keep prepared statements.
DATABASE_PREPARE_THRESHOLD = env_int("DATABASE_PREPARE_THRESHOLD", 5)
if DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = DATABASE_PREPARE_THRESHOLD or None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
KAFKA_BOOTSTRAP_SERVERS = env_list("KAFKA_BOOTSTRAP_SERVERS", ["127.0.0.1:9092"])
KAFKA_TOPIC = env_str("KAFKA_TOPIC", "order-events")
KAFKA_DLQ_TOPIC = env_str("KAFKA_DLQ_TOPIC", f"{KAFKA_TOPIC}.dlq")
KAFKA_TOPIC_PARTITIONS = env_int("KAFKA_TOPIC_PARTITIONS", 10)
KAFKA_TOPIC_REPLICATION = env_int("KAFKA_TOPIC_REPLICATION", 1)
KAFKA_TOPIC_RETENTION_MS = env_int("KAFKA_TOPIC_RETENTION_MS", 7 * 24 * 3600 * 1000)
KAFKA_TOPIC_MAX_MESSAGE_BYTES = env_int("KAFKA_TOPIC_MAX_MESSAGE_BYTES", 1024 * 1024)
# The value of each record on the topic: "json" (the whole event) or "avro" (the schema
# registry's wire format: magic byte 0, 4-byte schema id, Avro binary of the data; the rest
# of the event in headers). Consumers read both, so the topic can switch at any time.
KAFKA_VALUE_FORMAT = env_choice("KAFKA_VALUE_FORMAT", "json", choices=("json", "avro"))
# The codec of the record batches our producers send (Kafka's compression.type; the topics are
# created with the same, so a Kafka broker stores them as sent). Consumers read any codec.
# snappy (cramjam's, through python-snappy), measured on the relay's own records (two runs each):
# 529 -> 68 bytes a record on the wire, Tansu's memory for 61k events 53-58 -> 14-16 MiB, its CPU
# 0-28 % less taking them and 40-50 % less serving fetches; producer and consumer CPU within the
# noise (+-5 %). gzip packs tighter (28 bytes) but costs the producer more and holds
# kafka-python's network thread for up to 0.5 s a batch, a stall for every send behind it.
KAFKA_COMPRESSION_TYPE = env_choice("KAFKA_COMPRESSION_TYPE", "snappy", choices=("none", "gzip", "snappy"))
# A Confluent-compatible schema registry (Karapace, Confluent Schema Registry). Empty: the
# project's own read-only registry at /schema-registry/ serves the schema catalogue.
SCHEMA_REGISTRY_URL = env_str("SCHEMA_REGISTRY_URL", "")
# kafka-python 3.0 defaults session_timeout_ms to 45 s; against Tansu a group join then takes
# ~20 s. 6 s sessions with 1 s heartbeats join in ~3 s and still ride out a short GC pause.
KAFKA_CONSUMER_SESSION_TIMEOUT_MS = env_int("KAFKA_CONSUMER_SESSION_TIMEOUT_MS", 6000)
KAFKA_CONSUMER_HEARTBEAT_INTERVAL_MS = env_int("KAFKA_CONSUMER_HEARTBEAT_INTERVAL_MS", 1000)
KAFKA_CONSUMER_MAX_POLL_INTERVAL_MS = env_int("KAFKA_CONSUMER_MAX_POLL_INTERVAL_MS", 10000)
KAFKA_CONSUMER_MAX_POLL_RECORDS = env_int("KAFKA_CONSUMER_MAX_POLL_RECORDS", 500)
# A projection applies a poll in one transaction whose fixed cost (lock, checkpoint, cursors,
# commits) is about a dozen round trips: larger polls spread it. The saga keeps the 500 above,
# its events cost milliseconds each and a poll must end within the max poll interval.
KAFKA_CONSUMER_PROJECTION_MAX_POLL_RECORDS = env_int("KAFKA_CONSUMER_PROJECTION_MAX_POLL_RECORDS", 2000)
# A fetch waits for this many bytes or this long, whichever comes first: under load the
# consumers take fuller batches (bench/sagas.py: 10 sagas/s with 1 byte, 14-16 with these, 18 with a
# 100 ms wait), and a light stream waits at most the wait (end to end at 200 events/s, p50: 86 ms
# with these, 149 ms with a 100 ms wait).
KAFKA_CONSUMER_FETCH_MIN_BYTES = env_int("KAFKA_CONSUMER_FETCH_MIN_BYTES", 16384)
KAFKA_CONSUMER_FETCH_MAX_WAIT_MS = env_int("KAFKA_CONSUMER_FETCH_MAX_WAIT_MS", 25)
# Groups whose latency no figure and no user waits on wait this long instead: below min
# bytes every fetch returns at the wait, so a group costs fetches a second at any load
# (six idle groups against Tansu, per group: 0.033 cores of the consumer process and 0.02
# of the broker at 25 ms, 0.009 and 0.005 at 250 ms), and each batch a transaction.
KAFKA_CONSUMER_BACKGROUND_GROUPS = env_list(
    "KAFKA_CONSUMER_BACKGROUND_GROUPS",
    ["projection.customer_order_stats", "projection.order_activity", "projection.stock_level"],
)
KAFKA_CONSUMER_BACKGROUND_FETCH_MAX_WAIT_MS = env_int("KAFKA_CONSUMER_BACKGROUND_FETCH_MAX_WAIT_MS", 250)
# A failing event is tried this many times in all, waiting base * 2**n (capped) between tries.
CONSUMER_RETRY_ATTEMPTS = env_int("CONSUMER_RETRY_ATTEMPTS", 3)
CONSUMER_RETRY_BACKOFF_MS = env_int("CONSUMER_RETRY_BACKOFF_MS", 50)
CONSUMER_RETRY_BACKOFF_MAX_MS = env_int("CONSUMER_RETRY_BACKOFF_MAX_MS", 1000)
# How long a process trusts its cached failure rules and parked streams before reading the tables again.
DEAD_LETTER_CACHE_SECONDS = env_float("DEAD_LETTER_CACHE_SECONDS", 1.0)
# A bulk dead-letter replay (a job) replays this many heads first, and stops itself when more
# than this share of what it replayed failed again (checked after the canary and from then on).
DEAD_LETTER_REPLAY_CANARY_SIZE = env_int("DEAD_LETTER_REPLAY_CANARY_SIZE", 10)
DEAD_LETTER_REPLAY_STOP_FAILURE_SHARE = env_float("DEAD_LETTER_REPLAY_STOP_FAILURE_SHARE", 0.5)
# The rate the replay dialog offers (events/s); the operator may change it or leave it empty (unthrottled).
DEAD_LETTER_REPLAY_DEFAULT_RATE = env_int("DEAD_LETTER_REPLAY_DEFAULT_RATE", 100)
# The worker starts the consumer threads unless this is off (e.g. a tasks-only worker).
CONSUMER_HOST_ENABLED = env_bool("CONSUMER_HOST_ENABLED", True)
# The consumer groups this worker hosts, comma-separated (e.g. saga.order on workers of its own);
# empty hosts every registered group.
CONSUMER_GROUPS = env_list("CONSUMER_GROUPS", [])
RELAY_BATCH_SIZE = env_int("RELAY_BATCH_SIZE", 1000)
# Polling fallback: PostgreSQL wakes the relay with NOTIFY; SQLite (or a lost notification) waits this long.
RELAY_POLL_INTERVAL_MS = env_int("RELAY_POLL_INTERVAL_MS", 200)
HEARTBEAT_TTL_SECONDS = env_int("HEARTBEAT_TTL_SECONDS", 30)
# The overview calls the pipeline degraded when the active relay is further than this behind the head.
RELAY_BEHIND_DEGRADED_POSITIONS = env_int("RELAY_BEHIND_DEGRADED_POSITIONS", 1000)

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes every database connection before and after each task unless
# this is set: a new connection (and a new server backend) per saga step cost the steps more
# than their queries. Now the fixup closes them every 2x this many tasks, and
# eda_console.celery checks them before each task as Django does per request (CONN_MAX_AGE).
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# acks_late tasks longer than this would be redelivered by Redis; rebuilds can run long.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 6 * 3600}
# Periodic tasks: each app adds its entry here ({"name": {"task": ..., "schedule": seconds}}).
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}
# Consumer lag sampler (apps.messaging.lag). Status window: the last N samples within the
# window's seconds; STOPPED: lag > 0 and no commit for that long. Kafka calls time out fast.
LAG_SAMPLE_INTERVAL_SECONDS = env_float("LAG_SAMPLE_INTERVAL_SECONDS", 5.0)
LAG_RETENTION_HOURS = env_float("LAG_RETENTION_HOURS", 24.0)
LAG_STATUS_WINDOW_SAMPLES = env_int("LAG_STATUS_WINDOW_SAMPLES", 10)
LAG_STATUS_WINDOW_SECONDS = env_float("LAG_STATUS_WINDOW_SECONDS", 300.0)
LAG_STOPPED_AFTER_SECONDS = env_float("LAG_STOPPED_AFTER_SECONDS", 300.0)
LAG_KAFKA_TIMEOUT_MS = env_int("LAG_KAFKA_TIMEOUT_MS", 3000)
# Tansu lists the end offset as the last batch's base offset + 1: check it with a fetch.
LAG_END_OFFSET_CHECK = env_bool("LAG_END_OFFSET_CHECK", True)
# A round older than one interval is dropped unrun, so an outage never piles rounds up.
CELERY_BEAT_SCHEDULE["messaging.consumer_lag_sample"] = {
    "task": "messaging.consumer_lag_sample",
    "schedule": LAG_SAMPLE_INTERVAL_SECONDS,
    "options": {"expires": LAG_SAMPLE_INTERVAL_SECONDS},
}
# Chains a rebuild left parked behind a resolved head (its worker died before releasing
# them) are released this often, so their streams flow again without an operator.
DEAD_LETTER_ORPHAN_RELEASE_SECONDS = env_float("DEAD_LETTER_ORPHAN_RELEASE_SECONDS", 30.0)
CELERY_BEAT_SCHEDULE["messaging.dead_letter_orphaned_chains_release"] = {
    "task": "messaging.dead_letter_orphaned_chains_release",
    "schedule": DEAD_LETTER_ORPHAN_RELEASE_SECONDS,
    "options": {"expires": DEAD_LETTER_ORPHAN_RELEASE_SECONDS},
}
# /metrics accepts this bearer token (for Prometheus), besides a viewer's session or API token.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
# Websocket pushes (live events, lag, rebuild progress) go through Redis so the worker can reach daphne.
# redis-py 8 reads with a 5 s socket timeout, the same 5 s that channels_redis blocks in
# BZPOPMIN: without a longer timeout every idle websocket dies with TimeoutError.
# group_expiry: the console's websockets renew their membership every minute, so members
# left by a web process that died go after 5 minutes instead of the default day.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}], "group_expiry": 300},
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"

# A command body over 1 MiB is refused before it is parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

EVENTSTORE_CONFLICT_RETRIES = env_int("EVENTSTORE_CONFLICT_RETRIES", 3)

# Saga participants: the payment gateway declines a payment above this many cents, as a
# card network does with a per-payment limit.
PAYMENT_GATEWAY_LIMIT_CENTS = env_int("PAYMENT_GATEWAY_LIMIT_CENTS", 1_000_000)
# The run command (make demo) starts the simulator: gentle traffic with a little of every
# failure, so a fresh console moves on its own. Off: SIMULATOR_ENABLED=false or --no-simulator.
SIMULATOR_ENABLED = env_bool("SIMULATOR_ENABLED", True)

# The order saga (apps.sagas): a step attempt unanswered this long is timed out and tried
# again after a backoff (base, doubled per attempt, capped), up to the max attempts; then
# the saga compensates, or stops as stuck where compensating is not safe. The beat task
# that finds overdue attempts runs this often.
SAGA_STEP_TIMEOUT_SECONDS = env_float("SAGA_STEP_TIMEOUT_SECONDS", 10.0)
SAGA_STEP_MAX_ATTEMPTS = env_int("SAGA_STEP_MAX_ATTEMPTS", 5)
SAGA_RETRY_BACKOFF_SECONDS = env_float("SAGA_RETRY_BACKOFF_SECONDS", 1.0)
SAGA_RETRY_BACKOFF_MAX_SECONDS = env_float("SAGA_RETRY_BACKOFF_MAX_SECONDS", 30.0)
SAGA_OVERDUE_CHECK_SECONDS = env_float("SAGA_OVERDUE_CHECK_SECONDS", 1.0)
CELERY_BEAT_SCHEDULE["sagas.saga_overdue_attempts_handle"] = {
    "task": "sagas.saga_overdue_attempts_handle",
    "schedule": SAGA_OVERDUE_CHECK_SECONDS,
    "options": {"expires": SAGA_OVERDUE_CHECK_SECONDS * 2},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # kafka-python logs every connection, metadata refresh and rebalance at INFO, which
    # buries the run command's banner (URL and credentials) under chatter.
    "loggers": {"kafka": {"level": env_str("KAFKA_LOG_LEVEL", "WARNING")}},
}

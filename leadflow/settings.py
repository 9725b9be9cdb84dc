"""LeadFlow settings, read from the environment.

With no environment set, LeadFlow runs on a SQLite file and kombu's filesystem
broker under ``var/``, so ``make run`` works on a machine that has only Python.
Production sets ``DATABASE_URL`` and ``CELERY_BROKER_URL`` (see README.md).
A bad value stops start-up with ``ImproperlyConfigured`` naming the variable.
"""

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name, default):
    raw = env.str(name, default=None)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no.")


def env_int(name, default, minimum=None):
    raw = env.str(name, default=None)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}.")
    return value


def env_float(name, default, minimum=None, maximum=None):
    raw = env.str(name, default=None)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number.") from None
    if value != value or (minimum is not None and value < minimum):  # NaN, or too small
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}.")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at most {maximum}.")
    return value


def env_url(name, default, parser):
    raw = env.str(name, default=None) or default
    try:
        return parser(raw)
    except (ImproperlyConfigured, KeyError, ValueError) as exc:
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a valid URL for {name}: {exc}"
        ) from None


DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-dev-key-only-for-debug-do-not-use-in-production"

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

TIME_ZONE = env.str("TIME_ZONE", default="Europe/Amsterdam")
try:
    ZoneInfo(TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"TIME_ZONE={TIME_ZONE!r} is not a known IANA time zone.") from None
USE_TZ = True
# The site's currency (ISO 4217): every amount (spend, budgets, deal values) is in it.
CURRENCY = env.str("CURRENCY", default="EUR").strip().upper()
if not (len(CURRENCY) == 3 and CURRENCY.isascii() and CURRENCY.isalpha()):
    raise ImproperlyConfigured(
        f"CURRENCY={CURRENCY!r} is not an ISO 4217 currency code (three letters, e.g. EUR)."
    )
USE_I18N = True
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("nl", "Nederlands")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The language switcher's choice (README "Languages") outlives the browser session.
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"

INSTALLED_APPS = [
    # django.contrib.admin with LeadFlow's admin site (login throttling, leadflow/admin_site.py).
    "leadflow.admin_apps.LeadflowAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # /health/ (leadflow/health.py) and `manage.py health_check`.
    "health_check",
    "leadflow",
    "campaigns",
    "leads",
    "sales",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # A database outage is a 503 with Retry-After, not a 500 (leadflow/middleware.py).
    "leadflow.middleware.DatabaseUnavailableMiddleware",
    "leadflow.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Personal data is not cached: private, no-store for the signed-in and the API.
    "leadflow.middleware.PrivateCacheControlMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After the user is known (its 413 page has the navbar), before any view reads a body.
    "leadflow.middleware.RequestSizeLimitMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "leadflow.urls"
WSGI_APPLICATION = "leadflow.wsgi.application"

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
                "django.template.context_processors.i18n",
                "leadflow.context_processors.roles",
            ],
        },
    },
    {
        # Plain-text e-mails and their subjects (leadflow/notifications/emails.py): text,
        # not HTML, so nothing is escaped: "O'Brien (Smith & Sons)", not "O&#x27;Brien".
        "NAME": "text",
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {"autoescape": False},
    },
]

# --- Database -------------------------------------------------------------
VAR_DIR.mkdir(exist_ok=True)
_database_url = env.str("DATABASE_URL", default="") or f"sqlite:///{VAR_DIR / 'leadflow.sqlite3'}"
if _database_url.split("://", 1)[0] not in {"postgres", "postgresql", "pgsql", "sqlite"}:
    raise ImproperlyConfigured(
        f"DATABASE_URL={_database_url!r}: use postgres://user:pass@host:port/name or sqlite:///path."
    )
DATABASES = {"default": env_url("DATABASE_URL", _database_url, env.db_url_config)}
_conn_max_age = env_int("CONN_MAX_AGE", 60, minimum=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE makes a write transaction take SQLite's lock at BEGIN, so two
    # transitions racing on one lead serialize as select_for_update does on
    # PostgreSQL. The test database is a file so a worker process can open it.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", _conn_max_age)
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Covering indexes (INCLUDE) are a PostgreSQL optimisation; SQLite builds them without the
# included columns, which is fine there.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

CACHES = {"default": env_url("CACHE_URL", "locmemcache://", env.cache_url_config)}
if CACHES["default"]["BACKEND"].endswith(".RedisCache"):
    # A hung Redis answers no request: give up after a second (the rate limits and the
    # login throttle then let the request through) instead of holding the request.
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {"socket_connect_timeout": 1, "socket_timeout": 1}
    )

# --- Auth -----------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Login throttling (leadflow/throttle.py): this many failed logins for one username from one
# client address, or from one client address whatever the usernames, within
# LOGIN_LOCKOUT_SECONDS lock it out for that long; 0 is off. Managers can unlock a username.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=0)
LOGIN_FAILURE_LIMIT_PER_IP = env_int("LOGIN_FAILURE_LIMIT_PER_IP", 50, minimum=0)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900, minimum=1)
# Password reset requests (leadflow/views.py) per client address and per e-mail address,
# per hour; 0 is off. Each request may send a mail, so the limits keep the page from
# being used to flood someone's inbox.
PASSWORD_RESET_RATE_PER_IP = env_int("PASSWORD_RESET_RATE_PER_IP", 10, minimum=0)
PASSWORD_RESET_RATE_PER_EMAIL = env_int("PASSWORD_RESET_RATE_PER_EMAIL", 3, minimum=0)
# How long a manager's invitation link stays valid (leadflow.services.invitation_create).
INVITATION_EXPIRY_DAYS = env_int("INVITATION_EXPIRY_DAYS", 7, minimum=1)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Static files ---------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Email ----------------------------------------------------------------
_email = env_url("EMAIL_URL", "consolemail://", env.email_url_config)
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
for _key in ("EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD"):
    if _email.get(_key):
        globals()[_key] = _email[_key]
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
if "EMAIL_FILE_PATH" in _email:
    EMAIL_FILE_PATH = _email["EMAIL_FILE_PATH"]
    # django-environ drops the leading slash: filemail:///tmp/mail means /tmp/mail.
    if env.str("EMAIL_URL", default="").startswith("filemail:///"):
        EMAIL_FILE_PATH = "/" + EMAIL_FILE_PATH.lstrip("/")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="LeadFlow <leadflow@localhost>")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# --- Celery ---------------------------------------------------------------
CELERY_DIR = VAR_DIR / "celery"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.split("://", 1)[0] not in {
    "filesystem",
    "redis",
    "rediss",
    "amqp",
    "pyamqp",
    "memory",
}:
    raise ImproperlyConfigured(
        f"CELERY_BROKER_URL={CELERY_BROKER_URL!r}: use redis://, amqp:// or filesystem://."
    )
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport: one folder is both inbox and outbox, so a
    # worker on this machine reads what the web process wrote.
    for _sub in ("queue", "processed", "control", "results"):
        (CELERY_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_DIR / "queue"),
        "data_folder_out": str(CELERY_DIR / "queue"),
        "processed_folder": str(CELERY_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(CELERY_DIR / "control"),
    }
    _default_backend = f"file://{CELERY_DIR / 'results'}"
else:
    _default_backend = CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else None
REDIS_BROKER_OPTIONS = {
    # A delivered task that is never acknowledged (its worker was killed or lost Redis) is
    # queued again this many seconds after its delivery. A task still running then, or
    # still waiting for its countdown, is delivered again; the outbox lease skips that
    # duplicate (leadflow/outbox.py).
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 900, minimum=1),
    # Publishing gives up after a few seconds instead of hanging a request on a stalled
    # broker (the outbox publishes it later). Above kombu's 1 s BRPOP, which the worker
    # waits on with the same connection settings.
    "socket_connect_timeout": 2,
    "socket_timeout": 3,
}
if CELERY_BROKER_URL.startswith("redis"):
    CELERY_BROKER_TRANSPORT_OPTIONS = REDIS_BROKER_OPTIONS
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=_default_backend)
CELERY_RESULT_EXPIRES = 3600
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 2
CELERY_REDIS_SOCKET_TIMEOUT = 3
# No caller waits for a task's result (the outbox tracks every run), and storing one would
# make each publish talk to the result backend too. A task that is awaited opts in.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
# Every task is idempotent (the outbox lease skips a duplicate run; imports and recomputes
# resume from their last committed batch), so a message is acknowledged only when its run
# ends, and a run whose worker process died goes back to the queue.
CELERY_TASK_ACKS_LATE = True
# With acks_late: a task whose pool process died under it (kill -9, the OOM killer) goes
# back to the queue instead of being acknowledged as failed. A task that kills its process
# every time comes back every time (each run skipped while an earlier run's lease holds).
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A broker that is not up yet, or goes away, is retried for ever, not given up on.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# The outbox (leadflow/outbox.py): a run holds its message's lease this long; a published
# message nobody finished is published again after this (then twice as long each time);
# after a failed publish a process leaves publishing to the relay for this long.
OUTBOX_LEASE_SECONDS = env_int("OUTBOX_LEASE_SECONDS", 300, minimum=5)
OUTBOX_REPUBLISH_SECONDS = env_int("OUTBOX_REPUBLISH_SECONDS", 300, minimum=5)
OUTBOX_BROKER_BACKOFF_SECONDS = env_int("OUTBOX_BROKER_BACKOFF_SECONDS", 30, minimum=1)
OUTBOX_RELAY_SECONDS = env_int("OUTBOX_RELAY_SECONDS", 30, minimum=1)
# Writes that record a job's end retry through a database outage this many times
# (0.5 s, 1, 2, 4, 8, 8 ... between tries: about half a minute for 7).
DB_OUTAGE_RETRIES = env_int("DB_OUTAGE_RETRIES", 7, minimum=1)
# A job (import, deadline recompute) whose heartbeat is older than this is stalled: the
# watchdog marks it so and resumes it from its last committed batch.
JOB_STALL_SECONDS = env_int("JOB_STALL_SECONDS", 180, minimum=10)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Test-only: extra task modules for the worker to import (the fault tests' tasks in
# tests/faults/tasks.py, comma-separated); empty in production.
CELERY_IMPORTS = env.list("LEADFLOW_EXTRA_TASK_MODULES", default=[])
# leadflow/broker.py: without it a worker dies when Redis stops while it runs a task
# (celery 5.7.0, kombu 5.7.0). Off only in the fault test that shows the crash.
REDIS_CHANNEL_GUARD = env_bool("REDIS_CHANNEL_GUARD", True)
# The sweep (leads/sweep/flags.py): flags every lead whose ball sits too long in one court.
SWEEP_INTERVAL_SECONDS = env_int("SWEEP_INTERVAL_SECONDS", 300, minimum=1)
# Between full sweeps a sweep only examines what changed since the previous one.
SWEEP_FULL_INTERVAL_SECONDS = env_int("SWEEP_FULL_INTERVAL_SECONDS", 3600, minimum=0)
FLAG_DIGEST_HOUR = env_int("FLAG_DIGEST_HOUR", 8, minimum=0)
if FLAG_DIGEST_HOUR > 23:
    raise ImproperlyConfigured(f"FLAG_DIGEST_HOUR={FLAG_DIGEST_HOUR!r} must be 0 to 23.")
# leadflow.tasks.beat_tick records a Heartbeat this often; /health/ fails after three missed.
BEAT_TICK_SECONDS = 60
CELERY_BEAT_SCHEDULE = {
    # The outbox relay: what was never published, or never finished, goes out again.
    "outbox-relay": {
        "task": "leadflow.tasks.relay_outbox",
        "schedule": OUTBOX_RELAY_SECONDS,
        "options": {"expires": OUTBOX_RELAY_SECONDS},
    },
    # The job watchdog: imports and recomputes without a heartbeat are stalled and resumed.
    "watch-jobs": {
        "task": "leads.tasks.watch_jobs",
        "schedule": 60,
        "options": {"expires": 60},
    },
    "sweep": {
        "task": "leads.tasks.sweep",
        "schedule": SWEEP_INTERVAL_SECONDS,
        # A sweep nobody ran in time is replaced by the next one, not queued behind it.
        "options": {"expires": SWEEP_INTERVAL_SECONDS},
    },
    "flag-digest": {
        "task": "leads.tasks.flag_digest",
        "schedule": crontab(hour=FLAG_DIGEST_HOUR, minute=0),  # in CELERY_TIMEZONE
        "options": {"expires": 3600},
    },
    # The dashboard's pre-aggregated statistics: the days whose leads changed, every minute,
    # and a full rebuild at night as a safety net (leads/reporting/stats.py).
    "dashboard-stats": {
        "task": "leads.tasks.refresh_dashboard_stats",
        "schedule": 60,
        "options": {"expires": 60},
    },
    # The health check's proof that beat, the broker and a worker all work (leadflow/health.py).
    "beat-tick": {
        "task": "leadflow.tasks.beat_tick",
        "schedule": BEAT_TICK_SECONDS,
        "options": {"expires": BEAT_TICK_SECONDS},
    },
    # The joint SLA's scorecard of the month before, to both teams on the first of the month
    # (leads/reporting/services.py scorecard_mail: a month goes out once).
    "joint-sla-scorecard": {
        "task": "leads.tasks.joint_sla_monthly",
        "schedule": crontab(day_of_month=1, hour=FLAG_DIGEST_HOUR, minute=15),
        "options": {"expires": 3600},
    },
    "dashboard-stats-rebuild": {
        "task": "leads.tasks.refresh_dashboard_stats",
        "schedule": crontab(hour=3, minute=30),
        "kwargs": {"full": True},
        "options": {"expires": 3600},
    },
}

# --- JSON API and public intake (README "JSON API", "Public intake") -------------------
# Trusted proxies in front of the app: X-Forwarded-For is believed this many hops deep
# (the intake rate limit's client address); 0 uses REMOTE_ADDR.
NUM_PROXIES = env_int("NUM_PROXIES", 0, minimum=0)
# Django's cap on a form or JSON body held in memory (the API answers 413 beyond it).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440, minimum=1024)
# Any request body beyond this is refused with a 413 before Django reads it (file uploads
# are not covered by DATA_UPLOAD_MAX_MEMORY_SIZE): a CSV import takes files up to 50 MB.
MAX_REQUEST_BODY_BYTES = env_int("MAX_REQUEST_BODY_BYTES", 52 * 1024 * 1024, minimum=1024)
# Uploads stay in memory, never in a temporary file: the CSV import reads the whole file
# anyway, and a file on disk outlives a web worker killed mid-upload. The body cap above
# is what bounds the memory.
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES
INTAKE_MAX_BODY_BYTES = env_int("INTAKE_MAX_BODY_BYTES", 32_768, minimum=1024)
# Posts per minute to /intake/<key>/, per client address and per campaign; 0 switches off.
INTAKE_RATE_PER_IP = env_int("INTAKE_RATE_PER_IP", 20, minimum=0)
INTAKE_RATE_PER_KEY = env_int("INTAKE_RATE_PER_KEY", 1200, minimum=0)

# Outgoing webhooks and chat channels (leadflow/webhooks/). Hosts named here (as written in
# the URL, e.g. "127.0.0.1" or "hooks.internal.example") may resolve to loopback, private
# or link-local addresses; every other target must be a public address.
WEBHOOK_ALLOWED_HOSTS = [h.strip().lower() for h in env.list("WEBHOOK_ALLOWED_HOSTS", default=[])]
# Seconds to connect, and again to read the answer: a slow receiver must not hold a worker.
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 5.0, minimum=0.5, maximum=30)
# Attempts per delivery, one minute apart at first and twice as long each time after.
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1)
# Off: deliveries are recorded and give up unsent. For a staging copy of production data,
# and the API contract run, whose fuzzed endpoints must never be posted to.
WEBHOOK_SENDING = env_bool("WEBHOOK_SENDING", True)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate makes a missing login a 401, not a 403.
        "leadflow.api.defaults.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["leadflow.api.defaults.HasRole"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["leadflow.api.defaults.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "leadflow.api.base.LeadflowAutoSchema",
    "EXCEPTION_HANDLER": "leadflow.api.base.exception_handler",
    "NUM_PROXIES": NUM_PROXIES,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LeadFlow API",
    "DESCRIPTION": (
        "Leads, campaigns, follow-ups and the handoff lifecycle, with the same rules as "
        "the pages. Authenticate with `Authorization: Token <token>` (create one on your "
        "profile page) or, in the browser, the session (CSRF enforced). Errors are "
        '`{"detail": "..."}`; a 400 adds `"errors": {"field": ["..."]}`.'
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "RejectionReasonEnum": "leads.models.RejectionReason",
        "LostReasonEnum": "leads.models.LostReason",
        "DisqualifyReasonEnum": "leads.models.DisqualifyReason",
        # Two choice sets named "kind": the activity's keeps the name it had first.
        "KindEnum": "sales.models.ActivityKind",
        "TaskKindEnum": "sales.models.TaskKind",
    },
}

# --- Production hardening -------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# leadflow/csp.py sends it on every response: nothing inline, nothing from other sites.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# Probes (docker-compose, a load balancer) ask for /health/ over plain HTTP from inside the
# network; it shows no secrets and sets no cookie, so it is answered rather than redirected.
SECURE_REDIRECT_EXEMPT = [r"^health/"]
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- Error reporting (Sentry) ------------------------------------------------------------
# Only when SENTRY_DSN is set: errors of the pages, the API and the Celery tasks, without
# personal data (no user, cookies or bodies: send_default_pii=False); no tracing unless
# SENTRY_TRACES_SAMPLE_RATE says what fraction of requests and tasks to trace. 0 passes
# None: with 0.0 the SDK would still continue traces that callers' headers started.
SENTRY_DSN = env.str("SENTRY_DSN", default="").strip()
SENTRY_ENVIRONMENT = env.str(
    "SENTRY_ENVIRONMENT", default="development" if DEBUG else "production"
).strip()
SENTRY_TRACES_SAMPLE_RATE = env_float("SENTRY_TRACES_SAMPLE_RATE", 0.0, minimum=0, maximum=1)
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.utils import BadDsn

    try:
        sentry_sdk.init(
            dsn=SENTRY_DSN,
            environment=SENTRY_ENVIRONMENT,
            traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE or None,
            send_default_pii=False,
            integrations=[DjangoIntegration(), CeleryIntegration()],
        )
    except BadDsn as exc:
        # Not the value: a DSN carries the project's key.
        raise ImproperlyConfigured(f"SENTRY_DSN is not a valid Sentry DSN: {exc}") from None

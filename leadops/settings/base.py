"""LeadOps settings: everything lives here and is driven by the environment (see README)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from pathlib import Path

import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from leadops import embedded
from leadops.settings.env import (
    database_from_url,
    env_bool,
    env_int,
    env_list,
    env_str,
    url_with_user,
)

# Lets `admin.ModelAdmin[Market]` and friends be subscripted at runtime, as mypy wants them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = embedded.var_dir()

DEBUG = env_bool("DEBUG", False)
# No DATABASE_URL means a workstation on the embedded database (see leadops/embedded.py).
EMBEDDED_DATABASE = not env_str("DATABASE_URL")


LOCAL_SECRETS = DEBUG or EMBEDDED_DATABASE or env_bool("LEADOPS_LOCAL_SECRETS", False)


def _secret(name: str, generate: Callable[[], str]) -> str:
    """`name` from the environment; on a workstation (LOCAL_SECRETS) a generated value kept in
    var/<name lowercased> (mode 0600), so it survives restarts; elsewhere a missing secret
    stops startup with a message that says what to set."""
    configured = env_str(name)
    if configured:
        return configured
    key_file = VAR_DIR / name.lower()
    if not LOCAL_SECRETS:
        raise ImproperlyConfigured(
            f"{name} is not set. Set {name} (or {name}_FILE), or set LEADOPS_LOCAL_SECRETS=true "
            f"to keep a generated one in {key_file} (what `make run` does on a workstation)."
        )
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(generate())
    return key_file.read_text().strip()


SECRET_KEY = _secret("SECRET_KEY", lambda: secrets.token_urlsafe(50))
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "leadops.apps.LeadOpsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "simple_history",
    # LeadOps, lowest layer first (the order import-linter enforces).
    "leadops.core",
    "audit",
    "leadops.markets",
    "leadops.queue",
    "leadops.leads",
    "leadops.sla",
    "routing",
    "connectors",
    "leadops.apps.LeadOpsConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "leadops.urls"
WSGI_APPLICATION = "leadops.wsgi.application"

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
    },
]

# Database. DATABASE_URL is an admin connection (without it, the embedded server under var/):
# `db_bootstrap` uses it to create the roles, and the `owner` alias uses it as leadops_owner for
# migrations. Everything else runs on `default` as leadops_app, which RLS really applies to.
DATABASE_URL = env_str("DATABASE_URL") or embedded.database_url()
DATABASE_APP_PASSWORD = env_str("DATABASE_APP_PASSWORD")
DATABASE_RUNTIME_URL = env_str("DATABASE_RUNTIME_URL") or url_with_user(
    DATABASE_URL, user="leadops_app", password=DATABASE_APP_PASSWORD
)
DATABASES = {
    "default": database_from_url(DATABASE_RUNTIME_URL),
    "owner": database_from_url(DATABASE_URL),
}
_owner_options = dict(DATABASES["owner"]["OPTIONS"])  # type: ignore[call-overload]
_owner_options["options"] = "-c role=leadops_owner"
DATABASES["owner"]["OPTIONS"] = _owner_options
# Connections are kept for a minute and reused by the next request on the same thread (a new
# PostgreSQL connection costs more than a whole intake request). The access context cannot leak
# through a reused connection: it lives in transaction-local settings (core/access.py).
#
# JIT compilation is off: it pays off for long analytic scans, while LeadOps's statements take
# milliseconds and compiling one costs tens (intake's lookup with 1M leads passes
# jit_above_cost on its estimate: 46 ms compiling, 2 ms running; bench/README.md).
for _alias in DATABASES.values():
    _alias["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)
    _alias["CONN_HEALTH_CHECKS"] = True
    _options = dict(_alias["OPTIONS"])  # type: ignore[call-overload]
    _options["options"] = f"{_options.get('options', '')} -c jit=off".strip()
    _alias["OPTIONS"] = _options
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
GUARDIAN_RAISE_403 = False
ANONYMOUS_USER_NAME = None

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or VAR_DIR / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# The cache is shared by every process (throttling state lives here): Redis when CACHE_URL
# names one, otherwise a table in the database, which every process of `make run` shares too.
CACHE_URL = env_str("CACHE_URL")
if CACHE_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "leadops_cache",
        }
    }

# Celery: CELERY_BROKER_URL names the broker; without it, the embedded database transport.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or embedded.broker_url()
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"

# The largest body any endpoint takes (the batch endpoint's); each endpoint has its own, smaller
# limit in leadops/api/limits.py, answered with 413 before parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "leadops.api.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["leadops.api.auth.ApiClientRateThrottle"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "leadops.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LeadOps API",
    "DESCRIPTION": (
        "Ingest, query and act on leads. Authenticate with `Authorization: Token <key>` "
        "(or `Bearer <key>`). Validation errors come back as "
        '`{"errors": {"field": ["message"]}}`, other failures as `{"detail": "..."}`.'
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Swagger UI assets are served from this instance, so the docs page works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "LeadStatusEnum": "leadops.leads.models.Lead.Status",
        "ExceptionStatusEnum": "leadops.queue.models.ExceptionItem.Status",
    },
    # Documented error bodies say exactly which fields they have.
    "COMPONENT_SPLIT_REQUEST": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # pgserver narrates every start and stop of the embedded server at INFO.
    "loggers": {"pgserver": {"level": "WARNING"}},
}

# Default request rate per API client (each client may set its own).
API_CLIENT_RATE = env_str("API_CLIENT_RATE", "600/min")
# CSV import: the largest file taken, and how long uploads and results files are kept.
CSV_IMPORT_MAX_BYTES = env_int("CSV_IMPORT_MAX_BYTES", 20 * 1024 * 1024)
CSV_IMPORT_RETENTION_DAYS = env_int("CSV_IMPORT_RETENTION_DAYS", 30)
# Dedupe review tiers: a phone shared by more leads than this is a switchboard and stops filing
# reviews; an item lists at most this many candidates.
# After logging in without a page to return to: RevOps land on the dashboard, managers on
# their home page (leadops.admin_site.landing_view).
LOGIN_REDIRECT_URL = "admin:landing"
DEDUPE_SHARED_PHONE_LIMIT = env_int("DEDUPE_SHARED_PHONE_LIMIT", 5)
DEDUPE_MAX_CANDIDATES = env_int("DEDUPE_MAX_CANDIDATES", 5)
# Lead list export: up to this many rows download at once, more become a Job whose file is kept
# this many days.
LEAD_EXPORT_SYNC_ROWS = env_int("LEAD_EXPORT_SYNC_ROWS", 5000)
LEAD_EXPORT_RETENTION_DAYS = env_int("LEAD_EXPORT_RETENTION_DAYS", 7)
# Public lead forms: submissions per minute from one client address to one form.
LEAD_FORM_RATE = env_str("LEAD_FORM_RATE", "20/min")
# How often each web process adds what it admitted to the shared rate counts, at the latest
# (leadops/api/throttle.py; a client close to its limit is synced on every request).
API_THROTTLE_SYNC_SECONDS = float(env_str("API_THROTTLE_SYNC_SECONDS", "1") or 1)

# How long /healthz waits for the broker before calling it down.
HEALTHZ_BROKER_TIMEOUT = env_int("HEALTHZ_BROKER_TIMEOUT", 3)

# Audit. The signing key (base64 of a 32-byte Ed25519 seed) never lives in the database; the
# subject pepper turns a person's email or phone into the id of their erasable commitment key.
AUDIT_SIGNING_KEY = base64.b64decode(
    _secret("AUDIT_SIGNING_KEY", lambda: base64.b64encode(secrets.token_bytes(32)).decode())
)
AUDIT_SUBJECT_PEPPER = _secret("AUDIT_SUBJECT_PEPPER", lambda: secrets.token_urlsafe(32))
AUDIT_LOG_ORIGIN: str = env_str("AUDIT_LOG_ORIGIN") or "leadops.local/audit"
AUDIT_CHECKPOINT_DIR = Path(env_str("AUDIT_CHECKPOINT_DIR") or VAR_DIR / "checkpoints")

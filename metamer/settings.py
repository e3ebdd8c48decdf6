"""Settings from the environment.

Embedded defaults (no variables set): SQLite under ``var/``, Celery tasks run in-process,
media on local disk, a secret key kept in ``var/`` (made by ``metamer.embedded.prepare``, which
``manage.py`` and the Makefile run: importing these settings writes nothing). Production
(``METAMER_MODE=production``): ``DJANGO_SECRET_KEY``, ``DATABASE_URL`` and
``DJANGO_ALLOWED_HOSTS`` are required; Redis broker via ``CELERY_BROKER_URL``; S3 media when
``AWS_STORAGE_BUCKET_NAME`` is set; HTTPS-only cookies and HSTS.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from metamer.embedded import BASE_DIR, secret_key_path, var_dir


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def require(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ImproperlyConfigured(f"{name} must be set when METAMER_MODE=production")
    return value


PRODUCTION = os.environ.get("METAMER_MODE", "embedded") == "production"
CONN_MAX_AGE = int(os.environ.get("DATABASE_CONN_MAX_AGE", "60"))
# Off by default (Django's default too): a dropped connection costs one 503 that pages retry
# (``metamer.middleware``), where a health check costs a round trip on every request.
CONN_HEALTH_CHECKS = env_bool("DATABASE_CONN_HEALTH_CHECKS", False)
VAR_DIR = var_dir()
DEBUG = env_bool("DJANGO_DEBUG", False)
METAMER_JOB_LEASE_SECONDS = int(os.environ.get("METAMER_JOB_LEASE_SECONDS", "300"))
"""A running job whose worker has been silent this long is stalled, and may be resumed."""
DEFAULT_EXCEPTION_REPORTER_FILTER = "metamer.debug.SecretsHidingFilter"


def _embedded_secret_key() -> str:
    try:
        return secret_key_path().read_text().strip()
    except FileNotFoundError:
        raise ImproperlyConfigured(
            f"no secret key at {secret_key_path()}: prepare the embedded defaults with `python -m metamer.embedded` "
            "(manage.py and `make` do it), or set DJANGO_SECRET_KEY"
        ) from None


if PRODUCTION:
    SECRET_KEY = require("DJANGO_SECRET_KEY")
    ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS") or [require("DJANGO_ALLOWED_HOSTS")]
    DATABASES = {
        "default": dj_database_url.parse(
            require("DATABASE_URL"), conn_max_age=CONN_MAX_AGE, conn_health_checks=CONN_HEALTH_CHECKS
        )
    }
else:
    SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or _embedded_secret_key()
    ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
    DATABASES = {
        "default": dj_database_url.parse(
            os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'metamer.sqlite3'}"),
            conn_max_age=CONN_MAX_AGE,
            conn_health_checks=CONN_HEALTH_CHECKS,
        )
    }
# A fixed test database name, so a Celery worker started beside the test run finds it.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("METAMER_TEST_DB_NAME") or None}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})
    # WAL, a busy timeout and write transactions that take their lock up front (so they wait for
    # it instead of failing with "database is locked") let concurrent workers write side by side.
    DATABASES["default"]["OPTIONS"].update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "metamer.apps.MetamerAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "inversion",
    "surveys",
    "analysis",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "metamer.middleware.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "metamer.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "metamer.urls"
WSGI_APPLICATION = "metamer.wsgi.application"

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

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))

# Media on S3 when a bucket is named (credentials from the usual AWS variables or profile).
AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME")
STORAGES = {
    "default": {
        "BACKEND": "storages.backends.s3.S3Storage"
        if AWS_STORAGE_BUCKET_NAME
        else "django.core.files.storage.FileSystemStorage"
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
AWS_S3_REGION_NAME = os.environ.get("AWS_S3_REGION_NAME")
AWS_S3_FILE_OVERWRITE = False
AWS_DEFAULT_ACL = None
# Media on local disk (embedded, or a production media volume) go through Metamer's own view,
# which applies the private/public rules; on S3 the bucket serves them.
SERVE_MEDIA = not AWS_STORAGE_BUCKET_NAME
METAMER_MEDIA_ORIGIN = os.environ.get(
    "METAMER_MEDIA_ORIGIN", f"https://{AWS_STORAGE_BUCKET_NAME}.s3.amazonaws.com" if AWS_STORAGE_BUCKET_NAME else ""
)
"""Where workers' browsers load stimuli from, when not this site (the CSP allows it)."""
# Embedded mode serves static files straight from the app folders (no collectstatic step).
WHITENOISE_USE_FINDERS = not PRODUCTION

# Celery: a Redis broker when configured; ``filesystem://`` (what ``make serve`` sets) passes
# tasks through files under var/queue to the worker it starts beside the web server, so no
# request waits for a job and nothing else needs installing; unset, tasks run in-process (the
# CLI and tests).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
if CELERY_BROKER_URL.startswith("filesystem://"):
    if PRODUCTION:
        raise ImproperlyConfigured("the filesystem task queue is for one machine; give production a Redis broker")
    _QUEUE_DIR = VAR_DIR / "queue"
    _QUEUE_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_QUEUE_DIR),
        "data_folder_out": str(_QUEUE_DIR),
        "control_folder": str(_QUEUE_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ROUTES = {
    "inversion.tasks.send_unsent_jobs": {"queue": "celery"},
    "inversion.tasks.*": {"queue": "gpu"},
    "analysis.tasks.send_unsent_reports": {"queue": "celery"},
    "analysis.tasks.*": {"queue": "gpu"},
    # LPIPS over a survey's images: where the networks run.
    "surveys.tasks.build_survey": {"queue": "gpu"},
}
CELERY_BEAT_SCHEDULE = {
    # Cross-check every recruiting study with its recruiter (`celery -A metamer beat`).
    "sync-recruiters": {"task": "surveys.tasks.sync_recruiters", "schedule": 600.0},
    # Hand over jobs the task queue could not take when they were made.
    "send-unsent-jobs": {"task": "inversion.tasks.send_unsent_jobs", "schedule": 60.0},
    "send-unsent-builds": {"task": "surveys.tasks.send_unsent_builds", "schedule": 60.0},
    "send-unsent-reports": {"task": "analysis.tasks.send_unsent_reports", "schedule": 60.0},
    "clear-held-uploads": {"task": "metamer.tasks.clear_held_uploads", "schedule": 3600.0},
}
# Where workers reach Metamer (HTTPS for Mechanical Turk), for the links recruiters are given;
# empty: the address the researcher's own request came to.
METAMER_PUBLIC_URL = os.environ.get("METAMER_PUBLIC_URL", "")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "metamer.auth.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["metamer.auth.StaffModelPermissions"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "metamer.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Metamer API",
    "DESCRIPTION": "Identically represented inputs, surveys and alignment analysis.",
    "VERSION": "0.1.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The schema and its docs list every endpoint: for staff, as the API itself is.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAdminUser"],
}

# Metamer's own settings.
METAMER_QUEUE_WAIT_MINUTES = float(os.environ.get("METAMER_QUEUE_WAIT_MINUTES", "5"))
"""A queued job no worker has taken for this long is flagged in the admin and the API."""
METAMER_CACHE_DIR = Path(os.environ.get("METAMER_CACHE_DIR", VAR_DIR / "cache"))
# A network is built and run once before it is registered, in a child process with these limits.
METAMER_CHECK_SECONDS = float(os.environ.get("METAMER_CHECK_SECONDS", "120"))
METAMER_CHECK_MEMORY_MB = int(os.environ.get("METAMER_CHECK_MEMORY_MB", "4096"))
METAMER_MAX_UPLOAD_BYTES = int(os.environ.get("METAMER_MAX_UPLOAD_BYTES", str(500 * 2**20)))
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 2**20
# API tokens (`manage.py drf_create_token -r USER`) stop working after this many days.
METAMER_API_TOKEN_DAYS = int(os.environ.get("METAMER_API_TOKEN_DAYS", "90"))
METAMER_DEVICE = os.environ.get("METAMER_DEVICE", "")  # "" = CUDA when present, else CPU

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_tokens": {"()": "metamer.logs.RedactTokens"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact_tokens"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    # runserver's request lines name worker pages too: through the same masking handler.
    "loggers": {"django.server": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

"""Settings shared by every environment. Environment-specific modules import this one."""

from datetime import timedelta

from django.utils.translation import gettext_lazy as _

from config.env import BASE_DIR, env

ALETHEIA_ENV = env.str("ALETHEIA_ENV", default="local")
ALETHEIA_HOST = env.str("ALETHEIA_HOST", default="localhost:8000")
ALETHEIA_RELEASE = env.str("ALETHEIA_RELEASE", default="")
# who may read /healthz's details from outside the server (Authorization: Bearer …)
ALETHEIA_HEALTH_TOKEN = env.str("ALETHEIA_HEALTH_TOKEN", default="")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "axes",
    "csp",
    "django_migration_linter",  # manage.py lintmigrations: make lint, and each deploy
    "aletheia.core",
    "aletheia.catalog",
    "aletheia.alerts",
    "aletheia.dashboard",
]

# Migrations must work with the previous release's code (it serves while they run, and again
# after a rollback): django-migration-linter refuses backward-incompatible ones, in Aletheia's
# own apps (docs/deployment/migrations.md).
MIGRATION_LINTER_OPTIONS = {
    "include_apps": ["core", "catalog", "alerts", "dashboard"],
    "no_cache": True,
}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "aletheia.core.middleware.FrenchFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
]

# Content-Security-Policy (django-csp): our own scripts, styles and images only; no inline
# script or style, no framing, forms post to us. The pages keep their JavaScript in static files.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# Login throttling (django-axes): 5 failures for one username from one address lock that pair
# out for 15 minutes. The address is nginx's X-Real-IP (nginx sets it; clients cannot), else
# the peer's. Password resets are rate limited by nginx (ops/edge/nginx.py, zone "accounts").
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "aletheia.core.middleware.client_address"
AXES_VERBOSE = False

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "aletheia" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "aletheia.core.context_processors.environment",
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
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:overview"
LOGOUT_REDIRECT_URL = "core:home"

# i18n: French first, English second. msgids are English; locale/fr carries the French.
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Europe/Paris"
USE_TZ = True
FORMAT_MODULE_PATH = ["config.formats"]

STATIC_URL = "/static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Data services. Timeouts keep /healthz fast when a dependency is down.
DB_CONNECT_TIMEOUT = 3
REDIS_SOCKET_TIMEOUT = 2
REDIS_URL = env.str("REDIS_URL", default="")


def redis_key_prefix(environment: str) -> str:
    """Every Redis key and channel an environment uses starts with this and a colon: the
    server's Redis lets each environment's user reach its own prefix only (docs/deployment/security.md)."""
    return f"aletheia-{environment}"


def redis_cache(url: str, key_prefix: str) -> dict[str, object]:
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "KEY_PREFIX": key_prefix,  # keys are "<prefix>:<version>:<key>"
        "OPTIONS": {
            "serializer": "aletheia.core.cache.JSONSerializer",
            "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
            "socket_timeout": REDIS_SOCKET_TIMEOUT,
        },
    }


def celery_key_prefix(key_prefix: str) -> dict[str, str]:
    """Celery's broker and result keys and channels under the environment's prefix."""
    return {"global_keyprefix": f"{key_prefix}:"}


def postgres_options(database: dict[str, object]) -> dict[str, object]:
    if "postgresql" in str(database["ENGINE"]):
        options = dict(database.get("OPTIONS") or {})  # type: ignore[call-overload]
        options.setdefault("connect_timeout", DB_CONNECT_TIMEOUT)
        database["OPTIONS"] = options
    database.setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=60))
    database.setdefault("CONN_HEALTH_CHECKS", True)
    return database


LOCAL_MEMORY_CACHE: dict[str, dict[str, object]] = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# Celery. The broker is the environment's second Redis db; results go to the same db.
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# Doctolib. The User-Agent is the allow-listed key Doctolib gave the group (without one,
# Doctolib answers 403 after a request or two). Requests are spaced to RATE_PER_SECOND across
# every worker; BLOCKS_BEFORE_STOP 403s open the circuit for BLOCK_COOLDOWN_SECONDS.
DOCTOLIB_BASE_URL = env.str("DOCTOLIB_BASE_URL", default="https://partners.doctolib.fr")
DOCTOLIB_USER_AGENT = env.str("DOCTOLIB_USER_AGENT", default="Aletheia (groupe-suffren.com)")
DOCTOLIB_TIMEOUT = env.float("DOCTOLIB_TIMEOUT", default=10.0)
DOCTOLIB_MAX_RETRIES = env.int("DOCTOLIB_MAX_RETRIES", default=3)
DOCTOLIB_RATE_PER_SECOND = env.float("DOCTOLIB_RATE_PER_SECOND", default=2.0)
DOCTOLIB_BLOCKS_BEFORE_STOP = env.int("DOCTOLIB_BLOCKS_BEFORE_STOP", default=3)
DOCTOLIB_BLOCK_COOLDOWN_SECONDS = env.int("DOCTOLIB_BLOCK_COOLDOWN_SECONDS", default=900)
DOCTOLIB_CIRCUIT_KEY = "aletheia:doctolib:circuit"
# a centre is "full" when no slot is free within this many days (per speciality in the admin)
ALETHEIA_FULL_AFTER_DAYS = env.int("ALETHEIA_FULL_AFTER_DAYS", default=14)
DOCTOLIB_CONCURRENCY = env.int("DOCTOLIB_CONCURRENCY", default=2)
DOCTOLIB_PROFILES_EVERY = timedelta(hours=env.int("DOCTOLIB_PROFILES_EVERY_HOURS", default=24))
DOCTOLIB_AVAILABILITIES_EVERY = timedelta(
    minutes=env.int("DOCTOLIB_AVAILABILITIES_EVERY_MINUTES", default=15)
)

# Alerts: at most one digest email per user per period
ALETHEIA_ALERT_PERIOD = timedelta(minutes=env.int("ALETHEIA_ALERT_PERIOD_MINUTES", default=60))

# Periodic tasks are declared here, in code, and written to django-celery-beat's tables by
# `manage.py sync_periodic_tasks` (run by every deploy). Name -> task path and interval.
PERIODIC_TASKS: dict[str, dict[str, object]] = {
    "core-heartbeat": {
        "task": "aletheia.core.tasks.heartbeat",
        "every": timedelta(seconds=env.int("ALETHEIA_HEARTBEAT_SECONDS", default=60)),
    },
    "doctolib-profiles": {
        "task": "aletheia.catalog.tasks.sync_all",
        "every": DOCTOLIB_PROFILES_EVERY,
        "kwargs": {"kind": "profiles"},
    },
    "doctolib-availabilities": {
        "task": "aletheia.catalog.tasks.sync_all",
        "every": DOCTOLIB_AVAILABILITIES_EVERY,
        "kwargs": {"kind": "availabilities"},
    },
    "alerts-digests": {
        "task": "aletheia.alerts.tasks.send_digests",
        "every": timedelta(minutes=5),
    },
}


# Logging: one console stream; `json` lines for servers, `plain` for people.
def logging_config(log_format: str, level: str) -> dict[str, object]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            },
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": log_format}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django": {"handlers": ["console"], "level": level, "propagate": False},
            "django.db.backends": {"level": "WARNING"},
            "httpx": {"level": "WARNING"},
            "django.security.DisallowedHost": {"level": "ERROR"},
        },
    }


LOGGING = logging_config(
    env.str("DJANGO_LOG_FORMAT", default="plain"), env.str("DJANGO_LOG_LEVEL", default="INFO")
)

# DeepL machine translation for `make i18n-update` (optional).
DEEPL_API_KEY = env.str("DEEPL_API_KEY", default="")
DEEPL_API_URL = env.str("DEEPL_API_URL", default="")

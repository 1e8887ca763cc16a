"""Local machine and the dev server: DEBUG on, console email, no Sentry.

With nothing configured it runs on embedded defaults (SQLite, local-memory cache, eager
Celery) so `make dev` works on a fresh machine; set DATABASE_URL / REDIS_URL to use services.
"""

from config.env import host_name, redis_db_url

from .base import *  # noqa: F403
from .base import (
    BASE_DIR,
    LOCAL_MEMORY_CACHE,
    REDIS_URL,
    celery_key_prefix,
    env,
    postgres_options,
    redis_cache,
    redis_key_prefix,
)

# DEBUG on, as environments.toml says of development settings; off only for benchmarks
DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="django-insecure-local-development-only")
ALLOWED_HOSTS = [
    "localhost",
    "127.0.0.1",
    "[::1]",
    host_name(env.str("ALETHEIA_HOST", default="localhost")),
    *env.list("DJANGO_ALLOWED_HOSTS", default=[]),
]

# The dev server sits behind nginx with TLS, like staging and prod: trust its
# X-Forwarded-Proto, and its https origin for CSRF (else logging in fails "Origin checking").
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
_HOST = env.str("ALETHEIA_HOST", default="localhost:8000")
CSRF_TRUSTED_ORIGINS = [f"https://{_HOST}", f"http://{_HOST}"]

EMBEDDED_DATABASE_URL = f"sqlite:///{BASE_DIR / '.data' / 'db.sqlite3'}"
DATABASES = {"default": postgres_options(env.db_url("DATABASE_URL", default=EMBEDDED_DATABASE_URL))}
if str(DATABASES["default"]["ENGINE"]).endswith("sqlite3"):
    (BASE_DIR / ".data").mkdir(exist_ok=True)

if REDIS_URL:
    REDIS_KEY_PREFIX = redis_key_prefix(env.str("ALETHEIA_ENV", default="local"))
    CACHES = {
        "default": redis_cache(
            redis_db_url(REDIS_URL, env.int("REDIS_CACHE_DB", default=0)), REDIS_KEY_PREFIX
        )
    }
    CELERY_BROKER_URL = redis_db_url(REDIS_URL, env.int("REDIS_BROKER_DB", default=0))
    CELERY_RESULT_BACKEND = CELERY_BROKER_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = celery_key_prefix(REDIS_KEY_PREFIX)
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = celery_key_prefix(REDIS_KEY_PREFIX)
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CACHES = LOCAL_MEMORY_CACHE
    CELERY_BROKER_URL = "memory://"
    CELERY_RESULT_BACKEND = "cache+memory://"
    CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True

EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

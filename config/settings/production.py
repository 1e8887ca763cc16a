"""Staging and prod: DEBUG off, gunicorn behind nginx, real email, Sentry when configured.

Every required variable is read without a default, so a missing one stops start-up with
django-environ's "Set the NAME environment variable".
"""

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.redis import RedisIntegration

from config.env import host_name, redis_db_url

from .base import *  # noqa: F403
from .base import (
    ALETHEIA_RELEASE,
    INSTALLED_APPS,
    celery_key_prefix,
    env,
    logging_config,
    postgres_options,
    redis_cache,
    redis_key_prefix,
)

ALETHEIA_ENV = env.str("ALETHEIA_ENV")
DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY")
ALETHEIA_HOST = env.str("ALETHEIA_HOST")
ALLOWED_HOSTS = [host_name(ALETHEIA_HOST), *env.list("DJANGO_ALLOWED_HOSTS", default=[])]
CSRF_TRUSTED_ORIGINS = [f"https://{ALETHEIA_HOST}"]

DATABASES = {"default": postgres_options(env.db_url("DATABASE_URL"))}
REDIS_URL = env.str("REDIS_URL")
REDIS_KEY_PREFIX = redis_key_prefix(ALETHEIA_ENV)
CACHES = {
    "default": redis_cache(redis_db_url(REDIS_URL, env.int("REDIS_CACHE_DB")), REDIS_KEY_PREFIX)
}
CELERY_BROKER_URL = redis_db_url(REDIS_URL, env.int("REDIS_BROKER_DB"))
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
CELERY_BROKER_TRANSPORT_OPTIONS = celery_key_prefix(REDIS_KEY_PREFIX)
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = celery_key_prefix(REDIS_KEY_PREFIX)
CELERY_TASK_ALWAYS_EAGER = False

# nginx terminates TLS and sets X-Forwarded-Proto; /healthz is probed over plain HTTP.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Email: staging sends through Brevo (anymail), prod through the group's SMTP relay.
EMAIL_KIND = env.str("ALETHEIA_EMAIL")
DEFAULT_FROM_EMAIL = env.str(
    "DJANGO_DEFAULT_FROM_EMAIL", default=f"Aletheia <noreply@{host_name(ALETHEIA_HOST)}>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_SUBJECT_PREFIX = f"[Aletheia {ALETHEIA_ENV}] "
EMAIL_TIMEOUT = 10
if EMAIL_KIND == "brevo":
    INSTALLED_APPS = [*INSTALLED_APPS, "anymail"]
    EMAIL_BACKEND = "anymail.backends.brevo.EmailBackend"
    ANYMAIL = {"BREVO_API_KEY": env.str("BREVO_API_KEY")}
elif EMAIL_KIND == "smtp":
    _smtp = env.email_url("EMAIL_URL")
    EMAIL_BACKEND = _smtp["EMAIL_BACKEND"]
    EMAIL_HOST = _smtp["EMAIL_HOST"]
    EMAIL_PORT = _smtp["EMAIL_PORT"]
    EMAIL_HOST_USER = _smtp["EMAIL_HOST_USER"]
    EMAIL_HOST_PASSWORD = _smtp["EMAIL_HOST_PASSWORD"]
    EMAIL_USE_TLS = _smtp.get("EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = _smtp.get("EMAIL_USE_SSL", False)
elif EMAIL_KIND == "console":
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
else:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"ALETHEIA_EMAIL={EMAIL_KIND!r} is not one of: brevo, smtp, console")

LOGGING = logging_config(
    env.str("DJANGO_LOG_FORMAT", default="json"), env.str("DJANGO_LOG_LEVEL", default="INFO")
)

# environments.toml's `sentry` (ALETHEIA_SENTRY, set by the compose overlay) turns it on or off.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN and env.bool("ALETHEIA_SENTRY", default=True):
    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=ALETHEIA_ENV,
        release=ALETHEIA_RELEASE or None,
        integrations=[
            DjangoIntegration(),
            CeleryIntegration(),
            RedisIntegration(),
        ],
        send_default_pii=False,
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

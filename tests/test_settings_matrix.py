"""Settings per environment, checked row by row against environments.toml."""

import json

import pytest

from ops.environments import Environment, load
from tests.conftest import run_django, run_manage

MATRIX = load()
SERVER_ENVS = [e for e in MATRIX.values() if e.is_server]
REALISTIC_SECRET = "x7Jq2mVb9LpZt4WcR8nYs3KdHf6GaE1uQoTiXv5BzNlMjPwCy0"

READ_SETTINGS = """
    import json
    import sentry_sdk
    from django.conf import settings
    print(json.dumps({
        "debug": settings.DEBUG,
        "email_backend": settings.EMAIL_BACKEND,
        "sentry": sentry_sdk.get_client().is_active(),
        "allowed_hosts": settings.ALLOWED_HOSTS,
        "csrf_trusted_origins": getattr(settings, "CSRF_TRUSTED_ORIGINS", []),
        "database": settings.DATABASES["default"]["NAME"],
        "cache": settings.CACHES["default"].get("LOCATION", ""),
        "broker": settings.CELERY_BROKER_URL,
        "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    }))
"""


def server_env_vars(environment: Environment) -> dict[str, str]:
    """What a server container sees: its env file plus what its compose overlay sets."""
    return {
        "ALETHEIA_ENV": environment.name,
        "ALETHEIA_HOST": environment.host,
        "DJANGO_SECRET_KEY": REALISTIC_SECRET,
        "DATABASE_URL": f"postgres://{environment.database}:pw@shared_postgres:5432/{environment.database}",
        "REDIS_URL": "redis://shared_redis:6379",
        "REDIS_CACHE_DB": str(environment.redis_cache_db),
        "REDIS_BROKER_DB": str(environment.redis_broker_db),
        "ALETHEIA_EMAIL": environment.email,
        "BREVO_API_KEY": "xkeysib-test",
        "EMAIL_URL": "smtp+tls://relay:pw@smtp.groupe-suffren.com:587",
        "SENTRY_DSN": "https://public@sentry.invalid/1",
    }


EXPECTED_EMAIL_BACKEND = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "brevo": "anymail.backends.brevo.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
}


@pytest.mark.parametrize("environment", SERVER_ENVS, ids=lambda e: e.name)
def test_server_settings_follow_the_matrix(environment: Environment) -> None:
    result = run_django(
        READ_SETTINGS, env=server_env_vars(environment), settings=environment.settings_module
    )
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout.strip().splitlines()[-1])

    assert got["debug"] is environment.debug
    assert got["email_backend"] == EXPECTED_EMAIL_BACKEND[environment.email]
    assert got["sentry"] is environment.sentry
    assert environment.host in got["allowed_hosts"]
    assert got["database"] == environment.database
    assert got["cache"] == f"redis://shared_redis:6379/{environment.redis_cache_db}"
    assert got["broker"] == f"redis://shared_redis:6379/{environment.redis_broker_db}"
    assert got["eager"] is False
    if environment.settings == "production":
        assert got["csrf_trusted_origins"] == [f"https://{environment.host}"]


def test_local_runs_on_embedded_defaults_with_nothing_configured() -> None:
    local = MATRIX["local"]
    result = run_django(READ_SETTINGS, env={}, settings=local.settings_module)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["debug"] is local.debug
    assert got["database"].endswith("db.sqlite3")
    assert got["eager"] is True
    assert got["broker"] == "memory://"
    assert got["sentry"] is False
    assert got["email_backend"] == EXPECTED_EMAIL_BACKEND[local.email]


def test_local_uses_services_when_configured() -> None:
    local = MATRIX["local"]
    env = {
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/aletheia",
        "REDIS_URL": "redis://127.0.0.1:6379",
        "REDIS_CACHE_DB": str(local.redis_cache_db),
        "REDIS_BROKER_DB": str(local.redis_broker_db),
    }
    result = run_django(READ_SETTINGS, env=env, settings=local.settings_module)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["database"] == "aletheia"
    assert got["cache"] == "redis://127.0.0.1:6379/0"
    assert got["eager"] is False


@pytest.mark.parametrize(
    "environment", [e for e in SERVER_ENVS if e.settings == "production"], ids=lambda e: e.name
)
def test_check_deploy_prints_no_warnings(environment: Environment) -> None:
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env=server_env_vars(environment),
        settings=environment.settings_module,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


REQUIRED_IN_PRODUCTION = [
    "DJANGO_SECRET_KEY",
    "ALETHEIA_ENV",
    "ALETHEIA_HOST",
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_CACHE_DB",
    "REDIS_BROKER_DB",
    "ALETHEIA_EMAIL",
]


@pytest.mark.parametrize(
    ("environment_name", "variable"),
    [("prod", name) for name in REQUIRED_IN_PRODUCTION]
    + [("staging", "BREVO_API_KEY"), ("prod", "EMAIL_URL")],
)
def test_missing_required_variable_stops_start_up_naming_it(
    environment_name: str, variable: str
) -> None:
    environment = MATRIX[environment_name]
    env = server_env_vars(environment)
    del env[variable]
    result = run_manage("check", env=env, settings=environment.settings_module)
    assert result.returncode != 0
    assert f"Set the {variable} environment variable" in result.stderr


def test_unknown_email_kind_is_refused_by_name() -> None:
    env = {**server_env_vars(MATRIX["prod"]), "ALETHEIA_EMAIL": "pigeon"}
    result = run_manage("check", env=env, settings="config.settings.production")
    assert result.returncode != 0
    assert "ALETHEIA_EMAIL='pigeon' is not one of: brevo, smtp, console" in result.stderr

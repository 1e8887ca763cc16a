"""Settings per environment, checked row by row against environments.toml."""

import json

import pytest
import yaml

from ops.server import compose, envfile
from ops.server.environments import Environment, load
from tests.conftest import REPO_ROOT, run_django, run_manage
from tests.helpers import ENV_FILE_DEFAULTS

MATRIX = load()
SERVER_ENVS = [e for e in MATRIX.values() if e.is_server]

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
        "doctolib_rate": settings.DOCTOLIB_RATE_PER_SECOND,
    }))
"""


def overlay_environment(environment: Environment) -> dict[str, str]:
    """The environment block of the environment's compose file, as Compose reads it."""
    overlay = yaml.safe_load((REPO_ROOT / environment.compose_files[-1]).read_text())
    return {key: str(value) for key, value in overlay[f"x-{environment.name}-env"].items()}


def server_env_vars(environment: Environment) -> dict[str, str]:
    """What a server container sees: an env file with the required keys only, plus what its
    compose file sets (read from the file itself, not from the matrix)."""
    env_file = {
        "DATABASE_URL": f"postgres://{environment.database}:pw@shared_postgres:5432/{environment.database}",
        "REDIS_URL": "redis://shared_redis:6379",
        "SENTRY_DSN": "https://public@sentry.invalid/1",
        **{
            key: ENV_FILE_DEFAULTS[key]
            for key in envfile.required_keys(environment)
            if key in ENV_FILE_DEFAULTS
        },
    }
    return {**env_file, **overlay_environment(environment)}


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
    assert got["doctolib_rate"] == environment.doctolib_rate  # its share of the server budget
    # behind nginx's TLS, logins pass the CSRF origin check (dev included)
    assert f"https://{environment.host}" in got["csrf_trusted_origins"]


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


# An env file's required keys, then what the compose file must set: each is needed.
REQUIRED_IN_PRODUCTION = [
    (environment.name, key)
    for environment in SERVER_ENVS
    if environment.settings == "production"
    for key in [
        *envfile.required_keys(environment),
        "ALETHEIA_ENV",
        "ALETHEIA_HOST",
        "ALETHEIA_EMAIL",
        "REDIS_CACHE_DB",
        "REDIS_BROKER_DB",
    ]
]


def test_the_compose_files_set_what_production_needs_from_the_matrix() -> None:
    for environment in SERVER_ENVS:
        assert {key for _, key in REQUIRED_IN_PRODUCTION} - set(envfile.REQUIRED_KEYS) - {
            "BREVO_API_KEY",
            "EMAIL_URL",
        } <= set(compose.app_environment(environment))


@pytest.mark.parametrize(("environment_name", "variable"), REQUIRED_IN_PRODUCTION)
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

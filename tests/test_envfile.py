"""Env files: one list of required keys, which `.env.example` and the checks agree with."""

import re
from pathlib import Path

from ops.server import compose, envfile, environments
from tests.conftest import REPO_ROOT
from tests.helpers import write_env_file

EXAMPLE = (REPO_ROOT / ".env.example").read_text()
PROD = environments.server_environments()["prod"]
OVERLAY_KEYS = frozenset(compose.app_environment(PROD))


def example_keys(marker: str) -> list[str]:
    """The keys of .env.example whose comment line starts with `marker`."""
    return re.findall(rf"^# {re.escape(marker)}[^\n]*\n(?:#[^\n]*\n)*([A-Z_]+)=", EXAMPLE, re.M)


def test_env_example_marks_exactly_the_required_keys() -> None:
    assert sorted(example_keys("(R)")) == sorted(envfile.REQUIRED_KEYS)
    for kind, keys in envfile.REQUIRED_BY_EMAIL.items():
        assert example_keys(f"(R when email = {kind})") == list(keys)


def test_env_example_sets_nothing_the_compose_files_or_the_image_own() -> None:
    set_here = set(re.findall(r"^([A-Z_]+)=", EXAMPLE, re.M))
    owned = {*OVERLAY_KEYS, *envfile.IMAGE_KEYS}
    assert set_here & owned == set()
    for key in sorted(owned):  # and it says they are set elsewhere
        assert key in EXAMPLE, key


def test_every_variable_the_settings_read_is_in_env_example() -> None:
    read = set()
    for module in (REPO_ROOT / "config").rglob("*.py"):
        read |= set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', module.read_text()))
    documented = set(re.findall(r"[A-Z][A-Z_]{3,}", EXAMPLE))
    test_only = {"TEST_REDIS_DB", "CELERY_EAGER", "CELERY_QUEUE"}
    assert sorted(read - documented - test_only) == []


def test_problems_and_warnings_are_said_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / ".env.prod"
    missing = envfile.read(path, PROD, OVERLAY_KEYS)
    assert missing.problems == (
        f"env file {path} is missing (docs/deployment/first-time-setup.md)",
    )

    write_env_file(path, DATABASE_URL="postgres://x@db/x", REDIS_URL="", PORT="80a")
    path.chmod(0o644)
    got = envfile.read(path, PROD, OVERLAY_KEYS)
    assert got.problems == (
        f"env file {path} is readable by others (mode 644): chmod 600 {path}",
        f"env file {path} lacks: REDIS_URL",
        f"env file {path}: PORT='80a' is not a port number",
    )

    write_env_file(path, DATABASE_URL="d", REDIS_URL="r", REDIS_CACHE_DB="7", ALETHEIA_RELEASE="")
    got = envfile.read(path, PROD, OVERLAY_KEYS)
    assert got.problems == ()
    assert got.warnings == (
        "REDIS_CACHE_DB in .env.prod is ignored: environments.toml sets it",
        "ALETHEIA_RELEASE in .env.prod hides the image's value: remove the line",
    )
    assert got.web_port == envfile.DEFAULT_PORT


def test_email_keys_follow_the_matrix() -> None:
    for environment in environments.server_environments().values():
        assert set(envfile.required_keys(environment)) - set(envfile.REQUIRED_KEYS) == set(
            envfile.REQUIRED_BY_EMAIL[environment.email]
        )


def test_the_example_secret_key_or_a_short_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / ".env.prod"
    for secret in (envfile.SECRET_KEY_PLACEHOLDER, "short-but-not-empty", "a" * 60):
        write_env_file(path, DATABASE_URL="d", REDIS_URL="r", DJANGO_SECRET_KEY=secret)
        (problem,) = envfile.read(path, PROD, OVERLAY_KEYS).problems
        assert "DJANGO_SECRET_KEY is the example's or too short" in problem


def test_the_example_itself_would_be_refused() -> None:
    """Copying .env.example as it is never deploys: its secret key is a placeholder."""
    assert f"DJANGO_SECRET_KEY={envfile.SECRET_KEY_PLACEHOLDER}" in EXAMPLE

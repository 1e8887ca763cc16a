"""Small helpers shared by the tests that drive real programs."""

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

REPO_ROOT = Path(__file__).resolve().parent.parent
# the docker CLI with BuildKit (Debian's /usr/bin/docker here; a PATH docker may lack it)
DOCKER = os.environ.get(
    "DOCKER", "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"
)


def run_command(
    *args: str,
    cwd: Path = REPO_ROOT,
    env: dict[str, str] | None = None,
    check: bool = True,
    timeout: int = 1200,
) -> subprocess.CompletedProcess[str]:
    """Run a program with extra environment; on failure, say what ran and what it printed."""
    result = subprocess.run(
        list(args),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} -> {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result


def self_signed_certificate(cert: Path, key: Path, host: str) -> None:
    cert.parent.mkdir(parents=True, exist_ok=True)
    run_command(
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "30",
        "-subj",
        f"/CN={host}",
        "-keyout",
        str(key),
        "-out",
        str(cert),
    )


def database_fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """Each table's row count and an md5 of its rows in order: equal fingerprints, equal data."""
    with psycopg.connect(url) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        found = {}
        for table in tables:
            row = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                f'FROM "{table}" t'
            ).fetchone()
            assert row is not None
            found[table] = (row[0], row[1])
        return found


SECRET = "x7Jq2mVb9LpZt4WcR8nYs3KdHf6GaE1uQoTiXv5BzNlMjPwCy0"


# What every server env file holds besides the data services: the secret key, and the email
# settings the matrix's `email` asks for (staging: Brevo, prod: SMTP; never used by the tests).
HEALTH_TOKEN = "e2e-health-token-0123456789abcdef"  # X-Health-Token: /healthz's details
ENV_FILE_DEFAULTS = {
    "DJANGO_SECRET_KEY": SECRET,
    "ALETHEIA_HEALTH_TOKEN": HEALTH_TOKEN,
    "BREVO_API_KEY": "xkeysib-unused-by-tests",
    "EMAIL_URL": "smtp://127.0.0.1:2525",
}


def write_env_file(path: Path, **values: str) -> None:
    """A server env file as the first-time setup makes it: KEY=value lines, mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(f"{key}={value}\n" for key, value in {**ENV_FILE_DEFAULTS, **values}.items())
    )
    path.chmod(0o600)


def tear_down_environment(name: str, env: dict[str, str]) -> None:
    """`compose down -v` of a server environment, composed by ops as its deploys compose it
    (server settings from `env`)."""
    from ops.server import slots, target
    from ops.server.settings import ServerSettings
    from ops.steps import commands

    environment = target.resolve(name, ServerSettings.from_environment({**os.environ, **env}))
    for slot in slots.SLOTS:  # each web slot's project (ops/server/slots.py), when it was written
        if slots.overlay_path(environment.server, name, slot).is_file():
            run_command(
                *commands.compose(environment, "down", "--timeout", "10", slot=slot),
                env={**env, **environment.compose_env("unused")},
                check=False,
            )
    run_command(
        *commands.compose(environment, "down", "-v", "--timeout", "10"),
        env={**env, **environment.compose_env("unused")},
        check=False,
    )


def free_port() -> int:
    """A TCP port nothing listens on, on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def acl_redis(acl: Path) -> Iterator[int]:
    """A private redis-server reading `acl` as its ACL file, as the server's Redis does (the
    machine's shared Redis keeps its default user for the other test runs); yields its port
    once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--aclfile",
            str(acl),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)

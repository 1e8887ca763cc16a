"""The whole single server the tests in this package share (`server`): dev, staging and prod
deployed from a git remote through ./deploy.sh, behind a host nginx.

Built once for the package, because deploys are slow, and torn down when its tests are done:
test_shared_network.py deploys the same compose projects (aletheia-prod) on its own topology.
"""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.e2e.conftest import (
    BASIC_AUTH,
    MATRIX,
    POSTGRES,
    SERVER_ENVIRONMENTS,
    Server,
    bare_remote,
    clone_checkout,
    git,
    host,
    make_certificate,
    server_settings,
)
from tests.helpers import run_command, tear_down_environment, write_env_file

BROKEN_MIGRATION = """from django.db import migrations


def fail(apps, schema_editor):
    raise RuntimeError("this release's migration fails on purpose")


class Migration(migrations.Migration):
    dependencies: list = []
    operations = [migrations.RunPython(fail)]
"""


def make_remote(root: Path) -> tuple[Path, dict[str, str]]:
    """The git remote the server deploys from: develop, main, feature, broken (a migration that
    fails), tags v1.0 (develop's commit) and v1.1 (feature's). Returns the server's checkout of
    it and each ref's commit."""
    remote, work = bare_remote(root), root / "work"
    run_command("git", "clone", "-q", str(remote), str(work))
    for key, value in (("user.name", "e2e"), ("user.email", "e2e@example.invalid")):
        git("config", key, value, cwd=work)
    git("checkout", "-q", "-B", "main", cwd=work)  # whichever branch this checkout is on
    git("branch", "-f", "develop", "HEAD", cwd=work)
    git("tag", "-f", "v1.0", "HEAD", cwd=work)
    git("checkout", "-q", "-b", "feature", cwd=work)
    (work / "FEATURE").write_text("a feature branch\n")
    git("add", "FEATURE", cwd=work)
    git("commit", "-qm", "feature", cwd=work)
    git("tag", "-f", "v1.1", "HEAD", cwd=work)
    git("checkout", "-q", "-b", "broken", "develop", cwd=work)
    (work / "aletheia" / "core" / "migrations" / "0001_broken.py").write_text(BROKEN_MIGRATION)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "a migration that fails", cwd=work)
    branches = ("develop", "main", "feature", "broken")
    git("push", "-q", "--force", "origin", *branches, "--tags", cwd=work)
    shas = {
        ref: git("rev-parse", f"{ref}^{{commit}}", cwd=work)
        for ref in ("develop", "feature", "v1.0", "v1.1", "broken")
    }
    return clone_checkout(root, remote), shas


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A whole single server on this machine, deployed through ./deploy.sh. Host processes
    stand in for the server's containers that cannot be pulled here: PostgreSQL
    (shared_postgres), Redis (shared_redis) and nginx (nginx-proxy, on loopback ports).
    Aletheia's own containers run from images built from the git remote, with host networking.
    Nothing is deployed yet: tests arrange what they need."""
    root = tmp_path_factory.mktemp("server")
    run_id = uuid.uuid4().hex[:6]
    http_port, https_port = 18180, 18543
    web_ports = {"dev": 18101, "staging": 18102, "prod": 18103}
    checkout, shas = make_remote(root)

    # shared PostgreSQL databases, env files (0600)
    databases = {name: f"aletheia_{name}_{run_id}" for name in SERVER_ENVIRONMENTS}
    for name in SERVER_ENVIRONMENTS:
        write_env_file(
            root / MATRIX[name].env_file,
            DATABASE_URL=f"{POSTGRES}/{databases[name]}",
            REDIS_URL="redis://127.0.0.1:6379",
            ALETHEIA_EMAIL="console",
            PORT=str(web_ports[name]),
            ALETHEIA_HEARTBEAT_SECONDS="2",
            GUNICORN_WORKERS="1",
        )

    # nginx acting as nginx-proxy: certificates (dev gets its own when a test activates it),
    # htpasswd, its own prefix
    for name in ("staging", "prod"):
        make_certificate(root, host(name))
    run_command("htpasswd", "-bc", str(root / "nginx" / ".htpasswd"), *BASIC_AUTH)
    prefix = root / "nginx-run"
    (prefix / "logs").mkdir(parents=True)
    (root / "nginx" / "conf.d").mkdir(parents=True, exist_ok=True)
    (prefix / "nginx.conf").write_text(f"""user root;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log notice;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    include {root}/nginx/conf.d/*.conf;
    server {{ listen {http_port} default_server; return 444; }}
}}
""")
    nginx = ["nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
    env = server_settings(
        root,
        checkout,
        ALETHEIA_NETWORK="host",
        ALETHEIA_NGINX_TEST=" ".join([*nginx, "-t"]),
        ALETHEIA_NGINX_RELOAD=" ".join([*nginx, "-s", "reload"]),
        ALETHEIA_NGINX_HTTP_PORT=str(http_port),
        ALETHEIA_NGINX_HTTPS_PORT=str(https_port),
        ALETHEIA_PG_CLIENT="",  # pg_dump/psql of this host (the server runs them in shared_postgres)
    )
    server = Server(root, env, shas, http_port, https_port, databases)
    try:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
            for database in databases.values():
                conn.execute(f'CREATE DATABASE "{database}"')
        run_command(*nginx)
        yield server
    finally:
        for name in SERVER_ENVIRONMENTS:
            tear_down_environment(name, env)
        run_command(*nginx, "-s", "stop", check=False)
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
            for database in databases.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        print("\ndeploy timings:", json.dumps(server.timings))

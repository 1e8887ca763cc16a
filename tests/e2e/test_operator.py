"""The operator's path, from the docs themselves (issue 15): the shell blocks of
docs/deployment/first-time-setup.md marked `<!-- operator-e2e: NAME -->` run as written on a
fresh server root in host-network mode — only the server root, the repository and the ports
substituted — with the by-hand steps done the way the page says. Then staging is deployed from
`develop`, answers 200 through nginx with credentials (a static file too, nginx's worker being
www-data, not root), and `make doctor ENV=staging` passes every check right after the deploy.
The docs and the commands cannot drift apart.

The machine's own PostgreSQL is the server's; Redis is a private `redis-server --aclfile` on a
free port (the shared test Redis must keep its default user), as a real server's Redis is
configured by the page.
"""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ops.release import deploy
from ops.server import envfile
from tests.conftest import REPO_ROOT
from tests.helpers import DOCKER, run_command, self_signed_certificate, tear_down_environment

pytestmark = pytest.mark.e2e

POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
STAGING = "aletheia-staging.groupe-suffren.com"
DOCS = REPO_ROOT / "docs" / "deployment" / "first-time-setup.md"
BLOCK = re.compile(
    r"<!-- operator-e2e: (?P<name>[a-z-]+) -->\n(?P<indent> *)```sh\n(?P<body>.*?)\n(?P=indent)```",
    re.S,
)


def documented_blocks() -> dict[str, str]:
    page = DOCS.read_text()
    return {m["name"]: textwrap.dedent(m["body"]) + "\n" for m in BLOCK.finditer(page)}


def free_port(count: int = 1) -> int:
    """A port p with p..p+count-1 free on 127.0.0.1."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65000:
            continue
        try:
            held = []
            for port in range(base, base + count):
                sock = socket.socket()
                held.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
    raise RuntimeError("no free ports")


def drop_databases() -> None:
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        for name in ("dev", "staging", "prod"):
            conn.execute(f'DROP DATABASE IF EXISTS "aletheia_{name}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "aletheia_{name}"')


@pytest.fixture(scope="module")
def operator() -> Iterator[dict]:
    # a fresh root nginx's worker (www-data) can walk to, as /opt/docker on a server
    root = Path(tempfile.mkdtemp(prefix="aletheia-operator-", dir="/tmp"))
    root.chmod(0o755)
    scratch = Path(tempfile.mkdtemp(prefix="aletheia-operator-src-"))
    remote = scratch / "aletheia.git"
    run_command("git", "clone", "-q", "--bare", str(REPO_ROOT), str(remote))
    run_command("git", "-C", str(remote), "branch", "-f", "develop", "HEAD")
    http, https, redis_port = free_port(), free_port(), free_port()
    web_base = free_port(4)
    prefix = root / "nginx-run"
    nginx = ["nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
    substitutions = {
        "/opt/docker": str(root),
        "https://github.com/groupe-suffren/aletheia.git": str(remote),
        "ALETHEIA_NGINX_TEST=nginx -t": f"ALETHEIA_NGINX_TEST={' '.join(nginx)} -t",
        "ALETHEIA_NGINX_RELOAD=nginx -s reload": f"ALETHEIA_NGINX_RELOAD={' '.join(nginx)} -s reload",
        "ALETHEIA_NGINX_HTTP_PORT=80": f"ALETHEIA_NGINX_HTTP_PORT={http}",
        "ALETHEIA_NGINX_HTTPS_PORT=443": f"ALETHEIA_NGINX_HTTPS_PORT={https}",
        "ALETHEIA_REDIS_ADDRESS=127.0.0.1:6379": f"ALETHEIA_REDIS_ADDRESS=127.0.0.1:{redis_port}",
        "ALETHEIA_WEB_PORT_BASE=8100": f"ALETHEIA_WEB_PORT_BASE={web_base}",
    }
    # what differs on this machine only (a TLS-intercepting proxy, Compose v1), as environment
    # variables: they win over server.env, as the page says
    env = {
        "ALETHEIA_SERVER_ROOT": str(root),
        "ALETHEIA_DOCKER": DOCKER,
        "ALETHEIA_COMPOSE": "docker-compose"
        if shutil.which("docker-compose")
        else f"{DOCKER} compose",
        "ALETHEIA_BUILD_NETWORK": "host",
        "ALETHEIA_HEALTH_TIMEOUT": "120",
        "ALETHEIA_BUILD_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt"
        if Path("/etc/ssl/certs/ca-certificates.crt").exists()
        else "",
    }
    state: dict = {
        "root": root,
        "env": env,
        "nginx": nginx,
        "prefix": prefix,
        "ports": {"http": http, "https": https, "redis": redis_port, "web_base": web_base},
        "substitutions": substitutions,
        "processes": [],
        "timings": {},
    }
    drop_databases()
    try:
        yield state
    finally:
        tear_down_environment("staging", env)
        run_command(*nginx, "-s", "stop", check=False)
        for process in state["processes"]:
            process.terminate()
            process.wait(timeout=10)
        drop_databases()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
        print("\noperator timings:", state["timings"])


def run_block(operator: dict, name: str) -> str:
    """One marked block of the page, substituted, run by bash as the operator would."""
    text = documented_blocks()[name]
    for old, new in operator["substitutions"].items():
        text = text.replace(old, new)
    checkout = operator["root"] / "aletheia" / "repo"
    started = time.monotonic()
    result = run_command(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        text,
        cwd=checkout if checkout.is_dir() else operator["root"],
        env=operator["env"],
    )
    operator["timings"][name] = round(time.monotonic() - started, 1)
    return result.stdout + result.stderr


def start_redis(operator: dict) -> None:
    """The server's Redis, configured as the page says: `aclfile` on the file ops writes."""
    root, port = operator["root"], operator["ports"]["redis"]
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--aclfile",
            str(root / "redis" / "users.acl"),
        ],
        stdout=subprocess.DEVNULL,
    )
    operator["processes"].append(process)
    for _ in range(50):
        if run_command("redis-cli", "-p", str(port), "ping", check=False).returncode == 0:
            return
        time.sleep(0.1)
    raise AssertionError("redis-server did not start")


def start_nginx(operator: dict, include_line: str) -> None:
    """nginx with the include line server-init printed, its worker an unprivileged user."""
    prefix = operator["prefix"]
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    (prefix / "nginx.conf").write_text(f"""user www-data;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log notice;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    {include_line}
    server {{ listen {operator["ports"]["http"]} default_server; return 444; }}
}}
""")
    run_command(*operator["nginx"])


def curl(operator: dict, path: str, auth: bool) -> int:
    port = operator["ports"]["https"]
    args = [
        "curl",
        "-sk",
        "--max-time",
        "10",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--resolve",
        f"{STAGING}:{port}:127.0.0.1",
        f"https://{STAGING}:{port}{path}",
    ]
    if auth:
        args += ["-u", "tester:s3cret"]
    return int(run_command(*args, check=False).stdout or 0)


def test_the_documented_blocks_are_there_and_substituted() -> None:
    blocks = documented_blocks()
    assert list(blocks) == ["settings", "init", "deploy"]
    text = "".join(blocks.values())
    for old in (
        "/opt/docker",
        "ALETHEIA_NETWORK=host",
        "ALETHEIA_NGINX_TEST=nginx -t",
        "ALETHEIA_REDIS_ADDRESS=127.0.0.1:6379",
        "ALETHEIA_WEB_PORT_BASE=8100",
        "make server-init APPLY=1",
        "./deploy.sh staging",
        "make doctor ENV=staging",
    ):
        assert old in text, old


def test_first_time_setup_from_the_docs(operator: dict) -> None:
    root = operator["root"]
    run_block(operator, "settings")
    assert (root / "aletheia" / "server.env").is_file()
    start_redis(operator)
    out = run_block(operator, "init")
    print(out)
    assert "Left to do by hand:" in out
    envs = root / "aletheia" / "envs"
    ports = set()
    for name in ("dev", "staging", "prod"):
        path = envs / f".env.{name}"
        assert path.stat().st_mode & 0o777 == 0o600
        values = envfile.parse(path.read_text())
        assert values["DATABASE_URL"].startswith(f"postgres://aletheia_{name}:")
        assert values["REDIS_URL"].startswith(f"redis://aletheia-{name}:")
        ports.add(values["PORT"])
    assert len(ports) == 3  # host networking: one web port each
    assert "BREVO_API_KEY" in out  # staging's email key: by hand
    include = re.search(r"nginx's http block must hold: (include .*;)", out)
    assert include is not None, out
    operator["include"] = include[1]

    # the by-hand steps, as the page lists them
    start_nginx(operator, operator["include"])
    certs = root / "nginx" / "certs" / STAGING
    self_signed_certificate(certs / "fullchain.pem", certs / "privkey.pem", STAGING)
    run_command("htpasswd", "-b", str(root / "nginx" / ".htpasswd"), "tester", "s3cret")
    envfile.set_value(envs / ".env.staging", "BREVO_API_KEY", "xkeysib-unused-by-tests")


def test_deploy_and_doctor_pass_right_after_as_the_docs_say(operator: dict) -> None:
    assert "include" in operator, "the setup test did not get through"
    out = run_block(operator, "deploy")
    print(out)
    assert "server-init: nothing to change" in out  # the second run changes nothing
    last = len(deploy.DEPLOY_STEPS)  # the deploy prints every step, numbered as the docs
    assert f"==> [{last}] {deploy.DEPLOY_STEPS[-1]}" in out
    assert "deploy: staging now runs develop" in out
    rows = [line for line in out.splitlines() if re.match(r"^  \S.*\s(PASS|WARN|FAIL)\s", line)]
    assert len(rows) >= 11, out
    assert all(" PASS " in row for row in rows), "\n".join(rows)
    assert "through nginx" in out


def test_staging_answers_through_nginx_with_credentials_and_static_files(operator: dict) -> None:
    assert curl(operator, "/healthz", auth=False) == 401
    assert curl(operator, "/healthz", auth=True) == 200
    assert curl(operator, "/static/core/aletheia.css", auth=True) == 200  # read by www-data
    static = operator["root"] / "aletheia" / "static" / "staging"
    assert (static / "core" / "aletheia.css").is_file()


def test_a_further_setup_run_changes_nothing(operator: dict) -> None:
    acl = (operator["root"] / "redis" / "users.acl").read_text()
    env_files = {p.name: p.read_text() for p in (operator["root"] / "aletheia" / "envs").iterdir()}
    out = run_block(operator, "init")
    assert "server-init: nothing to change, everything was already in place" in out, out
    assert (operator["root"] / "redis" / "users.acl").read_text() == acl
    assert {
        p.name: p.read_text() for p in (operator["root"] / "aletheia" / "envs").iterdir()
    } == env_files
    assert os.stat(operator["root"] / "aletheia" / "envs").st_mode & 0o777 == 0o700

"""What the end-to-end tests share: a server root on this machine driven only through ops'
command line (`make …`, `./deploy.sh`, `python3 -m ops …`) and observed through its outputs (the
release logs, backups and nginx configs under the server root) and real requests: `Server`.

The whole single server (tests/e2e/server/) and the shared-network topology
(test_shared_network.py) each build one. Tests never rely on what an earlier test did: each
arranges the state it needs (`Server.ensure_deployed`, `Server.without_certificate`, …), so any
one of them passes alone, and in any order.
"""

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from ops.server import environments
from tests.e2e.load import REPORTED
from tests.helpers import (
    DOCKER,
    HEALTH_TOKEN,
    REPO_ROOT,
    run_command,
    self_signed_certificate,
)

POSTGRES = "postgres://postgres@127.0.0.1:5432"
MATRIX = environments.load()
SERVER_ENVIRONMENTS = tuple(environments.server_environments())  # dev, staging, prod
COMPOSE = ["docker-compose"] if shutil.which("docker-compose") else [DOCKER, "compose"]
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# what nginx asks for on the environments with basic auth (proxy_auth = "basic")
BASIC_AUTH = ("tester", "s3cret")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The figures load tests measured (requests sent and failed, latency, memory), whether
    or not their output was captured."""
    if REPORTED:
        terminalreporter.section("figures measured under load")
        for name, figures in REPORTED:
            terminalreporter.write_line(f"{name}: {json.dumps(figures)}")


def host(environment: str) -> str:
    """The environment's host name, from environments.toml."""
    return MATRIX[environment].host


def poll(check: Callable[[], object], seconds: float) -> bool:
    """Whether `check` returns something true within `seconds` (tried every half second)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)
    return True


def wait_until(check: Callable[[], object], what: str, seconds: float = 60) -> None:
    assert poll(check, seconds), f"{what}: not within {seconds:.0f}s"


def server_settings(root: Path, checkout: Path, **overrides: str) -> dict[str, str]:
    """The ALETHEIA_* variables ops reads for a server rooted at `root` on this machine."""
    return {
        "ALETHEIA_SERVER_ROOT": str(root),
        "ALETHEIA_CHECKOUT": str(checkout),
        "ALETHEIA_DOCKER": DOCKER,
        "ALETHEIA_COMPOSE": " ".join(COMPOSE),
        "ALETHEIA_BUILD_NETWORK": "host",
        "ALETHEIA_HEALTH_TIMEOUT": "120",
        "ALETHEIA_BUILD_CA_BUNDLE": str(CA_BUNDLE) if CA_BUNDLE.exists() else "",
        **overrides,
    }


def git(*args: str, cwd: Path) -> str:
    return run_command("git", *args, cwd=cwd).stdout.strip()


def bare_remote(root: Path) -> Path:
    """A bare clone of this repository (its committed HEAD), for the server to deploy from."""
    remote = root / "remote.git"
    run_command("git", "clone", "-q", "--bare", str(REPO_ROOT), str(remote))
    return remote


def clone_checkout(root: Path, remote: Path) -> Path:
    """The server's checkout of the remote (root/aletheia/repo), where ops fetches and builds."""
    checkout = root / "aletheia" / "repo"
    run_command("git", "clone", "-q", str(remote), str(checkout))
    return checkout


def certificate_dir(root: Path, host_name: str) -> Path:
    """Where the server keeps a host's certificate (nginx-proxy's certs folder)."""
    return root / "nginx" / "certs" / host_name


def make_certificate(root: Path, host_name: str) -> None:
    directory = certificate_dir(root, host_name)
    self_signed_certificate(directory / "fullchain.pem", directory / "privkey.pem", host_name)


@dataclass(frozen=True)
class Response:
    status: int  # 0: no answer
    headers: dict[str, str]  # names in lower case
    body: str

    def json(self) -> dict:
        return json.loads(self.body)


def curl(
    host_name: str,
    path: str,
    port: int,
    *,
    https: bool = True,
    auth: bool = False,
    token: bool = True,
) -> Response:
    """One request to nginx on 127.0.0.1:`port` with the real host name (SNI and Host), as a
    browser would send it (plus, with `token`, the health token monitoring sends)."""
    scheme = "https" if https else "http"
    with tempfile.TemporaryDirectory() as scratch:
        head_file, body_file = Path(scratch, "head"), Path(scratch, "body")
        args = [
            "curl",
            "-sk",
            "--max-time",
            "10",
            "-D",
            str(head_file),
            "-o",
            str(body_file),
            "--resolve",
            f"{host_name}:{port}:127.0.0.1",
            f"{scheme}://{host_name}:{port}{path}",
        ]
        if auth:
            args += ["-u", ":".join(BASIC_AUTH)]
        if token:  # what monitoring sends to read /healthz's details through nginx
            args += ["-H", f"X-Health-Token: {HEALTH_TOKEN}"]
        subprocess.run(args, capture_output=True, text=True, timeout=20)
        head = head_file.read_text() if head_file.exists() else ""
        body = body_file.read_text() if body_file.exists() else ""
    lines = [line for line in head.splitlines() if line.strip()]
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP") else 0
    headers = {
        k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
    }
    return Response(status, headers, body)


@dataclass
class Server:
    """A server root on this machine (ALETHEIA_SERVER_ROOT), its checkout of a git remote, and
    nginx on loopback ports, driven through ops' command line."""

    root: Path
    env: dict[str, str]  # ALETHEIA_* settings for every ops command
    shas: dict[str, str]  # the remote's refs -> commits
    http_port: int
    https_port: int
    databases: dict[str, str] = field(default_factory=dict)  # environment -> database name
    timings: dict[str, list[float]] = field(default_factory=dict)  # deploys, printed at the end

    # --- ops' command line --------------------------------------------------------------

    def make(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_command("make", "--no-print-directory", *args, env=self.env, check=check)

    def ops(
        self, *args: str, check: bool = True, **extra_env: str
    ) -> subprocess.CompletedProcess[str]:
        return run_command(
            "python3", "-m", "ops", *args, env={**self.env, **extra_env}, check=check
        )

    def deploy(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """./deploy.sh ARGS, timed."""
        started = time.monotonic()
        result = run_command("./deploy.sh", *args, env=self.env, check=check)
        self.timings.setdefault(" ".join(args), []).append(round(time.monotonic() - started, 1))
        return result

    # --- what ops leaves on the server ---------------------------------------------------

    @property
    def state_dir(self) -> Path:
        return self.root / "aletheia" / "state"

    @property
    def conf_dir(self) -> Path:
        return self.root / "nginx" / "conf.d"

    def env_file(self, environment: str) -> Path:
        return self.root / MATRIX[environment].env_file

    def log(self, name: str) -> list[dict]:
        """A JSON-lines log in the state dir (releases-ENV, restores-ENV), oldest first."""
        path = self.state_dir / f"{name}.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [json.loads(line) for line in lines if line.strip()]

    def current_sha(self, environment: str) -> str | None:
        """The commit of the environment's last successful release (deploy or rollback)."""
        good = [r for r in self.log(f"releases-{environment}") if r["result"] == "succeeded"]
        return str(good[-1]["sha"]) if good else None

    def backups(self, environment: str) -> list[Path]:
        """The environment's backups, oldest first (their names sort by time)."""
        return sorted((self.root / "backups" / environment).glob("*.dump"))

    def database_url(self, environment: str) -> str:
        return f"{POSTGRES}/{self.databases[environment]}"

    def image_kept(self, ref: str) -> bool:
        image = f"aletheia:{self.shas[ref]}"
        return run_command(DOCKER, "image", "inspect", image, check=False).returncode == 0

    # --- requests through nginx ---------------------------------------------------------

    def curl(
        self,
        environment: str,
        path: str,
        *,
        https: bool = True,
        auth: bool = False,
        token: bool = True,
    ) -> Response:
        port = self.https_port if https else self.http_port
        return curl(host(environment), path, port, https=https, auth=auth, token=token)

    def settle(
        self,
        environment: str,
        expected: int,
        path: str = "/healthz",
        *,
        https: bool = True,
        seconds: float = 20,
    ) -> None:
        """nginx reloads gracefully: for a moment old and new workers both accept connections
        (and prod's rate limit may still be spent). Wait (bounded) until the environment
        answers `expected` five times in a row."""
        auth = MATRIX[environment].proxy_auth == "basic" and expected != 401
        deadline, in_a_row = time.monotonic() + seconds, 0
        while in_a_row < 5 and time.monotonic() < deadline:
            status = self.curl(environment, path, https=https, auth=auth).status
            in_a_row = in_a_row + 1 if status == expected else 0
            time.sleep(0.2)

    def served_release(self, environment: str, expected: str = "", seconds: float = 30) -> str:
        """The sha the environment serves through nginx, once it is `expected` (or once it
        answers at all, without `expected`); the last seen after `seconds`."""
        deadline, seen = time.monotonic() + seconds, ""
        while time.monotonic() < deadline:
            response = self.curl(environment, "/healthz", auth=True)
            seen = (
                response.json()["release"] if response.status == 200 else f"HTTP {response.status}"
            )
            if seen == expected or (not expected and response.status == 200):
                break
            time.sleep(0.3)
        return seen

    def wait_for_beat(self, environment: str, seconds: float = 60) -> None:
        """Wait until the environment's beat has run since its app last started (its release
        went live, or a restore started it again). Starting, beat adds the periodic tasks it
        keeps itself (celery.backend_cleanup): after this, the database holds still."""
        entries = [*self.log(f"releases-{environment}"), *self.log(f"restores-{environment}")]
        started = max(datetime.fromisoformat(str(entry["at"])) for entry in entries)

        def beat_ran() -> bool:
            response = self.curl(environment, "/healthz", auth=True)
            seen = response.json().get("beat_last_seen") if response.status == 200 else None
            return seen is not None and datetime.fromisoformat(seen) > started

        wait_until(beat_ran, f"{environment}: beat running since {started}", seconds)

    def containers_report(self, environment: str) -> str:
        """What runs for the environment, and the last lines of each container (for a failing
        assertion's message)."""
        listed = run_command(
            DOCKER,
            "ps",
            "-a",
            "--format",
            '{{.Names}}\t{{.Status}}\t{{.Label "com.docker.compose.project"}}',
            check=False,
        ).stdout.splitlines()
        mine = [line for line in listed if f"\taletheia-{environment}" in line]
        report = ["containers:", *mine]
        for line in mine:
            name = line.split("\t")[0]
            logs = run_command(DOCKER, "logs", "--tail", "15", name, check=False)
            report += [f"--- {name}", (logs.stdout + logs.stderr)[-3000:]]
        return "\n".join(report)

    # --- arranging a state --------------------------------------------------------------

    def ensure_deployed(self, environment: str, ref: str) -> None:
        """Deploy `ref` unless the release log says the environment already runs its commit."""
        if self.current_sha(environment) != self.shas[ref]:
            self.deploy(environment, ref)

    def ensure_baseline(self) -> None:
        """Every environment runs what the scenario deploys first: dev develop, staging the
        feature branch, prod v1.0."""
        for environment, ref in BASELINE.items():
            self.ensure_deployed(environment, ref)

    def remove_certificate(self, environment: str) -> None:
        shutil.rmtree(certificate_dir(self.root, host(environment)), ignore_errors=True)

    def without_certificate(self, environment: str) -> None:
        """The environment runs its baseline release with no certificate, so it serves the 503
        placeholder (a deploy without a certificate puts it in place of the full config)."""
        self.remove_certificate(environment)
        baseline = self.shas[BASELINE[environment]]
        placeholder = self.curl(environment, "/", https=False).status == 503
        if self.current_sha(environment) != baseline or not placeholder:
            self.deploy(environment, BASELINE[environment])
            self.settle(environment, 503, "/", https=False)

    def ensure_activated(self, environment: str) -> None:
        """The environment has its certificate and the full nginx config is active."""
        self.ensure_deployed(environment, BASELINE[environment])
        if not (certificate_dir(self.root, host(environment)) / "fullchain.pem").exists():
            make_certificate(self.root, host(environment))
        self.make("nginx-activate", f"ENV={environment}")


BASELINE = {"dev": "develop", "staging": "feature", "prod": "v1.0"}

"""`make doctor ENV=…`: is this environment's part of the server in order? A pass/fail table.

Each check is a small function returning (result, detail); none changes anything. The database
and Redis are checked from inside the running web container by the release itself
(`manage.py probe --json`), so what is checked is what the release really uses (the env file's
DATABASE_URL, the matrix's Redis db numbers).
"""

import base64
import datetime
import http.client
import json
import shutil
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.core.runner import Refusal, Runner
from ops.data import backups
from ops.edge import nginx
from ops.runtimes import app
from ops.server import envfile, environments
from ops.server.settings import ServerSettings
from ops.server.target import Target

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
CERTIFICATE_WARN_DAYS = 14


@dataclass(frozen=True)
class Check:
    name: str
    result: str
    detail: str


@dataclass
class Context:
    target: Target
    runner: Runner
    probe: dict[str, Any] | None = None  # manage.py probe --json
    probe_error: str = ""

    @property
    def environment(self) -> environments.Environment:
        return self.target.environment

    @property
    def settings(self) -> ServerSettings:
        return self.target.server


def check_env_file(ctx: Context) -> tuple[str, str]:
    env_file = ctx.target.env_file
    if env_file.problems:
        return FAIL, "; ".join(env_file.problems)
    if env_file.warnings:
        return WARN, "; ".join(env_file.warnings)
    return PASS, f"{env_file.path}: mode 600, required keys present"


def run_probe(ctx: Context) -> None:
    current = ctx.target.current_release()
    if current is None:
        ctx.probe_error = "nothing deployed yet"
        return
    app.use_image(ctx.target, ctx.runner, str(current["sha"]))
    try:
        probe = app.web_exec(ctx.target, ctx.runner, "python3", "manage.py", "probe", "--json")
    except Refusal as exc:  # swarm: no web task on this node
        ctx.probe_error = str(exc)
        return
    result = ctx.runner.run(probe, check=False, capture=True, mutating=False)
    try:
        ctx.probe = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        ctx.probe_error = (
            "web container not answering: "
            + ((result.stderr or result.stdout).strip().splitlines() or ["no output"])[-1][:200]
        )


def other_environments_databases(ctx: Context) -> dict[str, str]:
    found = {}
    for name, other in environments.server_environments().items():
        path = ctx.settings.root / other.env_file
        if name == ctx.environment.name or not path.is_file():
            continue
        try:
            url = envfile.parse(path.read_text()).get("DATABASE_URL", "")
            found[name] = backups.Database.from_url(url).name
        except (OSError, backups.BackupRefused):
            continue
    return found


def check_database(ctx: Context) -> tuple[str, str]:
    if ctx.probe is None:
        return FAIL, f"not checked: {ctx.probe_error}"
    name, status = ctx.probe["database"]
    if status != "ok":
        return FAIL, f"{name} unreachable from the web container: {status}"
    shared = [env for env, db in other_environments_databases(ctx).items() if db == name]
    if shared:
        return FAIL, f"{name} is also {', '.join(shared)}'s database"
    if name != ctx.environment.database:
        return WARN, f"{name} reachable, but environments.toml says {ctx.environment.database}"
    return PASS, f"{name} reachable, used by {ctx.environment.name} only"


def check_redis(ctx: Context) -> tuple[str, str]:
    if ctx.probe is None:
        return FAIL, f"not checked: {ctx.probe_error}"
    (cache_db, cache), (broker_db, broker) = ctx.probe["cache"], ctx.probe["broker"]
    expected = list(ctx.environment.redis_dbs)
    detail = f"cache db {cache_db}, broker db {broker_db} (environments.toml: {expected[0]}, {expected[1]})"
    if [cache_db, broker_db] != expected:
        return FAIL, f"wrong db numbers: {detail}"
    failing = [
        f"{role}: {status}"
        for role, status in (("cache", cache), ("broker", broker))
        if status != "ok"
    ]
    if failing:
        return FAIL, f"{detail}; unreachable: {'; '.join(failing)}"
    return PASS, f"{detail}, both answer"


def check_redis_auth(ctx: Context) -> tuple[str, str]:
    """The server's Redis answers nobody without credentials (its default user is off)."""
    if ctx.probe is None:
        return FAIL, f"not checked: {ctx.probe_error}"
    answer = ctx.probe.get("redis_without_credentials")
    if answer == "refused":
        return PASS, "a client without credentials is refused; the environment has its own user"
    if answer == "open":
        return FAIL, "Redis answers without credentials: python3 -m ops isolation --apply"
    return WARN, f"not checked: {answer}"


def check_database_role(ctx: Context) -> tuple[str, str]:
    """The environment's role is no superuser and can open no other environment's database."""
    if ctx.probe is None:
        return FAIL, f"not checked: {ctx.probe_error}"
    role = ctx.probe.get("database_role") or {}
    assert isinstance(role, dict)
    if role.get("superuser"):
        return (
            FAIL,
            "the env file's database role is a superuser: give the environment its own role",
        )
    reachable = set(role.get("other_databases") or [])
    theirs = sorted(
        f"{env}'s {db}" for env, db in other_environments_databases(ctx).items() if db in reachable
    )
    if theirs:
        detail = f"the role can connect to {', '.join(theirs)}: python3 -m ops isolation --apply"
        return FAIL, detail
    return PASS, "no other environment's database, no superuser"


def seconds_since_release(ctx: Context) -> float | None:
    """How long ago the current release started running (its release-log entry)."""
    current = ctx.target.current_release()
    try:
        at = datetime.datetime.strptime(str((current or {})["at"]), "%Y-%m-%dT%H:%M:%S%z")
    except (KeyError, ValueError):
        return None
    return time.time() - at.timestamp()


def check_workers(ctx: Context) -> tuple[str, str]:
    """Beat schedules the heartbeat task, a worker runs it: a recent one proves both. Right
    after a deploy the first heartbeat has had no time yet: a grace period of the same
    3 intervals + 30 s, counted from the release's start."""
    if ctx.probe is None:
        return FAIL, f"not checked: {ctx.probe_error}"
    every, age = ctx.probe["heartbeat"]
    assert isinstance(every, float)
    grace = 3 * every + 30
    if age is None or age > grace:
        since = seconds_since_release(ctx)
        if since is not None and since <= grace:
            return PASS, (
                f"waiting for the first heartbeat of this release, started {since:.0f}s ago "
                f"(grace {grace:.0f}s: beat schedules it every {every:.0f}s)"
            )
    if age is None:
        return FAIL, "no heartbeat ever: beat or the worker is not running"
    assert isinstance(age, float)
    detail = (
        f"last heartbeat {age:.0f}s ago (beat schedules it every {every:.0f}s, a worker runs it)"
    )
    if age > grace:
        return FAIL, f"{detail}: beat or the worker has stopped"
    return PASS, detail


def check_nginx(ctx: Context) -> tuple[str, str]:
    result = ctx.runner.run(
        list(ctx.settings.nginx_test), check=False, capture=True, mutating=False
    )
    if result.returncode != 0:
        return FAIL, "nginx -t: " + (result.stderr or result.stdout).strip().splitlines()[-1][:200]
    active = ctx.settings.nginx_dir / f"aletheia-{ctx.environment.name}.conf"
    full = active.with_name(active.name + ".full")
    if not active.exists():
        return FAIL, f"nginx -t ok, but {active} is missing (deploy first)"
    if not full.exists() or active.read_text() != full.read_text():
        return (
            WARN,
            f"nginx -t ok; the 503 placeholder is active (make nginx-activate ENV={ctx.environment.name})",
        )
    return PASS, "nginx -t ok; the full config is active"


def certificate_days_left(ctx: Context, certificate: Path) -> int | None:
    result = ctx.runner.run(
        ["openssl", "x509", "-enddate", "-noout", "-in", str(certificate)],
        check=False,
        capture=True,
        mutating=False,
    )
    if result.returncode != 0 or "=" not in result.stdout:
        return None
    not_after = time.mktime(
        time.strptime(result.stdout.split("=", 1)[1].strip(), "%b %d %H:%M:%S %Y %Z")
    )
    return int((not_after - time.mktime(time.gmtime())) // 86400)


def check_certificate(ctx: Context) -> tuple[str, str]:
    folder = ctx.settings.cert_dir / nginx.host_name(ctx.environment)
    missing = [
        p.name for p in (folder / "fullchain.pem", folder / "privkey.pem") if not p.is_file()
    ]
    if missing:
        return FAIL, f"missing in {folder}: {', '.join(missing)}"
    days = certificate_days_left(ctx, folder / "fullchain.pem")
    if days is None:
        return FAIL, f"{folder / 'fullchain.pem'} is not a readable certificate"
    if days < 0:
        return FAIL, f"{nginx.host_name(ctx.environment)}: expired {-days} days ago"
    detail = f"{nginx.host_name(ctx.environment)}: {days} days to expiry"
    return (WARN if days < CERTIFICATE_WARN_DAYS else PASS), detail


def check_backup_space(ctx: Context) -> tuple[str, str]:
    folder = backups.directory(ctx.settings, ctx.environment.name)
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    free = shutil.disk_usage(existing).free
    kept = backups.dumps(ctx.settings, ctx.environment.name)
    last = kept[-1] if kept else None
    needed = backups.free_space_needed(last)
    said = (
        f"last backup {last.name} ({backups.human(last.stat().st_size)})"
        if last
        else "no backup yet"
    )
    detail = f"{backups.human(free)} free in {existing}, {backups.human(needed)} needed; {said}"
    return (PASS if free >= needed else FAIL), detail


def check_release(ctx: Context) -> tuple[str, str]:
    current = ctx.target.current_release()
    if current is None:
        return FAIL, "nothing deployed yet"
    label = f"{current.get('ref')} ({str(current['sha'])[:12]})"
    try:
        health = ctx.runner.run(
            app.web_health(ctx.target, ctx.runner), check=False, capture=True, mutating=False
        )
    except Refusal as exc:  # swarm: no web task on this node
        return FAIL, f"{label}: {exc}"
    if health.returncode != 0:
        return (
            FAIL,
            f"{label}: /healthz not 200 ({(health.stdout or health.stderr).strip()[-160:]})",
        )
    running = str(ctx.probe.get("release", "")) if ctx.probe else ""
    if running and running != current["sha"]:
        return FAIL, f"the release log says {label}, the web container runs {running[:12]}"
    return PASS, f"{label} healthy: /healthz 200"


STATIC_PROBE = "/static/core/aletheia.css"  # a file every release ships
DOCTOR_USER = "aletheia-doctor"  # its password: ServerSettings.doctor_credentials (server-init)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to nginx's address with the environment's host name as SNI and Host."""

    def __init__(self, address: str, host: str, port: int, timeout: float) -> None:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = (
            False,
            ssl.CERT_NONE,
        )  # the certificate row checks it
        super().__init__(host, port, timeout=timeout, context=context)
        self._address, self._tls = address, context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def fetch_through_nginx(ctx: Context, path: str) -> int:
    """The status nginx answers for `path` of this environment, as a browser would ask it."""
    settings, host = ctx.settings, nginx.host_name(ctx.environment)
    address, port = nginx_address(settings)
    connection = _PinnedHTTPS(address, host, port, 10)
    headers = {"Host": host, "User-Agent": "aletheia-doctor"}
    credentials = doctor_credentials(settings)
    if ctx.environment.proxy_auth == "basic" and credentials:
        headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
    try:
        connection.request("GET", path, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def nginx_address(settings: ServerSettings) -> tuple[str, int]:
    """Where this host reaches nginx's HTTPS: ALETHEIA_NGINX_ADDRESS, `host` (on nginx's
    HTTPS port) or `host:port` (a container's port published elsewhere)."""
    host, _, port = settings.nginx_address.partition(":")
    return host, int(port) if port else settings.nginx_https_port


def doctor_credentials(settings: ServerSettings) -> str:
    path = settings.doctor_credentials
    return path.read_text().strip() if path.is_file() else ""


def check_through_nginx(ctx: Context) -> tuple[str, str]:
    """What a visitor gets: /healthz and a static file through nginx, with the real Host."""
    if ctx.target.current_release() is None:
        return FAIL, "nothing deployed yet"
    files = nginx.paths(ctx.environment, ctx.settings)
    if not files["active"].exists() or (
        files["full"].exists() and files["active"].read_text() != files["full"].read_text()
    ):
        return WARN, "not checked: the full nginx config is not active"
    where = "{}:{}".format(*nginx_address(ctx.settings))
    try:
        answers = {path: fetch_through_nginx(ctx, path) for path in ("/healthz", STATIC_PROBE)}
    except OSError as exc:
        return FAIL, f"nginx at {where} not answering: {exc}"
    said = ", ".join(f"{path} {status}" for path, status in answers.items())
    if all(status == 200 for status in answers.values()):
        return PASS, f"https://{nginx.host_name(ctx.environment)} via {where}: {said}"
    if set(answers.values()) == {401} and not doctor_credentials(ctx.settings):
        return WARN, (
            f"{said}: basic auth asked, and the doctor has no credentials "
            f"({ctx.settings.doctor_credentials}: make server-init writes them)"
        )
    hint = (
        f" (static files: is {ctx.settings.static_host_dir(ctx.environment.name)} readable by nginx?)"
        if answers[STATIC_PROBE] in (403, 404)
        else ""
    )
    return FAIL, f"{said}{hint}"


CHECKS: list[tuple[str, Callable[[Context], tuple[str, str]]]] = [
    ("env file", check_env_file),
    ("database", check_database),
    ("redis", check_redis),
    ("redis auth", check_redis_auth),
    ("database role", check_database_role),
    ("worker and beat", check_workers),
    ("nginx config", check_nginx),
    ("certificate", check_certificate),
    ("backup disk space", check_backup_space),
    ("running release", check_release),
    ("through nginx", check_through_nginx),
]


def examine(target: Target, runner: Runner) -> list[Check]:
    ctx = Context(target, runner)
    run_probe(ctx)
    found = []
    for label, check in CHECKS:
        try:
            result, detail = check(ctx)
        except Exception as exc:  # a check that breaks is a failed check, not a crashed doctor
            result, detail = FAIL, f"check crashed: {exc!r}"[:200]
        found.append(Check(label, result, detail))
    return found


def table(name: str, checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"doctor {name}", f"  {'CHECK':<{width}}  RESULT  DETAIL"]
    lines += [f"  {c.name:<{width}}  {c.result:<6}  {c.detail}" for c in checks]
    counts = {r: sum(c.result == r for c in checks) for r in (PASS, WARN, FAIL)}
    lines.append(
        f"{len(checks)} checks: {counts[PASS]} passed, {counts[WARN]} warning(s), {counts[FAIL]} failed"
    )
    return "\n".join(lines)

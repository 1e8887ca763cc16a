"""`make doctor ENV=…`: is this environment's part of the server in order? A pass/fail table.

Each check is a small function returning (result, detail); none changes anything. The database
and Redis are checked from inside the running web container by the release itself
(`manage.py probe --json`), so what is checked is what the release really uses (the env file's
DATABASE_URL, the matrix's Redis db numbers).
"""

import datetime
import json
import shutil
import time
from collections.abc import Callable

from ops.core.runner import Refusal, Runner
from ops.data import backups
from ops.doctor.context import FAIL, PASS, WARN, Check, Context
from ops.doctor.edge import (
    check_certificate,
    check_nginx,
    check_through_nginx,
)
from ops.runtimes import app, runtime
from ops.server import envfile, environments
from ops.server.target import Target


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
        probe = runtime.of(ctx.target).web_exec(
            ctx.target, ctx.runner, "python3", "manage.py", "probe", "--json"
        )
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
            runtime.web_health(ctx.target, ctx.runner), check=False, capture=True, mutating=False
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

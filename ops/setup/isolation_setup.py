"""Apply the isolation rules of ops/setup/isolation.py on the server: `python3 -m ops isolation`
(roles and databases in PostgreSQL, the Redis ACL file) and `rotate-redis-password`.

Every password comes from the environments' env files (DATABASE_URL, REDIS_URL), so the env
file stays the one place an environment's secrets live.
"""

import os
import secrets
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from ops.core.runner import Refusal, Runner
from ops.data import backups
from ops.runtimes import runtime
from ops.server import envfile
from ops.server.settings import ServerSettings
from ops.server.target import Target
from ops.setup import isolation
from ops.steps.attempt import Attempt


@dataclass(frozen=True)
class RedisCredentials:
    user: str
    password: str

    @classmethod
    def of(cls, target: Target) -> "RedisCredentials":
        url = urllib.parse.urlsplit(target.env_file.get("REDIS_URL"))
        expected = isolation.redis_user(target.environment)
        if url.username != expected or not url.password:
            raise Refusal(
                f"{target.env_file.path}: REDIS_URL must name the user {expected} and its "
                f"password (redis://{expected}:PASSWORD@host:6379): "
                f"python3 -m ops rotate-redis-password {target.name} writes one"
            )
        return cls(urllib.parse.unquote(url.username), urllib.parse.unquote(url.password))


def with_redis_password(url: str, user: str, password: str) -> str:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "shared_redis"
    netloc = f"{user}:{urllib.parse.quote(password, safe='')}@{host}" + (
        f":{parts.port}" if parts.port else ""
    )
    return urllib.parse.urlunsplit((parts.scheme or "redis", netloc, parts.path, parts.query, ""))


def admin_password(server: ServerSettings, runner: Runner) -> str:
    """The ACL admin's password, generated (0600) the first time."""
    path = server.redis_admin_password_file
    if not path.exists() and not runner.dry_run:
        path.parent.mkdir(parents=True, exist_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
        runner.say(f"    generated the Redis admin password in {path}")
    return path.read_text().strip() if path.exists() else "dry-run"


def write_acl_file(server: ServerSettings, runner: Runner, rules: list[str]) -> Path:
    path = server.redis_acl_file
    text = isolation.redis_acl_file(rules, admin_password(server, runner))
    if runner.dry_run:
        runner.say(
            f"    would write {path}:\n" + "".join(f"      {line}\n" for line in text.splitlines())
        )
        return path
    if path.is_file() and path.read_text() == text:
        runner.say(f"    {path}: unchanged")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.chmod(0o644)  # read by the Redis server; it holds SHA-256 digests, no password
    partial.replace(path)
    runner.say(f"    wrote {path} ({len(rules)} environment user(s), default user off)")
    return path


NOT_LOADED_YET = ("not configured to use an ACL file", "WRONGPASS", "NOAUTH", "Could not connect")


def acl_load(server: ServerSettings, runner: Runner) -> bool:
    """Make the running Redis read the ACL file. A Redis not yet started with `aclfile` (a
    fresh server) is told how to load it; an ACL file Redis rejects is a refusal."""
    runner.env["REDISCLI_AUTH"] = admin_password(server, runner)
    result = runner.run([*server.redis_admin, "ACL", "LOAD"], check=False, capture=True)
    said = (result.stdout + result.stderr).strip()
    if result.returncode == 0 and not said.startswith(("ERR", "NOAUTH", "WRONGPASS")):
        return True
    if runner.dry_run:
        return False
    if any(reason in said for reason in NOT_LOADED_YET):
        runner.say(
            f"    not loaded yet ({said[-120:]}): start (or restart) the server's Redis with "
            f"`--aclfile` reading {server.redis_acl_file} (docs/deployment/security.md)"
        )
        return False
    raise Refusal(f"Redis refused {server.redis_acl_file}: {said[-200:]}")


def apply_postgres(target: Target, runner: Runner) -> None:
    database = backups.Database.from_url(target.env_file.get("DATABASE_URL"))
    sql = isolation.postgres_setup_sql(database.name, database.user)
    variable = (
        f"\\set {isolation.PASSWORD_VARIABLE} '{database.password.replace(chr(39), chr(39) * 2)}'\n"
    )
    runner.run(
        [*target.server.pg_admin, "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "--dbname", "postgres"],
        stdin=variable + sql,
        capture=True,
    )
    runner.say(f"    {database.user} owns {database.name}; CONNECT revoked from PUBLIC")


def isolate(targets: list[Target], runner: Runner, apply: bool) -> None:
    """Print (or apply) each environment's PostgreSQL role and database, then the Redis ACL
    file for every environment whose env file names its Redis user."""
    rules = []
    for target in targets:
        database = backups.Database.from_url(target.env_file.get("DATABASE_URL"))
        credentials = RedisCredentials.of(target)
        rules.append(isolation.redis_acl_rule(target.environment, credentials.password))
        with runner.step(f"postgres: {target.name}"):
            if apply:
                apply_postgres(target, runner)
            else:
                runner.say(
                    f"-- as a superuser: psql -v {isolation.PASSWORD_VARIABLE}=<the password in "
                    f"{target.env_file.path.name}> -f -\n"
                    + isolation.postgres_setup_sql(database.name, database.user)
                )
    with runner.step("redis ACL"):
        if apply:
            write_acl_file(targets[0].server, runner, all_rules(targets[0].server, rules, targets))
            acl_load(targets[0].server, runner)
        else:
            for rule in rules:
                runner.say("    " + rule)


def all_rules(server: ServerSettings, rules: list[str], targets: list[Target]) -> list[str]:
    """The given environments' rules, plus the rules of the others already in the file."""
    named = {f"user {isolation.redis_user(t.environment)} " for t in targets}
    path = server.redis_acl_file
    kept = [
        line
        for line in (path.read_text().splitlines() if path.exists() else [])
        if line.startswith("user aletheia-")
        and not line.startswith("user aletheia-admin ")
        and not any(line.startswith(prefix) for prefix in named)
    ]
    return [*kept, *rules]


def rotate_redis_password(target: Target, runner: Runner, this: Attempt | None = None) -> None:
    """A new password without a failed request: the user accepts both while the app restarts
    with the new one, then the old one is removed."""
    server, env_path = target.server, target.env_file.path
    old = urllib.parse.urlsplit(target.env_file.get("REDIS_URL")).password
    new = secrets.token_urlsafe(32)
    user = isolation.redis_user(target.environment)
    both = isolation.redis_acl_rule(target.environment, new)
    if old:
        both += " #" + isolation.password_digest(urllib.parse.unquote(old))
    with runner.step("redis: accept both passwords"):
        write_acl_file(server, runner, all_rules(server, [both], [target]))
        if not acl_load(server, runner) and not runner.dry_run:
            raise Refusal("the server's Redis did not load the ACL file: the password is unchanged")
    with runner.step("env file"):
        url = with_redis_password(target.env_file.get("REDIS_URL"), user, new)
        if runner.dry_run:
            runner.say(f"    would set REDIS_URL in {env_path}")
        else:
            envfile.set_value(env_path, "REDIS_URL", url)
            runner.say(f"    REDIS_URL in {env_path} now carries the new password")
    current = target.current_release()
    if current:
        with runner.step("restart the app"):
            runtime.start_healthy(target, runner, str(current["sha"]), this)
    with runner.step("redis: the new password only"):
        rule = isolation.redis_acl_rule(target.environment, new)
        write_acl_file(server, runner, all_rules(server, [rule], [target]))
        acl_load(server, runner)

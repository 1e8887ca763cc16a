"""Environments sharing one Redis cannot reach each other (ops/setup/isolation.py), tried against the
real Redis with the ACL rules ops generates: a staging user gets NOPERM on prod's keys, channels
and every whole-server command, while the app itself — cache, Celery broker and results, a real
worker started as docker/start starts it — works under its own user."""

import dataclasses
import os
import pickle
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from ops.server import environments
from ops.setup import isolation
from tests.conftest import DEFAULT_REDIS_URL, REPO_ROOT, run_django

MATRIX = environments.server_environments()


@dataclasses.dataclass(frozen=True)
class RedisUser:
    environment: environments.Environment
    password: str

    def url(self, db: int) -> str:
        host = DEFAULT_REDIS_URL.removeprefix("redis://")
        return f"redis://{isolation.redis_user(self.environment)}:{self.password}@{host}/{db}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis.from_url(self.url(db), socket_timeout=5)


@pytest.fixture
def users() -> Iterator[dict[str, RedisUser]]:
    """prod and staging users, named for this test only, created on the real Redis with the
    rules ops writes into the server's ACL file."""
    admin = redis.Redis.from_url(DEFAULT_REDIS_URL)
    run = uuid.uuid4().hex[:6]
    made = {}
    for name in ("prod", "staging"):
        environment = dataclasses.replace(MATRIX[name], name=f"{name}{run}")
        user = RedisUser(environment, uuid.uuid4().hex)
        rule = isolation.redis_acl_rule(environment, user.password).split()
        assert rule[:2] == ["user", isolation.redis_user(environment)]
        admin.execute_command("ACL", "SETUSER", *rule[1:])
        made[name] = user
    try:
        yield made
    finally:
        for user in made.values():
            admin.execute_command("ACL", "DELUSER", isolation.redis_user(user.environment))
            for key in admin.scan_iter(f"{isolation.redis_key_prefix(user.environment)}:*"):
                admin.delete(key)


def refused(call: object) -> str:
    with pytest.raises(redis.exceptions.NoPermissionError) as caught:
        call()  # type: ignore[operator]
    return str(caught.value)


def test_staging_cannot_read_write_delete_or_flush_prods_keys(users: dict[str, RedisUser]) -> None:
    prod, staging = users["prod"], users["staging"]
    prod_key = f"{isolation.redis_key_prefix(prod.environment)}:1:aletheia:beat:last"
    prod.client(0).set(prod_key, "prod's value")
    attacker = staging.client(0)
    assert "no permissions to access one of the keys" in refused(lambda: attacker.get(prod_key))
    refused(lambda: attacker.set(prod_key, "planted"))
    refused(lambda: attacker.delete(prod_key))
    refused(
        lambda: attacker.rpush(f"{isolation.redis_key_prefix(prod.environment)}:celery", "task")
    )
    refused(lambda: attacker.publish(f"{isolation.redis_key_prefix(prod.environment)}:x", "hi"))
    for command in (
        ["FLUSHDB"],
        ["FLUSHALL"],
        ["KEYS", "*"],
        ["CONFIG", "GET", "*"],
        ["INFO"],
        ["CLIENT", "LIST"],
        ["ACL", "LIST"],
        ["SCRIPT", "FLUSH"],
    ):
        refused(lambda command=command: attacker.execute_command(*command))
    assert prod.client(0).get(prod_key) == b"prod's value"
    own = f"{isolation.redis_key_prefix(staging.environment)}:1:k"
    attacker.set(own, "mine")  # its own prefix works
    assert attacker.get(own) == b"mine"


def production_env(user: RedisUser) -> dict[str, str]:
    environment = user.environment
    return {
        "ALETHEIA_ENV": environment.name,
        "ALETHEIA_HOST": "aletheia.invalid",
        "ALETHEIA_EMAIL": "console",
        "DJANGO_SECRET_KEY": "x7Jq2mVb9LpZt4WcR8nYs3KdHf6GaE1uQoTiXv5BzNlMjPwCy0",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
        "REDIS_URL": user.url(0).rsplit("/", 1)[0],
        "REDIS_CACHE_DB": str(environment.redis_cache_db),
        "REDIS_BROKER_DB": str(environment.redis_broker_db),
    }


def test_a_pickle_planted_in_the_cache_is_never_run(
    users: dict[str, RedisUser], tmp_path: Path
) -> None:
    """Even written where the ACL allows it (its own prefix), a pickle is not executed: the
    cache stores JSON."""
    proof = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {proof}",))

    prod = users["prod"]
    key = f"{isolation.redis_key_prefix(prod.environment)}:1:aletheia:beat:last"
    prod.client(prod.environment.redis_cache_db).set(key, pickle.dumps(Exploit()))
    result = run_django(
        """
        from aletheia.core.health import last_heartbeat
        print(repr(last_heartbeat()))
        """,
        env=production_env(prod),
        settings="config.settings.production",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "None"
    assert not proof.exists()


def test_the_app_and_a_real_worker_run_under_their_own_user(users: dict[str, RedisUser]) -> None:
    prod = users["prod"]
    env = {
        **os.environ,
        **production_env(prod),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
    }
    env.pop("ALETHEIA_TEST_RUN_ID", None)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config.celery_app",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "1",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        token = uuid.uuid4().hex
        result = run_django(
            f"""
            from django.core.cache import cache
            from aletheia.core.tasks import ping
            from celery import group
            cache.set("probe", {{"a": [1, 2]}}, 30)
            assert cache.get("probe") == {{"a": [1, 2]}}
            assert cache.incr("probe-count", 1) if cache.add("probe-count", 0) else True
            assert ping.delay("{token}").get(timeout=60) == "{token}"
            assert group(ping.s(str(i)) for i in range(3))().get(timeout=60) == ["0", "1", "2"]
            print("ok")
            """,
            env=production_env(prod),
            settings="config.settings.production",
        )
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    assert result.returncode == 0, result.stderr + output
    assert result.stdout.strip().splitlines()[-1] == "ok"
    assert "NOPERM" not in output, output
    keys = {k.decode() for k in redis.Redis.from_url(DEFAULT_REDIS_URL).scan_iter("*", count=1000)}
    prefix = isolation.redis_key_prefix(prod.environment)
    assert any(k.startswith(f"{prefix}:") for k in keys)


def test_ops_and_the_settings_agree_on_the_prefix() -> None:
    from config.settings.base import redis_key_prefix

    for environment in MATRIX.values():
        assert isolation.redis_key_prefix(environment) == redis_key_prefix(environment.name)


@pytest.fixture
def isolated_server(tmp_path: Path) -> Iterator[dict[str, object]]:
    """A server root whose staging and prod env files name their own role, database and Redis
    user, and a Redis of its own started with `aclfile` as the first-time setup configures it."""
    import psycopg

    from tests.helpers import acl_redis, write_env_file

    run = uuid.uuid4().hex[:6]
    acl = tmp_path / "redis" / "users.acl"
    acl.parent.mkdir(parents=True)
    acl.write_text("user default on nopass ~* &* +@all\n")  # as a fresh server's Redis is
    with acl_redis(acl) as port:
        names = {name: f"aletheia_iso_{name}_{run}" for name in ("staging", "prod")}
        passwords = {name: uuid.uuid4().hex for name in names}
        for name, role in names.items():
            write_env_file(
                tmp_path / "aletheia" / "envs" / f".env.{name}",
                DATABASE_URL=f"postgres://{role}:{passwords[name]}@127.0.0.1:5432/{role}",
                REDIS_URL=f"redis://aletheia-{name}:{passwords[name]}@127.0.0.1:{port}",
                PORT={"staging": "18302", "prod": "18303"}[name],  # host networking: one each
            )
        env = {
            **os.environ,
            "ALETHEIA_SERVER_ROOT": str(tmp_path),
            "ALETHEIA_NETWORK": "host",
            "ALETHEIA_REDIS_ADMIN": f"redis-cli -h 127.0.0.1 -p {port} --user aletheia-admin",
        }
        try:
            yield {
                "env": env,
                "port": port,
                "names": names,
                "passwords": passwords,
                "root": tmp_path,
            }
        finally:
            with psycopg.connect(
                "postgres://postgres@127.0.0.1:5432/postgres", autocommit=True
            ) as conn:
                for role in names.values():
                    conn.execute(f'DROP DATABASE IF EXISTS "{role}" WITH (FORCE)')
                    conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def ops_command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_isolation_apply_makes_roles_and_acl_users_that_cannot_cross(isolated_server: dict) -> None:
    import psycopg

    env, names, passwords, port = (
        isolated_server[k] for k in ("env", "names", "passwords", "port")
    )
    printed = ops_command(env, "isolation")
    assert printed.returncode == 0, printed.stderr
    assert "REVOKE ALL ON DATABASE" in printed.stdout
    assert passwords["prod"] not in printed.stdout  # the SQL never holds a password
    for _ in range(2):  # idempotent: a second run changes nothing and succeeds
        applied = ops_command(env, "isolation", "--apply")
        assert applied.returncode == 0, applied.stdout + applied.stderr
    prod_db, staging_role = names["prod"], names["staging"]
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(
            f"postgres://{staging_role}:{passwords['staging']}@127.0.0.1:5432/{prod_db}"
        )
    with psycopg.connect(
        f"postgres://{staging_role}:{passwords['staging']}@127.0.0.1:5432/{staging_role}"
    ) as conn:
        assert conn.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone() == (False,)

    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=port).ping()  # the default user is off
    staging = redis.Redis(port=port, username="aletheia-staging", password=passwords["staging"])
    staging.set("aletheia-staging:1:k", "v")
    with pytest.raises(redis.exceptions.NoPermissionError):
        staging.get("aletheia-prod:1:k")


def test_rotating_a_redis_password_keeps_the_other_users(isolated_server: dict) -> None:
    env, passwords, port, root = (isolated_server[k] for k in ("env", "passwords", "port", "root"))
    assert ops_command(env, "isolation", "--apply").returncode == 0
    rotated = ops_command(env, "rotate-redis-password", "staging")
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=port, username="aletheia-staging", password=passwords["staging"]).ping()
    from ops.server import envfile

    url = envfile.parse((root / "aletheia" / "envs" / ".env.staging").read_text())["REDIS_URL"]
    assert redis.Redis.from_url(url).ping()
    assert redis.Redis(port=port, username="aletheia-prod", password=passwords["prod"]).ping()
    assert oct((root / "aletheia" / "envs" / ".env.staging").stat().st_mode & 0o777) == "0o600"


def probe_as(env: dict[str, str]) -> dict:
    import json

    result = run_django(
        "from django.core.management import call_command\ncall_command('probe', '--json')",
        env=env,
        settings="config.settings.production",
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_doctor_sees_the_isolation_as_the_release_does(isolated_server: dict) -> None:
    """`manage.py probe` as staging's release runs it, and the doctor's checks on its answer:
    FAIL before `ops isolation --apply` (Redis open, role a superuser), PASS after."""
    from ops.core.runner import Runner
    from ops.doctor import checks as doctor
    from ops.server import envfile, target
    from ops.server.settings import ServerSettings

    env, names, root = (isolated_server[k] for k in ("env", "names", "root"))
    staging = target.resolve("staging", ServerSettings.from_environment(env))
    ctx = doctor.Context(staging, Runner())

    def app_env() -> dict[str, str]:
        values = envfile.parse((root / "aletheia" / "envs" / ".env.staging").read_text())
        return {
            **values,
            "ALETHEIA_ENV": "staging",
            "ALETHEIA_HOST": "staging.invalid",
            "ALETHEIA_EMAIL": "console",
            "REDIS_CACHE_DB": "2",
            "REDIS_BROKER_DB": "3",
        }

    before = {**app_env(), "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres"}
    before["REDIS_URL"] = f"redis://127.0.0.1:{isolated_server['port']}"  # default user, open
    ctx.probe = probe_as(before)
    assert doctor.check_redis_auth(ctx)[0] == "FAIL"
    assert doctor.check_database_role(ctx)[0] == "FAIL"

    assert ops_command(env, "isolation", "--apply").returncode == 0
    ctx.probe = probe_as(app_env())
    assert doctor.check_redis_auth(ctx) == (
        "PASS",
        "a client without credentials is refused; the environment has its own user",
    )
    assert doctor.check_database_role(ctx) == (
        "PASS",
        "no other environment's database, no superuser",
    )
    assert names["prod"] not in ctx.probe["database_role"]["other_databases"]

"""A whole single server on this machine, deployed through ./deploy.sh (issue: server deploys).

Host processes stand in for the server's containers that cannot be pulled here: PostgreSQL
(shared_postgres), Redis (shared_redis) and nginx (nginx-proxy, on loopback ports). Aletheia's
own containers run from images built from a bare git remote, with host networking.
"""

import json
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from ops import locks
from tests.conftest import REPO_ROOT
from tests.helpers import (
    DOCKER,
    database_fingerprint,
    run_command,
    self_signed_certificate,
    tear_down_environment,
    write_env_file,
)

pytestmark = pytest.mark.e2e

POSTGRES = "postgres://postgres@127.0.0.1:5432"
HTTP_PORT, HTTPS_PORT = 18180, 18543
WEB_PORTS = {"dev": 18101, "staging": 18102, "prod": 18103}
HOSTS = {
    "dev": "aletheia-dev.groupe-suffren.com",
    "staging": "aletheia-staging.groupe-suffren.com",
    "prod": "aletheia.groupe-suffren.com",
}
BROKEN_MIGRATION = """from django.db import migrations


def fail(apps, schema_editor):
    raise RuntimeError("this release's migration fails on purpose")


class Migration(migrations.Migration):
    dependencies: list = []
    operations = [migrations.RunPython(fail)]
"""


sh = run_command


def git(*args: str, cwd: Path) -> str:
    return sh("git", *args, cwd=cwd).stdout.strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("server")
    run_id = uuid.uuid4().hex[:6]
    # the git remote: develop, main, feature, broken, tags v1.0 and v1.1
    remote, work = root / "remote.git", root / "work"
    sh("git", "clone", "-q", "--bare", str(REPO_ROOT), str(remote))
    sh("git", "clone", "-q", str(remote), str(work))
    for key, value in (("user.name", "e2e"), ("user.email", "e2e@example.invalid")):
        git("config", key, value, cwd=work)
    git("branch", "-f", "develop", "HEAD", cwd=work)
    git("update-ref", "refs/heads/main", "HEAD", cwd=work)  # from a worktree of another branch too
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
    sh(
        "git",
        "push",
        "-q",
        "--force",
        "origin",
        "develop",
        "main",
        "feature",
        "broken",
        "--tags",
        cwd=work,
    )
    shas = {
        ref: git("rev-parse", f"{ref}^{{commit}}", cwd=work)
        for ref in ("develop", "feature", "v1.0", "v1.1", "broken")
    }
    checkout = root / "aletheia" / "repo"
    sh("git", "clone", "-q", str(remote), str(checkout))

    # shared PostgreSQL databases, env files (0600)
    databases = {name: f"aletheia_{name}_{run_id}" for name in WEB_PORTS}
    envs = root / "aletheia" / "envs"
    for name, port in WEB_PORTS.items():
        write_env_file(
            envs / f".env.{name}",
            DATABASE_URL=f"{POSTGRES}/{databases[name]}",
            REDIS_URL="redis://127.0.0.1:6379",
            PORT=str(port),
            ALETHEIA_HEARTBEAT_SECONDS="2",
            GUNICORN_WORKERS="1",
        )

    # nginx acting as nginx-proxy: certificates (dev's comes later), htpasswd, its own prefix
    for name in ("staging", "prod"):
        make_certificate(root, HOSTS[name])
    sh("htpasswd", "-bc", str(root / "nginx" / ".htpasswd"), "tester", "s3cret")
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
    server {{ listen {HTTP_PORT} default_server; return 444; }}
}}
""")
    nginx = ["nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
    env = {
        "ALETHEIA_SERVER_ROOT": str(root),
        "ALETHEIA_CHECKOUT": str(checkout),
        "ALETHEIA_DOCKER": DOCKER,
        "ALETHEIA_COMPOSE": "docker-compose"
        if shutil.which("docker-compose")
        else f"{DOCKER} compose",
        "ALETHEIA_NETWORK": "host",
        "ALETHEIA_NGINX_TEST": " ".join([*nginx, "-t"]),
        "ALETHEIA_NGINX_RELOAD": " ".join([*nginx, "-s", "reload"]),
        "ALETHEIA_NGINX_HTTP_PORT": str(HTTP_PORT),
        "ALETHEIA_NGINX_HTTPS_PORT": str(HTTPS_PORT),
        "ALETHEIA_BUILD_NETWORK": "host",
        "ALETHEIA_HEALTH_TIMEOUT": "120",
        "ALETHEIA_PG_CLIENT": "",  # pg_dump/psql of this host (the server runs them in shared_postgres)
        "ALETHEIA_BUILD_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt"
        if Path("/etc/ssl/certs/ca-certificates.crt").exists()
        else "",
    }
    state = {
        "root": root,
        "env": env,
        "shas": shas,
        "databases": databases,
        "nginx": nginx,
        "timings": {},
    }
    try:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
            for database in databases.values():
                conn.execute(f'CREATE DATABASE "{database}"')
        sh(*nginx)
        yield state
    finally:
        for name in WEB_PORTS:
            tear_down_environment(name, env)
        sh(*nginx, "-s", "stop", check=False)
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
            for database in databases.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        print("\ndeploy timings:", json.dumps(state["timings"]))


def make_certificate(root: Path, host: str) -> None:
    directory = root / "nginx" / "certs" / host
    self_signed_certificate(directory / "fullchain.pem", directory / "privkey.pem", host)


def deploy(server: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    result = sh("./deploy.sh", *args, cwd=REPO_ROOT, env=server["env"], check=check)
    server["timings"].setdefault(" ".join(args), []).append(round(time.monotonic() - started, 1))
    return result


def curl(
    url_host: str, path: str, *, https: bool = True, auth: bool = False
) -> tuple[int, dict[str, str], str]:
    """One request through nginx with the real host name (SNI and Host), like a browser would."""
    import tempfile

    port = HTTPS_PORT if https else HTTP_PORT
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
            f"{url_host}:{port}:127.0.0.1",
            f"{scheme}://{url_host}:{port}{path}",
        ]
        if auth:
            args += ["-u", "tester:s3cret"]
        subprocess.run(args, capture_output=True, text=True, timeout=20)
        head = head_file.read_text() if head_file.exists() else ""
        body = body_file.read_text() if body_file.exists() else ""
    lines = [line for line in head.splitlines() if line.strip()]
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP") else 0
    headers = {
        k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
    }
    return status, headers, body


def test_deploy_dev_staging_feature_and_prod_tag(server: dict) -> None:
    out = deploy(server, "dev").stdout
    assert "==> [1] fetch" in out
    assert "nginx: ok" in out
    assert "serving the 503 placeholder" in out  # dev has no certificate yet
    deploy(server, "staging", "feature")
    out = deploy(server, "prod", "v1.0").stdout
    assert "exists: reused, no rebuild" in out  # v1.0 is develop's commit: dev built it


def settle(host: str, expected: int, *, auth: bool = False, seconds: float = 20) -> None:
    """nginx reloads gracefully: for a moment old and new workers both accept connections.
    Wait (bounded) until `host` answers `expected` five times in a row."""
    deadline, in_a_row = time.monotonic() + seconds, 0
    while in_a_row < 5 and time.monotonic() < deadline:
        in_a_row = in_a_row + 1 if curl(host, "/healthz", auth=auth)[0] == expected else 0
        time.sleep(0.2)


def test_each_host_serves_its_release_through_nginx(server: dict) -> None:
    settle(HOSTS["prod"], 200)
    settle(HOSTS["staging"], 401)
    status, headers, body = curl(HOSTS["prod"], "/healthz")
    assert status == 200, (headers, body[:500])
    assert json.loads(body)["release"] == server["shas"]["v1.0"]
    status, headers, _ = curl(HOSTS["staging"], "/healthz")
    assert status == 401
    assert "basic" in headers.get("www-authenticate", "").lower()
    status, _, body = curl(HOSTS["staging"], "/healthz", auth=True)
    assert status == 200
    assert json.loads(body)["release"] == server["shas"]["feature"]
    status, headers, body = curl(HOSTS["prod"], "/", https=False)
    assert status == 301
    assert headers["location"] == f"https://{HOSTS['prod']}:{HTTPS_PORT}/"
    status, headers, _ = curl(HOSTS["prod"], "/static/core/aletheia.css")
    assert status == 200
    assert "max-age" in headers.get("cache-control", "")
    assert "strict-transport-security" in headers


def test_dev_shows_the_placeholder_until_activated(server: dict) -> None:
    status, headers, body = curl(HOSTS["dev"], "/", https=False)
    assert status == 503
    assert headers.get("retry-after") == "120"
    assert "Deployment in progress" in body
    refused = sh(
        "python3",
        "-m",
        "ops",
        "nginx-activate",
        "dev",
        cwd=REPO_ROOT,
        env=server["env"],
        check=False,
    )
    assert refused.returncode == 2
    assert "no certificate" in refused.stderr
    make_certificate(server["root"], HOSTS["dev"])
    sh("make", "nginx-activate", "ENV=dev", cwd=REPO_ROOT, env=server["env"])
    settle(HOSTS["dev"], 401)
    status, headers, body = curl(HOSTS["dev"], "/healthz")
    conf_dir = server["root"] / "nginx" / "conf.d"
    assert status == 401, (
        status,
        headers,
        body[:300],
        sorted(p.name for p in conf_dir.iterdir()),
        "",
        (server["root"] / "nginx-run" / "logs" / "error.log").read_text()[-2000:],
    )
    status, _, body = curl(HOSTS["dev"], "/healthz", auth=True)
    assert status == 200
    assert json.loads(body)["release"] == server["shas"]["develop"]


def test_prod_is_rate_limited_beyond_the_burst(server: dict) -> None:
    statuses = [curl(HOSTS["prod"], "/healthz")[0] for _ in range(60)]
    assert 429 in statuses
    assert statuses.count(200) >= 20


def test_each_environment_uses_its_own_database_and_redis_dbs(server: dict) -> None:
    for name, (cache_db, broker_db) in {"dev": (4, 5), "staging": (2, 3), "prod": (0, 1)}.items():
        with psycopg.connect(f"{POSTGRES}/{server['databases'][name]}") as conn:
            row = conn.execute("SELECT count(*) FROM django_celery_beat_periodictask").fetchone()
            assert row is not None
            assert row[0] >= 1
        deadline = time.monotonic() + 60
        while (
            not redis.Redis(db=cache_db).exists(":1:aletheia:beat:last")
            and time.monotonic() < deadline
        ):
            time.sleep(1)
        assert redis.Redis(db=cache_db).exists(":1:aletheia:beat:last"), (
            f"{name}: no heartbeat in db {cache_db}"
        )
        assert redis.Redis(db=broker_db).exists("_kombu.binding.celery"), (
            f"{name}: no broker in db {broker_db}"
        )


def test_prod_refuses_branches_and_unknown_tags_changing_nothing(server: dict) -> None:
    for ref, reason in (("develop", "'develop' is a branch"), ("v9.9", "'v9.9' is unknown")):
        result = deploy(server, "prod", ref, check=False)
        assert result.returncode == 2, result.stdout + result.stderr
        assert reason in result.stderr
    assert json.loads(curl(HOSTS["prod"], "/healthz")[2])["release"] == server["shas"]["v1.0"]
    assert not (server["root"] / "aletheia" / "state" / "deploy-prod.lock").exists()


def test_a_failing_migration_keeps_the_old_release_and_frees_the_lock(server: dict) -> None:
    result = deploy(server, "staging", "broken", check=False)
    assert result.returncode == 1
    assert "step 'migrate' failed" in result.stderr
    status, _, body = curl(HOSTS["staging"], "/healthz", auth=True)
    assert status == 200
    assert json.loads(body)["release"] == server["shas"]["feature"]
    assert not (server["root"] / "aletheia" / "state" / "deploy-staging.lock").exists()
    log = sh("python3", "-m", "ops", "releases", "staging", cwd=REPO_ROOT, env=server["env"]).stdout
    assert "failed" in log
    assert "migrate" in log


def test_a_concurrent_deploy_is_refused_and_a_stale_lock_reported(server: dict) -> None:
    state = server["root"] / "aletheia" / "state"
    lock = locks.acquire(state, "staging", "feature")
    try:
        result = deploy(server, "staging", check=False)
        assert result.returncode == 2
        assert "staging is being deployed by" in result.stderr
    finally:
        locks.release(lock)
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock = locks.acquire(state, "staging", "feature")
    info = json.loads((lock / "info.json").read_text())
    (lock / "info.json").write_text(json.dumps({**info, "pid": dead.pid}))
    result = deploy(server, "staging", check=False)
    assert result.returncode == 2
    assert "stale deploy lock" in result.stderr
    sh("make", "deploy-unlock", "ENV=staging", cwd=REPO_ROOT, env=server["env"])


def test_redeploying_unchanged_refs_reuses_the_images(server: dict) -> None:
    for args in (("dev",), ("staging", "feature"), ("prod", "v1.0")):
        out = deploy(server, *args).stdout
        assert "reused, no rebuild" in out
    settle(HOSTS["prod"], 200)
    assert json.loads(curl(HOSTS["prod"], "/healthz")[2])["release"] == server["shas"]["v1.0"]
    log = sh("python3", "-m", "ops", "releases", "prod", cwd=REPO_ROOT, env=server["env"]).stdout
    assert log.count("succeeded") == 2
    assert log.count("refused") == 2  # prod develop, prod v9.9


def test_environment_commands_reach_the_deployed_release(server: dict) -> None:
    ps = sh("make", "ps", "ENV=prod", cwd=REPO_ROOT, env=server["env"]).stdout
    assert "aletheia-prod" in ps
    assert "celery_beat" in ps
    migrate = sh("make", "migrate", "ENV=staging", cwd=REPO_ROOT, env=server["env"]).stdout
    assert "No migrations to apply" in migrate
    dry = sh(
        "python3", "-m", "ops", "logs", "dev", "--dry-run", cwd=REPO_ROOT, env=server["env"]
    ).stdout
    assert "-p aletheia-dev" in dry
    assert "logs -f --tail=100" in dry


def release_of(host: str, expected: str, seconds: float = 30) -> str:
    """The sha `host` serves, once it is `expected` (or the last seen after `seconds`)."""
    deadline, seen = time.monotonic() + seconds, ""
    while time.monotonic() < deadline:
        status, _, body = curl(host, "/healthz", auth=True)
        seen = json.loads(body)["release"] if status == 200 else f"HTTP {status}"
        if seen == expected:
            break
        time.sleep(0.3)
    return seen


def test_rollback_puts_the_previous_release_back_in_seconds(server: dict) -> None:
    deploy(server, "staging")  # develop
    assert release_of(HOSTS["staging"], server["shas"]["develop"]) == server["shas"]["develop"]
    started = time.monotonic()
    out = sh("make", "rollback", "ENV=staging", cwd=REPO_ROOT, env=server["env"]).stdout
    print(out)
    server["timings"]["rollback staging"] = [round(time.monotonic() - started, 1)]
    assert "rolled back to feature" in out
    assert "docker build" not in out
    assert release_of(HOSTS["staging"], server["shas"]["feature"]) == server["shas"]["feature"]
    refused = sh(
        "python3",
        "-m",
        "ops",
        "rollback",
        "staging",
        "deadbeef",
        cwd=REPO_ROOT,
        env=server["env"],
        check=False,
    )
    assert refused.returncode == 2
    assert "'deadbeef' is not a release of staging" in refused.stderr


def ops(
    server: dict, *args: str, check: bool = True, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    return sh(
        "python3",
        "-m",
        "ops",
        *args,
        cwd=REPO_ROOT,
        env={**server["env"], **extra_env},
        check=check,
    )


def make(server: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return sh("make", "--no-print-directory", *args, cwd=REPO_ROOT, env=server["env"], check=check)


def test_prod_deploys_take_a_backup_before_migrating_unless_skipped(server: dict) -> None:
    folder = server["root"] / "backups" / "prod"
    earlier = set(folder.glob("*.dump"))  # one per prod deploy so far
    assert len(earlier) == 2
    out = deploy(server, "prod", "v1.1").stdout
    print(out)
    assert out.index("] backup") < out.index("] migrate")
    (dump,) = set(folder.glob("*.dump")) - earlier
    manifest = json.loads(dump.with_name(dump.name + ".json").read_text())
    assert manifest["reason"] == "before deploying v1.1"
    assert manifest["release"] == server["shas"]["v1.0"]  # what ran when it was taken
    out = deploy(server, "prod", "v1.0", "--skip-backup").stdout
    assert "skipped: --skip-backup" in out
    assert set(folder.glob("*.dump")) == {*earlier, dump}
    log = make(server, "releases", "ENV=prod").stdout.splitlines()
    print("\n".join(log), make(server, "db-backups", "ENV=prod").stdout, sep="\n")
    assert f"backup: {dump.name}" in log[-2]
    assert "backup: skipped (--skip-backup)" in log[-1]
    settle(HOSTS["prod"], 200)
    assert json.loads(curl(HOSTS["prod"], "/healthz")[2])["release"] == server["shas"]["v1.0"]


def fingerprint(database: str) -> dict[str, tuple[int, str]]:
    return database_fingerprint(f"{POSTGRES}/{database}")


# The running beat writes its bookkeeping (last run, run count) every couple of seconds.
BEAT_BOOKKEEPING = {"django_celery_beat_periodictask", "django_celery_beat_periodictasks"}


def comparable(found: dict[str, tuple[int, str]]) -> dict[str, object]:
    return {
        table: count if table in BEAT_BOOKKEEPING else (count, digest)
        for table, (count, digest) in found.items()
    }


def test_backup_restore_round_trip_through_the_running_environment(server: dict) -> None:
    database = server["databases"]["staging"]
    with psycopg.connect(f"{POSTGRES}/{database}", autocommit=True) as conn:
        conn.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, "
            "email, is_staff, is_active, date_joined) VALUES ('!', true, 'jdupont', 'Jeanne', "
            "'Dupont', 'jeanne.dupont@groupe-suffren.com', true, true, now())"
        )
    before = fingerprint(database)
    out = make(server, "db-backup", "ENV=staging").stdout
    (dump,) = sorted((server["root"] / "backups" / "staging").glob("*.dump"))
    assert f"db-backup: {dump}" in out
    assert "KiB, sha256" in out or "MiB, sha256" in out
    checked = sh("sha256sum", "-c", dump.name + ".sha256", cwd=dump.parent)
    assert checked.stdout.strip().endswith("OK")
    with psycopg.connect(f"{POSTGRES}/{database}", autocommit=True) as conn:
        conn.execute("DELETE FROM auth_user")
        conn.execute("DELETE FROM django_celery_beat_periodictask")
    assert comparable(fingerprint(database)) != comparable(before)
    started = time.monotonic()
    out = make(server, "db-restore", "ENV=staging", f"FILE={dump.name}").stdout
    server["timings"]["db-restore staging"] = [round(time.monotonic() - started, 1)]
    print(out)
    for step in (
        "verify backup",
        "safety backup",
        "stop the app",
        "restore",
        "migrate",
        "start the app",
    ):
        assert f"] {step}" in out, out
    assert comparable(fingerprint(database)) == comparable(before)
    settle(HOSTS["staging"], 200, auth=True)
    status, _, body = curl(HOSTS["staging"], "/healthz", auth=True)
    assert status == 200, body[:300]


def test_restoring_into_prod_without_the_flag_is_refused(server: dict) -> None:
    dump = sorted((server["root"] / "backups" / "prod").glob("*.dump"))[-1]
    before = fingerprint(server["databases"]["prod"])
    result = make(server, "db-restore", "ENV=prod", f"FILE={dump.name}", check=False)
    assert result.returncode == 2
    assert "restoring into prod replaces production's data: add --confirm prod" in result.stderr
    assert comparable(fingerprint(server["databases"]["prod"])) == comparable(before)
    assert curl(HOSTS["prod"], "/healthz")[0] == 200


def test_a_corrupted_backup_is_refused_before_anything_is_touched(server: dict) -> None:
    folder = server["root"] / "backups" / "staging"
    original = sorted(folder.glob("*.dump"))[0]
    corrupted = folder / "aletheia-staging-corrupted.dump"
    data = bytearray(original.read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupted.write_bytes(bytes(data))
    for suffix in (".sha256", ".json"):
        Path(str(corrupted) + suffix).write_text(Path(str(original) + suffix).read_text())
    files_before = sorted(p.name for p in folder.iterdir())
    ps_before = make(server, "ps", "ENV=staging").stdout
    result = make(server, "db-restore", "ENV=staging", f"FILE={corrupted}", check=False)
    assert result.returncode == 2
    assert "aletheia-staging-corrupted.dump is corrupted: sha256" in result.stderr
    assert "] safety backup" not in result.stdout
    assert sorted(p.name for p in folder.iterdir()) == files_before
    assert make(server, "ps", "ENV=staging").stdout.count(" Up ") == ps_before.count(" Up ")
    assert curl(HOSTS["staging"], "/healthz", auth=True)[0] == 200
    log = (server["root"] / "aletheia" / "state" / "restores-staging.jsonl").read_text()
    assert json.loads(log.splitlines()[-1])["result"] == "refused"


def test_prod_data_reaches_staging_anonymised_on_the_real_schema(server: dict) -> None:
    with psycopg.connect(f"{POSTGRES}/{server['databases']['prod']}", autocommit=True) as conn:
        conn.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, "
            "email, is_staff, is_active, date_joined, last_login) VALUES ('pbkdf2_sha256$x', "
            "false, 'pmartin', 'Paul', 'Martin', 'paul.martin@groupe-suffren.com', true, true, "
            "now(), now())"
        )
        conn.execute("INSERT INTO django_session VALUES ('k1', 'data', now() + interval '1 day')")
    ops(server, "db-backup", "prod")
    dump = sorted((server["root"] / "backups" / "prod").glob("*.dump"))[-1]
    out = make(server, "db-restore", "ENV=staging", f"FILE={dump.name}", "FROM_ENV=prod").stdout
    assert "will be anonymised" in out
    with psycopg.connect(f"{POSTGRES}/{server['databases']['staging']}") as conn:
        users = conn.execute(
            "SELECT id, username, first_name, last_name, email, password, last_login FROM auth_user"
        ).fetchall()
        assert [u[1:] for u in users] == [
            (
                f"user{users[0][0]}",
                "",
                "",
                f"user{users[0][0]}@example.invalid",
                "!anonymised",
                None,
            )
        ]
        assert conn.execute("SELECT count(*) FROM django_session").fetchone() == (0,)
    settle(HOSTS["staging"], 200, auth=True)
    status, _, body = curl(HOSTS["staging"], "/healthz", auth=True)
    assert status == 200, body[:300]
    log = (server["root"] / "aletheia" / "state" / "restores-staging.jsonl").read_text()
    entry = json.loads(log.splitlines()[-1])
    assert (entry["source"], entry["from_env_flag"], entry["anonymised"]) == ("prod", "prod", True)


def doctor_rows(out: str) -> dict[str, tuple[str, str]]:
    rows = [
        re.match(r"^  (.+?)\s{2,}(PASS|WARN|FAIL)\s{2,}(.*)$", line) for line in out.splitlines()
    ]
    return {m[1]: (m[2], m[3]) for m in rows if m}


def test_doctor_passes_then_flags_a_readable_env_file_and_a_missing_certificate(
    server: dict,
) -> None:
    result = make(server, "doctor", "ENV=prod", check=False)
    print(result.stdout)
    rows = doctor_rows(result.stdout)
    assert list(rows) == [
        "env file",
        "database",
        "redis",
        "worker and beat",
        "nginx config",
        "certificate",
        "backup disk space",
        "running release",
    ]
    assert result.returncode == 0, result.stdout
    assert rows["redis"] == (
        "PASS",
        "cache db 0, broker db 1 (environments.toml: 0, 1), both answer",
    )
    assert rows["database"][0] == "WARN"  # the test's database is not named aletheia_prod
    assert rows["running release"][0] == "PASS"
    assert rows["worker and beat"][0] == "PASS"
    assert "beat schedules it every 2s" in rows["worker and beat"][1]
    assert "days to expiry" in rows["certificate"][1]

    env_file = server["root"] / "aletheia" / "envs" / ".env.prod"
    env_file.chmod(0o644)
    try:
        result = make(server, "doctor", "ENV=prod", check=False)
    finally:
        env_file.chmod(0o600)
    assert result.returncode != 0
    assert doctor_rows(result.stdout)["env file"][0] == "FAIL"
    assert "readable by others (mode 644)" in result.stdout

    certificates = server["root"] / "nginx" / "certs"
    aside = server["root"] / "certificate-aside"
    (certificates / HOSTS["prod"]).rename(aside)
    try:
        result = make(server, "doctor", "ENV=prod", check=False)
    finally:
        aside.rename(certificates / HOSTS["prod"])
    assert result.returncode != 0
    rows = doctor_rows(result.stdout)
    assert rows["certificate"][0] == "FAIL"
    assert rows["certificate"][1].startswith("missing in")
    assert rows["env file"][0] == "PASS"

    every = make(server, "doctor", check=False)  # no ENV: one table per environment
    assert [line for line in every.stdout.splitlines() if line.startswith("doctor ")] == [
        "doctor dev",
        "doctor staging",
        "doctor prod",
    ]
    assert every.returncode == 0, every.stdout


def test_images_are_kept_per_environment_and_pruning_spares_the_others(server: dict) -> None:
    def kept(ref: str) -> bool:
        image = f"aletheia:{server['shas'][ref]}"
        return sh(DOCKER, "image", "inspect", image, check=False).returncode == 0

    # the broken release was built, never succeeded anywhere: a deploy's pruning removed it
    assert not kept("broken")
    # staging keeping a single release (feature) must not remove develop, which dev runs
    out = ops(server, "prune-images", ALETHEIA_IMAGES_KEEP="1").stdout
    print(out)
    assert "kept (last 1 releases of each environment)" in out
    assert kept("develop")
    assert kept("feature")

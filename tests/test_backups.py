"""Backups, restores, image retention and the doctor's table, against the real PostgreSQL.

ops runs as it does on a server (python3 -m ops, in a subprocess), with the PostgreSQL client
programs on this host (ALETHEIA_PG_CLIENT="") instead of inside the shared_postgres container.
Nothing is deployed here, so restores do not stop or start containers: tests/e2e/test_server.py
covers that part.
"""

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ops.data import backups
from ops.doctor.context import Check, table
from ops.release import images
from ops.server.settings import ServerSettings
from tests.conftest import REPO_ROOT
from tests.helpers import database_fingerprint, write_env_file

POSTGRES = "postgres://postgres@127.0.0.1:5432"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[dict]:
    """A server root with staging and prod env files, each on its own new database."""
    run_id = uuid.uuid4().hex[:8]
    databases = {name: f"aletheia_backup_{name}_{run_id}" for name in ("staging", "prod")}
    envs = tmp_path / "aletheia" / "envs"
    for name, database in databases.items():
        write_env_file(
            envs / f".env.{name}",
            DATABASE_URL=f"{POSTGRES}/{database}",
            REDIS_URL="redis://127.0.0.1:6379",
        )
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
        for database in databases.values():
            conn.execute(f'CREATE DATABASE "{database}"')
    try:
        for database in databases.values():
            fill(database)
        yield {
            "root": tmp_path,
            "databases": databases,
            "env": {
                **os.environ,
                "ALETHEIA_SERVER_ROOT": str(tmp_path),
                "ALETHEIA_PG_CLIENT": "",
            },
        }
    finally:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
            for database in databases.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def fill(database: str) -> None:
    """The tables that hold personal data, shaped as Django makes them, plus a larger one."""
    with psycopg.connect(f"{POSTGRES}/{database}", autocommit=True) as conn:
        conn.execute("""
            CREATE TABLE auth_user (id serial PRIMARY KEY, username varchar(150) UNIQUE,
                first_name varchar(150), last_name varchar(150), email varchar(254),
                password varchar(128), last_login timestamptz, is_staff boolean);
            CREATE TABLE django_session (session_key varchar(40) PRIMARY KEY, session_data text);
            CREATE TABLE django_admin_log (id serial PRIMARY KEY, object_repr varchar(200));
            CREATE TABLE catalog_snapshot (id serial PRIMARY KEY, profile int, slots int);
            INSERT INTO auth_user (username, first_name, last_name, email, password, is_staff)
                VALUES ('jdupont', 'Jeanne', 'Dupont', 'jeanne.dupont@groupe-suffren.com',
                        'pbkdf2_sha256$1$x$y', true),
                       ('pmartin', 'Paul', 'Martin', 'paul.martin@groupe-suffren.com',
                        'pbkdf2_sha256$1$x$z', false);
            INSERT INTO django_session VALUES ('abc', 'data');
            INSERT INTO django_admin_log (object_repr) VALUES ('Dr Jeanne Dupont');
            INSERT INTO catalog_snapshot (profile, slots)
                SELECT g % 200, g % 17 FROM generate_series(1, 50000) g;
        """)


def fingerprint(database: str) -> dict[str, tuple[int, str]]:
    return database_fingerprint(f"{POSTGRES}/{database}")


def ops(server: dict, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops", *args],
        capture_output=True,
        text=True,
        env=server["env"],
        cwd=REPO_ROOT,
        timeout=120,
    )


def backup(server: dict, name: str) -> Path:
    result = ops(server, "db-backup", name)
    assert result.returncode == 0, result.stdout + result.stderr
    (dump,) = [
        Path(line.split()[1])
        for line in result.stdout.splitlines()
        if line.startswith("db-backup:")
    ]
    return dump


def test_backup_writes_a_checksummed_dump_with_its_origin(server: dict) -> None:
    dump = backup(server, "staging")
    assert dump.parent == server["root"] / "backups" / "staging"
    assert dump.name.startswith("aletheia-staging-")
    assert dump.name.endswith(".dump")
    checksum, manifest = backups.sidecars(dump)
    assert subprocess.run(["sha256sum", "-c", checksum.name], cwd=dump.parent).returncode == 0
    info = json.loads(manifest.read_text())
    assert info["environment"] == "staging"
    assert info["database"] == server["databases"]["staging"]
    assert info["bytes"] == dump.stat().st_size
    assert oct(dump.stat().st_mode & 0o777) == "0o600"
    assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    listed = ops(server, "db-backups", "staging").stdout
    assert dump.name in listed


def test_backup_restore_round_trip_gives_identical_rows_and_checksums(server: dict) -> None:
    database = server["databases"]["staging"]
    before = fingerprint(database)
    dump = backup(server, "staging")
    with psycopg.connect(f"{POSTGRES}/{database}", autocommit=True) as conn:
        conn.execute("DELETE FROM catalog_snapshot WHERE slots > 3")
        conn.execute("UPDATE auth_user SET email = 'changed@example.org'")
        conn.execute("CREATE TABLE made_after_the_backup (id int)")
    assert fingerprint(database) != before
    result = ops(server, "db-restore", "staging", dump.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "in one transaction" in result.stdout
    assert fingerprint(database) == before
    assert before["catalog_snapshot"][0] == 50000
    # the data as it was just before is kept as a safety backup
    settings = ServerSettings.from_environment({"ALETHEIA_SERVER_ROOT": str(server["root"])})
    reasons = [str(m.get("reason")) for _, m in backups.list_backups(settings, "staging")]
    assert reasons == ["by hand", f"before restoring {dump.name}"]
    log = (server["root"] / "aletheia" / "state" / "restores-staging.jsonl").read_text()
    assert json.loads(log.splitlines()[-1])["result"] == "succeeded"


def test_a_failing_restore_leaves_the_data_as_it_was(server: dict) -> None:
    """A dump cut short (with a matching checksum, so it passes verification) fails midway:
    the whole transaction is rolled back."""
    database = server["databases"]["staging"]
    dump = backup(server, "staging")
    with psycopg.connect(f"{POSTGRES}/{database}", autocommit=True) as conn:
        conn.execute("INSERT INTO auth_user (username) VALUES ('added-after-backup')")
    before = fingerprint(database)
    with dump.open("r+b") as handle:
        handle.truncate(dump.stat().st_size // 2)
    checksum = backups.sidecars(dump)[0]
    digest = subprocess.run(
        ["sha256sum", str(dump)], capture_output=True, text=True
    ).stdout.split()[0]
    checksum.write_text(f"{digest}  {dump.name}\n")
    result = ops(server, "db-restore", "staging", str(dump))
    assert result.returncode == 1
    assert "step 'restore' failed" in result.stderr
    assert "the data as it was is also in aletheia-staging-" in result.stderr
    assert fingerprint(database) == before


def test_a_corrupted_backup_is_refused_before_anything_is_touched(server: dict) -> None:
    database = server["databases"]["staging"]
    dump = backup(server, "staging")
    with dump.open("r+b") as handle:
        handle.seek(dump.stat().st_size // 2)
        handle.write(b"\x00garbage\x00")
    before = fingerprint(database)
    kept = sorted(p.name for p in dump.parent.iterdir())
    result = ops(server, "db-restore", "staging", dump.name)
    assert result.returncode == 2
    assert f"{dump.name} is corrupted" in result.stderr
    assert fingerprint(database) == before
    assert sorted(p.name for p in dump.parent.iterdir()) == kept  # not even a safety backup


def test_restore_into_prod_needs_the_confirmation(server: dict) -> None:
    dump = backup(server, "prod")
    result = ops(server, "db-restore", "prod", dump.name)
    assert result.returncode == 2
    assert "add --confirm prod" in result.stderr
    result = ops(server, "db-restore", "prod", dump.name, "--confirm", "staging")
    assert result.returncode == 2
    result = ops(server, "db-restore", "prod", dump.name, "--confirm", "prod")
    assert result.returncode == 0, result.stdout + result.stderr


def test_prod_data_restored_into_staging_needs_the_flag_and_is_anonymised(server: dict) -> None:
    prod, staging = server["databases"]["prod"], server["databases"]["staging"]
    dump = backup(server, "prod")
    refused = ops(server, "db-restore", "staging", dump.name)
    assert refused.returncode == 2
    assert "this backup was made from prod, not staging: add --from-env prod" in refused.stderr
    result = ops(server, "db-restore", "staging", dump.name, "--from-env", "prod")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "will be anonymised" in result.stdout
    with psycopg.connect(f"{POSTGRES}/{staging}") as conn:
        users = conn.execute(
            "SELECT username, first_name, last_name, email, password, is_staff FROM auth_user ORDER BY id"
        ).fetchall()
        assert users == [
            ("user1", "", "", "user1@example.invalid", "!anonymised", True),
            ("user2", "", "", "user2@example.invalid", "!anonymised", False),
        ]
        assert conn.execute("SELECT count(*) FROM django_session").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM django_admin_log").fetchone() == (0,)
    # everything that is not personal data arrives as it is in prod
    assert fingerprint(staging)["catalog_snapshot"] == fingerprint(prod)["catalog_snapshot"]
    entries = [
        json.loads(line)
        for line in (server["root"] / "aletheia" / "state" / "restores-staging.jsonl")
        .read_text()
        .splitlines()
    ]
    assert [e["result"] for e in entries] == ["refused", "succeeded"]
    assert entries[-1]["from_env_flag"] == "prod"
    assert entries[-1]["anonymised"] is True


def test_retention_keeps_the_newest_within_count_and_age() -> None:
    day, now = 86400.0, 1_000_000_000.0
    dumps = [(Path(f"b{i}"), now - i * day) for i in range(15)]  # b0 newest, one a day
    doomed = backups.to_prune(dumps, keep=10, max_age_days=30, now=now)
    assert sorted(doomed) == sorted(Path(f"b{i}") for i in range(10, 15))
    doomed = backups.to_prune(dumps, keep=10, max_age_days=3, now=now)
    assert sorted(doomed) == sorted(Path(f"b{i}") for i in range(4, 15))
    # the newest backup is kept however old it is, and however small `keep` is
    assert backups.to_prune([(Path("old"), now - 400 * day)], keep=0, max_age_days=1, now=now) == []


def test_image_retention_never_prunes_what_another_environment_keeps() -> None:
    def log(*shas: str) -> list[dict[str, object]]:
        return [{"sha": sha, "result": "succeeded"} for sha in shas]

    logs: dict[str, list[dict[str, object]]] = {
        "dev": log("a", "b", "c", "d"),
        "staging": [*log("a", "b"), {"sha": "x", "result": "failed"}, *log("c")],
        "prod": log("a"),  # prod still runs the oldest release
    }
    kept = images.kept_shas(logs, keep=2)
    assert kept == {"c", "d", "b", "a"}  # dev: d, c; staging: c, b; prod: a
    existing = [f"aletheia:{sha}" for sha in ("a", "b", "c", "d", "x", "old")]
    recorded = images.recorded_shas(logs)
    # x failed (recorded): removed; "old" is in no release log of this server: left alone
    assert images.to_prune(existing, kept, recorded) == ["aletheia:x"]
    assert images.kept_shas(logs, keep=1) == {"d", "c", "a"}


def test_doctor_table_shows_each_check_and_the_totals() -> None:
    text = table(
        "prod",
        [
            Check("env file", "FAIL", "mode 644"),
            Check("certificate", "WARN", "9 days to expiry"),
            Check("running release", "PASS", "v1.0 healthy"),
        ],
    )
    assert "  env file         FAIL    mode 644" in text
    assert text.endswith("3 checks: 1 passed, 1 warning(s), 1 failed")


def test_a_failing_backup_says_why_and_leaves_no_file(server: dict) -> None:
    env_file = server["root"] / "aletheia" / "envs" / ".env.staging"
    env_file.write_text(
        env_file.read_text().replace(server["databases"]["staging"], "aletheia_no_such_database")
    )
    result = ops(server, "db-backup", "staging")
    assert result.returncode == 1
    assert "step 'backup' failed" in result.stderr
    assert 'database "aletheia_no_such_database" does not exist' in result.stderr
    assert list((server["root"] / "backups" / "staging").iterdir()) == []


def test_a_database_url_that_is_not_postgresql_is_refused(server: dict) -> None:
    env_file = server["root"] / "aletheia" / "envs" / ".env.staging"
    env_file.write_text(env_file.read_text().replace(f"{POSTGRES}/", "sqlite:////tmp/"))
    result = ops(server, "db-backup", "staging")
    assert result.returncode == 2
    assert "DATABASE_URL is not a PostgreSQL database URL: sqlite://…" in result.stderr


def test_retention_applies_after_each_backup_but_spares_the_file_being_restored(
    server: dict,
) -> None:
    server["env"]["ALETHEIA_BACKUP_KEEP"] = "2"
    oldest = backup(server, "staging")
    backup(server, "staging")
    newest = backup(server, "staging")  # the third: the oldest goes
    folder = oldest.parent
    assert not oldest.exists()
    assert not backups.sidecars(oldest)[0].exists()
    assert len(list(folder.glob("*.dump"))) == 2
    second = sorted(folder.glob("*.dump"))[0]
    # restoring the oldest kept backup: its safety backup must not push it out mid-restore
    result = ops(server, "db-restore", "staging", second.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert second.exists()
    assert newest.exists()


def test_dry_runs_print_the_plan_and_change_nothing(server: dict) -> None:
    dump = backup(server, "staging")
    before = fingerprint(server["databases"]["staging"])
    files = sorted(dump.parent.iterdir())
    plan = ops(server, "db-restore", "staging", dump.name, "--dry-run")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "$ pg_dump --format=custom" in plan.stdout  # the safety backup
    assert "$ pg_restore --no-owner --no-acl --file - <" in plan.stdout
    assert "| psql --no-psqlrc" in plan.stdout
    plan = ops(server, "db-backup", "prod", "--dry-run")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert sorted(dump.parent.iterdir()) == files
    assert not (server["root"] / "backups" / "prod").exists()
    assert fingerprint(server["databases"]["staging"]) == before
    assert not (server["root"] / "aletheia" / "state" / "restores-staging.jsonl").exists()


def test_the_origin_comes_from_the_dump_not_from_its_editable_manifest(server: dict) -> None:
    dump = backup(server, "prod")
    manifest_path = dump.with_name(dump.name + ".json")
    manifest = json.loads(manifest_path.read_text())
    manifest["environment"] = "staging"  # to have prod's data restored without anonymisation
    manifest_path.write_text(json.dumps(manifest))
    refused = ops(server, "db-restore", "staging", dump.name)
    assert refused.returncode == 2
    assert "holds prod's database" in refused.stderr
    manifest["database"] = server["databases"]["staging"]  # and the database too
    manifest_path.write_text(json.dumps(manifest))
    refused = ops(server, "db-restore", "staging", dump.name)
    assert refused.returncode == 2
    assert "but its manifest says" in refused.stderr
    assert fingerprint(server["databases"]["staging"])["auth_user"][0] == 2  # untouched


def test_backup_files_are_never_readable_by_others(server: dict) -> None:
    import time

    from ops.core.runner import Runner

    folder = server["root"] / "backups" / "prod"
    folder.mkdir(parents=True)
    folder.chmod(0o755)
    stale = folder / "aletheia-prod-20200101T000000.000Z.dump.partial"
    stale.write_text("cut short")
    old = time.time() - 7 * 3600
    os.utime(stale, (old, old))
    dump = backup(server, "prod")
    assert folder.stat().st_mode & 0o777 == 0o700
    assert not stale.exists()
    for path in (dump, dump.with_name(dump.name + ".sha256"), dump.with_name(dump.name + ".json")):
        assert path.stat().st_mode & 0o777 == 0o600, path
    sink = server["root"] / "streamed.partial"
    Runner(out=open(os.devnull, "w")).stream(["echo", "data"], sink=sink)  # noqa: SIM115
    assert sink.stat().st_mode & 0o777 == 0o600  # from its creation, not chmodded after

"""Backups and restores on the whole single server (`server`, tests/e2e/server/conftest.py):
before prod deploys, by hand, into the running environment, refusals, and prod's data reaching
staging anonymised."""

import json
import time
from pathlib import Path

import psycopg
import pytest

from tests.e2e.conftest import BASELINE, Server
from tests.helpers import database_fingerprint, run_command

pytestmark = pytest.mark.e2e

# The running beat writes its bookkeeping (last run, run count) every couple of seconds.
BEAT_BOOKKEEPING = {"django_celery_beat_periodictask", "django_celery_beat_periodictasks"}


def fingerprint(server: Server, environment: str) -> dict[str, object]:
    """The environment's data, comparable while it runs."""
    return {
        table: count if table in BEAT_BOOKKEEPING else (count, digest)
        for table, (count, digest) in database_fingerprint(server.database_url(environment)).items()
    }


def ensure_backup(server: Server, environment: str) -> Path:
    """The environment's newest backup, taken now if it has none."""
    server.ensure_deployed(environment, BASELINE[environment])
    if not server.backups(environment):
        server.make("db-backup", f"ENV={environment}")
    return server.backups(environment)[-1]


def test_prod_deploys_take_a_backup_before_migrating_unless_skipped(server: Server) -> None:
    server.ensure_deployed("prod", "v1.0")
    # every prod deploy so far took one (or says it skipped it), and it is still there
    deploys = [r for r in server.log("releases-prod") if r["result"] == "succeeded"]
    taken = [str(r["backup"]) for r in deploys if r["backup"] != "skipped (--skip-backup)"]
    assert taken
    assert len(set(taken)) == len(taken)  # one each
    assert set(taken) <= {dump.name for dump in server.backups("prod")}
    earlier = set(server.backups("prod"))
    out = server.deploy("prod", "v1.1").stdout
    print(out)
    assert out.index("] backup") < out.index("] migrate")
    (dump,) = set(server.backups("prod")) - earlier
    manifest = json.loads(dump.with_name(dump.name + ".json").read_text())
    assert manifest["reason"] == "before deploying v1.1"
    assert manifest["release"] == server.shas["v1.0"]  # what ran when it was taken
    out = server.deploy("prod", "v1.0", "--skip-backup").stdout
    assert "skipped: --skip-backup" in out
    assert set(server.backups("prod")) == {*earlier, dump}
    log = server.make("releases", "ENV=prod").stdout.splitlines()
    print("\n".join(log), server.make("db-backups", "ENV=prod").stdout, sep="\n")
    assert f"backup: {dump.name}" in log[-2]
    assert "backup: skipped (--skip-backup)" in log[-1]
    assert server.served_release("prod", server.shas["v1.0"]) == server.shas["v1.0"]


def test_backup_restore_round_trip_through_the_running_environment(server: Server) -> None:
    server.ensure_deployed("staging", "feature")
    server.wait_for_beat("staging")
    with psycopg.connect(server.database_url("staging"), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, "
            "email, is_staff, is_active, date_joined) VALUES ('!', true, 'jdupont', 'Jeanne', "
            "'Dupont', 'jeanne.dupont@groupe-suffren.com', true, true, now())"
        )
    before = fingerprint(server, "staging")
    earlier = set(server.backups("staging"))
    out = server.make("db-backup", "ENV=staging").stdout
    (dump,) = set(server.backups("staging")) - earlier
    assert f"db-backup: {dump}" in out
    assert "KiB, sha256" in out or "MiB, sha256" in out
    checked = run_command("sha256sum", "-c", dump.name + ".sha256", cwd=dump.parent)
    assert checked.stdout.strip().endswith("OK")
    with psycopg.connect(server.database_url("staging"), autocommit=True) as conn:
        conn.execute("DELETE FROM auth_user")
        conn.execute("DELETE FROM django_celery_beat_periodictask")
    assert fingerprint(server, "staging") != before
    started = time.monotonic()
    out = server.make("db-restore", "ENV=staging", f"FILE={dump.name}").stdout
    server.timings["db-restore staging"] = [round(time.monotonic() - started, 1)]
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
    assert fingerprint(server, "staging") == before
    server.settle("staging", 200)
    response = server.curl("staging", "/healthz", auth=True)
    assert response.status == 200, response.body[:300]


def test_restoring_into_prod_without_the_flag_is_refused(server: Server) -> None:
    dump = ensure_backup(server, "prod")
    server.wait_for_beat("prod")
    before = fingerprint(server, "prod")
    result = server.make("db-restore", "ENV=prod", f"FILE={dump.name}", check=False)
    assert result.returncode == 2
    assert "restoring into prod replaces production's data: add --confirm prod" in result.stderr
    assert fingerprint(server, "prod") == before
    server.settle("prod", 200)
    assert server.curl("prod", "/healthz").status == 200


def test_a_corrupted_backup_is_refused_before_anything_is_touched(server: Server) -> None:
    original = ensure_backup(server, "staging")
    folder = original.parent
    corrupted = folder / "aletheia-staging-corrupted.dump"
    with_sidecars = [corrupted, *(Path(str(corrupted) + s) for s in (".sha256", ".json"))]
    data = bytearray(original.read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupted.write_bytes(bytes(data))
    for suffix in (".sha256", ".json"):
        Path(str(corrupted) + suffix).write_text(Path(str(original) + suffix).read_text())
    try:
        files_before = sorted(p.name for p in folder.iterdir())
        ps_before = server.make("ps", "ENV=staging").stdout
        result = server.make("db-restore", "ENV=staging", f"FILE={corrupted}", check=False)
        assert result.returncode == 2
        assert "aletheia-staging-corrupted.dump is corrupted: sha256" in result.stderr
        assert "] safety backup" not in result.stdout
        assert sorted(p.name for p in folder.iterdir()) == files_before
        assert server.make("ps", "ENV=staging").stdout.count(" Up ") == ps_before.count(" Up ")
        assert server.curl("staging", "/healthz", auth=True).status == 200
        assert server.log("restores-staging")[-1]["result"] == "refused"
    finally:
        for path in with_sidecars:  # not a backup to find later
            path.unlink(missing_ok=True)


def test_prod_data_reaches_staging_anonymised_on_the_real_schema(server: Server) -> None:
    server.ensure_deployed("prod", "v1.0")
    server.ensure_deployed("staging", "feature")
    with psycopg.connect(server.database_url("prod"), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, "
            "email, is_staff, is_active, date_joined, last_login) VALUES ('pbkdf2_sha256$x', "
            "false, 'pmartin', 'Paul', 'Martin', 'paul.martin@groupe-suffren.com', true, true, "
            "now(), now())"
        )
        conn.execute("INSERT INTO django_session VALUES ('k1', 'data', now() + interval '1 day')")
    server.ops("db-backup", "prod")
    dump = server.backups("prod")[-1]
    out = server.make("db-restore", "ENV=staging", f"FILE={dump.name}", "FROM_ENV=prod").stdout
    assert "will be anonymised" in out
    with psycopg.connect(server.database_url("staging")) as conn:
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
    server.settle("staging", 200)
    response = server.curl("staging", "/healthz", auth=True)
    assert response.status == 200, response.body[:300]
    entry = server.log("restores-staging")[-1]
    assert (entry["source"], entry["from_env_flag"], entry["anonymised"]) == ("prod", "prod", True)

"""Deploys, refusals, rollbacks and images on the whole single server (`server`,
tests/e2e/server/conftest.py): what ./deploy.sh and ops' commands do to the environments."""

import json
import subprocess
import time

import psycopg
import pytest
import redis

from ops.core import locks
from ops.setup import isolation
from tests.e2e.conftest import MATRIX, SERVER_ENVIRONMENTS, Server

pytestmark = pytest.mark.e2e


def test_deploy_dev_staging_feature_and_prod_tag(server: Server) -> None:
    server.remove_certificate("dev")
    out = server.deploy("dev").stdout
    assert "==> [1] fetch" in out
    assert "nginx: ok" in out
    assert "serving the 503 placeholder" in out  # dev has no certificate
    server.deploy("staging", "feature")
    out = server.deploy("prod", "v1.0").stdout
    assert "exists: reused, no rebuild" in out  # v1.0 is develop's commit: dev built it


def test_each_environment_uses_its_own_database_and_redis_dbs(server: Server) -> None:
    server.ensure_baseline()
    for name in SERVER_ENVIRONMENTS:
        cache_db, broker_db = MATRIX[name].redis_dbs
        with psycopg.connect(server.database_url(name)) as conn:
            row = conn.execute("SELECT count(*) FROM django_celery_beat_periodictask").fetchone()
            assert row is not None
            assert row[0] >= 1
        prefix = isolation.redis_key_prefix(MATRIX[name])  # every key of the environment's
        beat_key = f"{prefix}:1:aletheia:beat:last"  # the cache's <prefix>:<version>:<key>
        heartbeat, deadline = redis.Redis(db=cache_db), time.monotonic() + 60
        while not heartbeat.exists(beat_key) and time.monotonic() < deadline:
            time.sleep(1)
        assert heartbeat.exists(beat_key), (
            f"{name}: no heartbeat in db {cache_db}\n{server.containers_report(name)}"
        )
        assert redis.Redis(db=broker_db).exists(f"{prefix}:_kombu.binding.celery"), (
            f"{name}: no broker in db {broker_db}"
        )


def releases_text(server: Server, environment: str) -> str:
    return server.ops("releases", environment).stdout


def test_prod_refuses_branches_and_unknown_tags_changing_nothing(server: Server) -> None:
    server.ensure_deployed("prod", "v1.0")
    refused_before = releases_text(server, "prod").count("refused")
    for ref, reason in (("develop", "'develop' is a branch"), ("v9.9", "'v9.9' is unknown")):
        result = server.deploy("prod", ref, check=False)
        assert result.returncode == 2, result.stdout + result.stderr
        assert reason in result.stderr
    assert server.served_release("prod") == server.shas["v1.0"]
    assert not (server.state_dir / "deploy-prod.lock").exists()
    # each refusal is in the release log
    assert releases_text(server, "prod").count("refused") == refused_before + 2


def test_a_failing_migration_keeps_the_old_release_and_frees_the_lock(server: Server) -> None:
    server.ensure_deployed("staging", "feature")
    result = server.deploy("staging", "broken", check=False)
    assert result.returncode == 1
    assert "step 'migrate' failed" in result.stderr
    response = server.curl("staging", "/healthz", auth=True)
    assert response.status == 200
    assert response.json()["release"] == server.shas["feature"]
    assert not (server.state_dir / "deploy-staging.lock").exists()
    log = releases_text(server, "staging")
    assert "failed" in log
    assert "migrate" in log


def test_a_concurrent_deploy_is_refused_and_a_stale_lock_reported(server: Server) -> None:
    lock = locks.acquire(server.state_dir, "staging", "feature")
    try:
        result = server.deploy("staging", check=False)
        assert result.returncode == 2
        assert "staging is being deployed by" in result.stderr
    finally:
        locks.release(lock)
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock = locks.acquire(server.state_dir, "staging", "feature")
    info = json.loads((lock / "info.json").read_text())
    (lock / "info.json").write_text(json.dumps({**info, "pid": dead.pid}))
    result = server.deploy("staging", check=False)
    assert result.returncode == 2
    assert "stale deploy lock" in result.stderr
    server.make("deploy-unlock", "ENV=staging")
    assert not lock.exists()


def test_redeploying_unchanged_refs_reuses_the_images(server: Server) -> None:
    server.ensure_baseline()
    succeeded_before = releases_text(server, "prod").count("succeeded")
    for args in (("dev",), ("staging", "feature"), ("prod", "v1.0")):
        out = server.deploy(*args).stdout
        assert "reused, no rebuild" in out
    assert server.served_release("prod", server.shas["v1.0"]) == server.shas["v1.0"]
    assert releases_text(server, "prod").count("succeeded") == succeeded_before + 1


def test_environment_commands_reach_the_deployed_release(server: Server) -> None:
    server.ensure_deployed("prod", "v1.0")
    server.ensure_deployed("staging", "feature")
    ps = server.make("ps", "ENV=prod").stdout
    assert "aletheia-prod" in ps
    assert "celery_beat" in ps
    migrate = server.make("migrate", "ENV=staging").stdout
    assert "No migrations to apply" in migrate
    dry = server.ops("logs", "dev", "--dry-run").stdout
    assert "-p aletheia-dev" in dry
    assert "logs -f --tail=100" in dry


def test_rollback_puts_the_previous_release_back_in_seconds(server: Server) -> None:
    server.ensure_deployed("staging", "feature")  # the release to go back to
    server.deploy("staging")  # develop
    develop, feature = server.shas["develop"], server.shas["feature"]
    assert server.served_release("staging", develop) == develop
    started = time.monotonic()
    out = server.make("rollback", "ENV=staging").stdout
    print(out)
    server.timings["rollback staging"] = [round(time.monotonic() - started, 1)]
    assert "rolled back to feature" in out
    assert "docker build" not in out
    assert server.served_release("staging", feature) == feature
    refused = server.ops("rollback", "staging", "deadbeef", check=False)
    assert refused.returncode == 2
    assert "'deadbeef' is not a release of staging" in refused.stderr


def test_images_are_kept_per_environment_and_pruning_spares_the_others(server: Server) -> None:
    server.ensure_baseline()
    staging_log = server.log("releases-staging")
    if not any(r["sha"] == server.shas["broken"] for r in staging_log):
        server.deploy("staging", "broken", check=False)  # builds the image, fails to migrate
    if server.image_kept("broken"):
        server.deploy("dev")  # a successful deploy prunes
    # the broken release was built, never succeeded anywhere: a deploy's pruning removed it
    assert not server.image_kept("broken")
    # staging keeping a single release (feature) must not remove develop, which dev runs
    out = server.ops("prune-images", ALETHEIA_IMAGES_KEEP="1").stdout
    print(out)
    assert "kept (last 1 releases of each environment)" in out
    assert server.image_kept("develop")
    assert server.image_kept("feature")

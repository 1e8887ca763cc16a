"""The operator's path (issue 15): server settings from server.env, the first-time setup,
distinct web ports, the doctor's grace after a deploy, the day-two commands and the deploy's
numbered steps as the docs list them. No docker, no server: plans and files only."""

import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ops.core import releases
from ops.core.runner import Refusal, Runner
from ops.doctor import checks as doctor
from ops.doctor import edge as doctor_edge
from ops.release import deploy, images
from ops.runtimes import app
from ops.server import envfile, slots, target
from ops.server.settings import ServerSettings, described, settings_report
from ops.setup import server_init
from tests.conftest import REPO_ROOT
from tests.helpers import write_env_file


def settings_at(root: Path, **environ: str) -> ServerSettings:
    return ServerSettings.from_environment({"ALETHEIA_SERVER_ROOT": str(root), **environ})


def test_settings_come_from_server_env_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / "aletheia").mkdir()
    (tmp_path / "aletheia" / "server.env").write_text(
        "# comment\nALETHEIA_NETWORK=host\nALETHEIA_PG_CLIENT=\nALETHEIA_IMAGES_KEEP=3\n"
        "ALETHEIA_NGINX_HTTPS_PORT=8443\nALETHEIA_TYPO=1\n"
    )
    server = settings_at(tmp_path, ALETHEIA_IMAGES_KEEP="7")
    assert server.network == "host"
    assert server.pg_client == ()  # empty in the file: this host's pg_dump
    assert server.images_keep == 7  # the environment wins
    assert server.nginx_https_port == 8443
    assert server.static_dir == f"{tmp_path}/aletheia/static/{{env}}"  # host: readable by nginx
    origins = {key: origin for key, _, origin in described(server)}
    assert origins["ALETHEIA_NETWORK"] == str(tmp_path / "aletheia" / "server.env")
    assert origins["ALETHEIA_IMAGES_KEEP"] == "environment"
    assert origins["ALETHEIA_DOCKER"] == "default"
    report = settings_report(server)
    assert re.search(r"ALETHEIA_NETWORK\s+server.env\s+host", report)
    assert re.search(r"ALETHEIA_IMAGES_KEEP\s+environment\s+7", report)
    assert "ALETHEIA_TYPO in server.env is no setting ops reads" in report


def test_cron_sees_the_settings_without_exporting_anything(tmp_path: Path) -> None:
    """A command with a bare environment (as cron runs it) reads server.env."""
    (tmp_path / "aletheia").mkdir()
    (tmp_path / "aletheia" / "server.env").write_text(
        "ALETHEIA_NETWORK=host\nALETHEIA_PG_CLIENT=\n"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from ops.server.settings import ServerSettings; s = ServerSettings.from_environment();"
            "print(s.network, list(s.pg_client))",
        ],
        cwd=REPO_ROOT,
        env={"ALETHEIA_SERVER_ROOT": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "host []"


def run_init(server: ServerSettings, names: list[str] | None = None, dry_run: bool = False) -> str:
    out = io.StringIO()
    names = names or ["dev", "staging", "prod"]
    setup = server_init.server_init(server, Runner(out=out, dry_run=dry_run), names, apply=False)
    return out.getvalue() + server_init.summary(setup, names)


def test_server_init_writes_the_layout_and_env_files_then_changes_nothing(tmp_path: Path) -> None:
    server = settings_at(tmp_path, ALETHEIA_NETWORK="host", ALETHEIA_WEB_PORT_BASE="9100")
    first = run_init(server)
    assert "thing(s) changed" in first
    assert (tmp_path / "aletheia" / "server.env").read_text().count("ALETHEIA_NETWORK=host") == 1
    assert "ALETHEIA_WEB_PORT_BASE=9100" in (tmp_path / "aletheia" / "server.env").read_text()
    envs = tmp_path / "aletheia" / "envs"
    assert envs.stat().st_mode & 0o777 == 0o700
    ports = []
    for name in ("dev", "staging", "prod"):
        path = envs / f".env.{name}"
        assert path.stat().st_mode & 0o777 == 0o600
        values = envfile.parse(path.read_text())
        assert len(values["DJANGO_SECRET_KEY"]) >= 50
        assert values["DATABASE_URL"].startswith(f"postgres://aletheia_{name}:")
        assert values["DATABASE_URL"].endswith(f"@127.0.0.1:5432/aletheia_{name}")
        assert values["REDIS_URL"].startswith(f"redis://aletheia-{name}:")
        # only what the operator sets: nothing the image or the overlay own
        assert not {"ALETHEIA_RELEASE", "ALETHEIA_ENV", "REDIS_CACHE_DB"} & set(values)
        ports.append(values["PORT"])
    assert ports == ["9101", "9102", "9103"]
    assert "lacks: BREVO_API_KEY" in first  # by hand
    assert "lacks: EMAIL_URL" in first
    assert "CREATE ROLE" in first  # printed, not applied
    assert "user aletheia-staging on #" in first
    assert "include " + str(tmp_path / "nginx" / "conf.d") + "/*.conf;" in first
    credentials = (tmp_path / "aletheia" / "doctor.credentials").read_text().strip()
    assert credentials.startswith("aletheia-doctor:")
    assert "aletheia-doctor:{SSHA}" in (tmp_path / "nginx" / ".htpasswd").read_text()

    files = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    second = run_init(settings_at(tmp_path))  # the settings now come from server.env
    assert "server-init: nothing to change, everything was already in place" in second
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == files


def test_server_init_dry_run_says_would_and_writes_nothing(tmp_path: Path) -> None:
    out = run_init(settings_at(tmp_path, ALETHEIA_NETWORK="host"), ["staging"], dry_run=True)
    assert "would created" not in out
    assert "would wrote" not in out
    assert "would create " in out
    assert "thing(s) would change" in out
    assert not any(tmp_path.iterdir())


def test_host_networking_refuses_two_environments_on_one_port(tmp_path: Path) -> None:
    envs = tmp_path / "aletheia" / "envs"
    for name in ("dev", "staging"):
        write_env_file(
            envs / f".env.{name}",
            DATABASE_URL=f"postgres://aletheia_{name}:pw@127.0.0.1:5432/aletheia_{name}",
            REDIS_URL=f"redis://aletheia-{name}:pw@127.0.0.1:6379",
        )  # no PORT: both 8000
    staging = target.resolve("staging", settings_at(tmp_path, ALETHEIA_NETWORK="host"))
    assert "PORT 8000 or PORT_GREEN 9000 is also used by dev" in staging.env_file.problems[-1]
    with pytest.raises(Refusal):
        staging.require_valid_env_file()
    assert not target.resolve("staging", settings_at(tmp_path)).env_file.problems  # shared
    envfile.set_value(envs / ".env.staging", "PORT", "8102")
    host = settings_at(tmp_path, ALETHEIA_NETWORK="host")
    assert not target.resolve("staging", host).env_file.problems
    # the green slots count too: staging's green on dev's blue, or a green on its own blue
    envfile.set_value(envs / ".env.staging", "PORT_GREEN", "8000")
    assert "also used by dev" in target.resolve("staging", host).env_file.problems[-1]
    envfile.set_value(envs / ".env.staging", "PORT_GREEN", "8102")
    assert "is PORT" in target.resolve("staging", host).env_file.problems[-1]
    envfile.set_value(envs / ".env.staging", "PORT_GREEN", "9102")
    assert not target.resolve("staging", host).env_file.problems


def test_the_deploy_prints_the_steps_the_docs_number() -> None:
    docs = (REPO_ROOT / "docs" / "deployment" / "deploy.md").read_text()
    section = docs[docs.index("## deploy.sh") : docs.index("## Release log")]
    listed = re.findall(r"^(\d+)\. \*\*([^*]+)\*\*", section, re.M)
    assert [(int(n), name) for n, name in listed] == list(enumerate(deploy.DEPLOY_STEPS, start=1))
    printed = re.findall(r"^==> \[(\d+)\] (.+)$", section, re.M)
    assert [(int(n), name) for n, name in printed] == list(enumerate(deploy.DEPLOY_STEPS, start=1))


def test_the_doctor_gives_the_first_heartbeat_a_grace_after_a_deploy(tmp_path: Path) -> None:
    server = settings_at(tmp_path)
    ctx = doctor.Context(target.resolve("prod", server), Runner())
    ctx.probe = {"heartbeat": [60.0, None]}
    assert doctor.check_workers(ctx)[0] == "FAIL"  # nothing deployed: no grace
    releases.record(server.state_dir, "prod", {"sha": "abc", "result": "succeeded"})
    result, detail = doctor.check_workers(ctx)
    assert result == "PASS"
    assert "waiting for the first heartbeat" in detail
    ctx.probe = {"heartbeat": [60.0, 500.0]}  # the previous release's, long ago
    assert doctor.check_workers(ctx)[0] == "PASS"
    log = releases.log_path(server.state_dir, "prod")
    old = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(time.time() - 600))
    log.write_text(json.dumps({"at": old, "sha": "abc", "result": "succeeded"}) + "\n")
    assert doctor.check_workers(ctx)[0] == "FAIL"  # grace over: beat or the worker stopped


class Listing(Runner):
    """A runner whose `docker image ls` lists these images (nothing else runs)."""

    def __init__(self, listed: list[str], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.listed = listed
        self.ran: list[list[str]] = []

    def run(self, command, **kwargs):
        self.ran.append(command)
        self.say(f"    $ {' '.join(command)}")
        stdout = "\n".join(self.listed) if {"ls", "ps"} & set(command) else ""
        return subprocess.CompletedProcess(command, 0, stdout, "")


def test_pruning_spares_unrecorded_images_and_a_dry_run_says_would(tmp_path: Path) -> None:
    server = settings_at(tmp_path, ALETHEIA_IMAGES_KEEP="1")
    for sha in ("old", "new"):
        releases.record(server.state_dir, "staging", {"sha": sha, "result": "succeeded"})
    out = io.StringIO()
    runner = Listing(["aletheia:old", "aletheia:new", "aletheia:elsewhere"], out=out, dry_run=True)
    assert images.prune(server, runner) == ["aletheia:old"]
    said = out.getvalue()
    assert "1 image(s) would be removed" in said
    assert "1 left alone (in no release log of this server)" in said
    assert not any("elsewhere" in part for command in runner.ran for part in command)


def test_logs_reads_the_last_lines_since_a_time_and_may_stop(tmp_path: Path) -> None:
    v1 = target.resolve("staging", settings_at(tmp_path, ALETHEIA_COMPOSE="docker-compose"))
    one_by_one, together = app.logs_commands(v1, Runner(), None, "100", True)
    assert one_by_one == []
    assert together[0][-3:] == ["logs", "-f", "--tail=100"]
    one_by_one, together = app.logs_commands(v1, Runner(), None, "50", False)
    assert one_by_one[0][-2:] == ["logs", "--tail=50"]
    assert together == []
    runner = Listing(["aletheia-staging_web_1", "aletheia-staging_celery_1"])
    backlog, followers = app.logs_commands(v1, runner, "10m", "100", True)
    assert backlog[0] == [
        "docker",
        "logs",
        "--since",
        "10m",
        "--tail=100",
        "aletheia-staging_celery_1",
    ]
    assert followers[0][-3:] == ["logs", "--tail=0", "-f"]  # then follow what comes
    v2 = target.resolve("staging", settings_at(tmp_path, ALETHEIA_COMPOSE="docker compose"))
    assert app.logs_commands(v2, Runner(), "10m", "100", False)[0][0][-4:] == [
        "logs",
        "--since",
        "10m",
        "--tail=100",
    ]


def test_logs_read_the_live_web_slot_beside_beat(tmp_path: Path) -> None:
    """After a switch the web and the worker run in aletheia-ENV-SLOT: make logs reads that
    project and the environment's own (beat), following both at once."""
    server = settings_at(tmp_path, ALETHEIA_COMPOSE="docker-compose")
    slots.record(server, "staging", "green")
    live = target.resolve("staging", server)
    _, followers = app.logs_commands(live, Runner(), None, "100", True)
    assert [c[c.index("-p") + 1] for c in followers] == [
        "aletheia-staging",
        "aletheia-staging-green",
    ]
    runner = Listing(["one_container"])
    app.logs_commands(live, runner, "10m", "100", False)
    assert [c[-3] for c in runner.ran] == [
        "label=com.docker.compose.project=aletheia-staging",
        "label=com.docker.compose.project=aletheia-staging-green",
    ]


def test_down_of_prod_needs_a_confirmation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ops.cli.main as main

    monkeypatch.setenv("ALETHEIA_SERVER_ROOT", str(tmp_path))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # no terminal
    assert main.main(["down", "prod"]) == 2
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    assert main.main(["down", "staging", "--dry-run"]) == 0
    assert "staging would be down" in out.getvalue()
    assert main.main(["down", "prod", "--confirm", "prod", "--dry-run"]) == 0
    out.truncate(0)
    assert main.main(["logs", "staging", "--dry-run"]) == 2  # nothing deployed yet
    releases.record(
        tmp_path / "aletheia" / "state", "staging", {"sha": "abc", "result": "succeeded"}
    )
    docker = tmp_path / "docker"  # lists one container (a dry run still reads what runs)
    docker.write_text("#!/bin/sh\necho aletheia-staging_celery_beat_1\n")
    docker.chmod(0o755)
    monkeypatch.setenv("ALETHEIA_DOCKER", str(docker))
    monkeypatch.setenv("ALETHEIA_COMPOSE", "docker-compose")
    assert main.main(["logs", "staging", "--dry-run", "--since", "10m", "--no-follow"]) == 0
    assert f"{docker} logs --since 10m --tail=100 aletheia-staging_celery_beat_1" in out.getvalue()


def test_each_environment_gets_its_compose_files_from_a_shared_release_folder(
    tmp_path: Path,
) -> None:
    """dev deploys a commit, then prod deploys the same one: prod's overlay is added to the
    release's folder (it was missing, and prod's deploy failed on it)."""
    head = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    server = settings_at(tmp_path, ALETHEIA_CHECKOUT=str(REPO_ROOT), ALETHEIA_NETWORK="host")
    quiet = Runner(out=io.StringIO())
    dev = app.with_release_files(target.resolve("dev", server), quiet, head)
    prod = app.with_release_files(target.resolve("prod", server), quiet, head)
    folder = server.releases_dir / head
    assert dev.compose_source == prod.compose_source == folder
    for name in ("docker-compose.dev.yml", "docker-compose.prod.yml", "docker-compose.yml"):
        assert (folder / name).is_file(), name


def test_server_init_apply_makes_roles_and_acl_users_once(tmp_path: Path) -> None:
    """--apply against the real PostgreSQL and a Redis of its own (`aclfile` on the file ops
    writes); a second run applies nothing new and says so. The env files are written first,
    with databases of this test's own, as an operator may (server-init keeps them)."""
    import uuid

    import psycopg
    import redis

    from tests.helpers import acl_redis

    run = uuid.uuid4().hex[:6]
    acl = tmp_path / "redis" / "users.acl"
    acl.parent.mkdir(parents=True)
    acl.touch()
    with acl_redis(acl) as port:
        names = {"staging": f"aletheia_init_staging_{run}", "prod": f"aletheia_init_prod_{run}"}
        for name, database in names.items():
            write_env_file(
                tmp_path / "aletheia" / "envs" / f".env.{name}",
                DATABASE_URL=f"postgres://{database}:pw{run}@127.0.0.1:5432/{database}",
                REDIS_URL=f"redis://aletheia-{name}:pw{run}@127.0.0.1:{port}",
                PORT={"staging": "18402", "prod": "18403"}[name],
            )
        try:
            server = settings_at(
                tmp_path, ALETHEIA_NETWORK="host", ALETHEIA_REDIS_ADDRESS=f"127.0.0.1:{port}"
            )

            def init() -> str:
                out = io.StringIO()
                setup = server_init.server_init(
                    server, Runner(out=out), ["staging", "prod"], apply=True
                )
                return out.getvalue() + server_init.summary(setup, ["staging", "prod"])

            first = init()
            assert f"created PostgreSQL role and database {names['staging']}" in first
            assert "wrote the Redis ACL users" in first
            with pytest.raises(redis.exceptions.AuthenticationError):
                redis.Redis(port=port).ping()  # the default user is off now
            assert redis.Redis(port=port, username="aletheia-staging", password=f"pw{run}").ping()
            second = init()
            assert "server-init: nothing to change, everything was already in place" in second
        finally:
            with psycopg.connect(
                "postgres://postgres@127.0.0.1:5432/postgres", autocommit=True
            ) as conn:
                for database in names.values():
                    conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
                    conn.execute(f'DROP ROLE IF EXISTS "{database}"')


def test_the_doctor_reaches_nginx_on_its_port_or_a_published_one(tmp_path: Path) -> None:
    assert doctor_edge.nginx_address(settings_at(tmp_path)) == ("127.0.0.1", 443)
    https = settings_at(tmp_path, ALETHEIA_NGINX_HTTPS_PORT="8443")
    assert doctor_edge.nginx_address(https) == ("127.0.0.1", 8443)
    published = settings_at(tmp_path, ALETHEIA_NGINX_ADDRESS="127.0.0.1:18543")
    assert doctor_edge.nginx_address(published) == ("127.0.0.1", 18543)


def test_a_restart_waits_its_turn_behind_a_deploy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """restart runs the switch: under the environment's lock, like a deploy."""
    import ops.cli.main as main
    from ops.core import locks

    monkeypatch.setenv("ALETHEIA_SERVER_ROOT", str(tmp_path))
    server = settings_at(tmp_path)
    write_env_file(
        tmp_path / "aletheia" / "envs" / ".env.staging",
        DATABASE_URL="postgres://aletheia_staging:pw@db/aletheia_staging",
        REDIS_URL="redis://aletheia-staging:pw@redis:6379",
    )
    releases.record(server.state_dir, "staging", {"sha": "abc", "result": "succeeded"})
    held = locks.acquire(server.state_dir, "staging", "develop")
    try:
        assert main.main(["restart", "staging"]) == 2
    finally:
        locks.release(held)
    assert "develop" in capsys.readouterr().err  # what holds the lock is named


def test_logs_runs_every_command_even_after_one_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A container gone between the listing and its `docker logs` does not hide the others'."""
    import ops.cli.main as main

    monkeypatch.setenv("ALETHEIA_SERVER_ROOT", str(tmp_path))
    releases.record(
        tmp_path / "aletheia" / "state", "staging", {"sha": "abc", "result": "succeeded"}
    )
    asked = tmp_path / "asked"
    docker = tmp_path / "docker"  # lists two containers; the first one's logs fail
    docker.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {asked}\n'
        'case "$*" in ps*) printf "gone\\nthere\\n";; *gone) exit 1;; esac\n'
    )
    docker.chmod(0o755)
    monkeypatch.setenv("ALETHEIA_DOCKER", str(docker))
    monkeypatch.setenv("ALETHEIA_COMPOSE", "docker-compose")
    assert main.main(["logs", "staging", "--since", "10m", "--no-follow"]) == 1
    assert asked.read_text().splitlines()[-1].endswith("--tail=100 there")

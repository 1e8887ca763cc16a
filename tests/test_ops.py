import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ops.cli.main import main
from ops.edge import nginx
from ops.server import compose, environments, generate
from ops.server.settings import ServerSettings
from tests.helpers import self_signed_certificate, write_env_file


def test_generated_files_match_the_matrix() -> None:
    """The compose files and the docs' environments table are what `ops generate` writes."""
    for path, text in generate.generated_files().items():
        assert path.read_text() == text, (
            f"{path.name} drifted from environments.toml: run python3 -m ops generate"
        )
    assert main(["generate", "--check"]) == 0


def test_overlays_carry_each_fact_of_their_row() -> None:
    for environment in environments.server_environments().values():
        text = compose.render(environment)
        assert f"ALETHEIA_HOST: {environment.host}" in text
        assert f'REDIS_CACHE_DB: "{environment.redis_cache_db}"' in text
        assert f'REDIS_BROKER_DB: "{environment.redis_broker_db}"' in text
        assert f"mem_limit: {environment.web_memory.lower()}" in text
        assert environment.env_file in text


@pytest.fixture
def server_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("dev", "staging", "prod"):
        write_env_file(
            tmp_path / "aletheia" / "envs" / f".env.{name}",
            DATABASE_URL="postgres://x@db/x",
            REDIS_URL="redis://r:6379",
        )
    monkeypatch.setenv("ALETHEIA_SERVER_ROOT", str(tmp_path))
    monkeypatch.setenv("ALETHEIA_CHECKOUT", str(Path(__file__).resolve().parent.parent))
    return tmp_path


def run_ops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        cwd=Path(__file__).resolve().parent.parent,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["deploy", "qa"], "unknown environment 'qa'"),
        (["deploy", "prod"], "prod deploys a tag only"),
    ],
)
def test_bad_environment_or_ref_is_refused(
    server_root: Path, args: list[str], message: str
) -> None:
    result = run_ops(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "nothing changed" in result.stderr


def test_env_file_problems_are_refused_by_name(server_root: Path) -> None:
    env_file = server_root / "aletheia" / "envs" / ".env.staging"
    env_file.chmod(0o644)
    assert "readable by others (mode 644): chmod 600" in run_ops("deploy", "staging").stderr
    env_file.chmod(0o600)
    env_file.write_text("DJANGO_SECRET_KEY=x\n")
    assert "lacks: DATABASE_URL, REDIS_URL, BREVO_API_KEY" in run_ops("deploy", "staging").stderr
    env_file.unlink()
    assert f"env file {env_file} is missing" in run_ops("deploy", "staging").stderr


def test_dry_run_prints_the_exact_plan_and_changes_nothing(server_root: Path) -> None:
    result = run_ops("deploy", "dev", "HEAD", "--dry-run")
    out = result.stdout
    assert "$ git -C" in out
    assert "fetch --all --tags --prune --force" in out
    assert "run --rm --no-deps -T manage manage migrate --noinput" in out
    # the switch: the new slot's web beside the live one, health, nginx, then the old drained
    assert "-p aletheia-dev-green" in out
    assert "up -d --no-deps web" in out
    assert out.index("up -d --no-deps web") < out.index("nginx -t") < out.index("stop -t 30 web")
    assert out.index("up -d --no-deps celery\n") < out.index("stop -t 30 web")  # worker handoff
    assert "up -d --no-deps celery_beat" in out
    assert "docker exec nginx-proxy nginx -t" in out
    assert not (server_root / "aletheia" / "state").exists()  # no lock, no release log
    assert not (server_root / "nginx").exists()
    assert not (server_root / "aletheia" / "slots").exists()


def test_recreate_strategy_recreates_in_place(server_root: Path) -> None:
    out = run_ops("deploy", "dev", "HEAD", "--dry-run", "--strategy", "recreate").stdout
    assert "up -d --no-deps web celery" in out
    assert "stop -t" not in out


def test_maintenance_deploys_behind_the_placeholder_with_the_app_stopped(
    server_root: Path,
) -> None:
    out = run_ops("deploy", "dev", "HEAD", "--dry-run", "--maintenance").stdout
    assert "==> [6] maintenance" in out
    assert "503 placeholder" in out
    assert out.index("maintenance") < out.index("manage manage migrate")
    assert "stop web celery celery_beat" in out


def test_slots_ports_aliases_and_nginx_upstream(tmp_path: Path) -> None:
    from ops.server import slots, target

    for network in ("host", "shared"):
        env = {"ALETHEIA_SERVER_ROOT": str(tmp_path), "ALETHEIA_NETWORK": network}
        settings = ServerSettings.from_environment(env)
        prod = target.resolve("prod", settings)
        assert prod.web_slot is None
        assert slots.other(None) == "green"
        assert slots.other("green") == "blue"
        assert slots.port(prod, "blue") == prod.web_port
        assert slots.port(prod, "green") == prod.web_port + 1000
        green = slots.overlay(prod, "green")
        if network == "host":
            assert f'PORT: "{prod.web_port + 1000}"' in green
        else:
            assert "aletheia-prod-web-green" in green
        slots.record(settings, "prod", "green")
        assert target.resolve("prod", settings).web_slot == "green"
        full = nginx.render_full(
            prod.environment, settings, nginx.NginxPorts(), slots.port(prod, "green"), "green"
        )
        assert "live web slot: green" in full
        assert "proxy_next_upstream error timeout;" in full
        if network == "host":
            assert f"server 127.0.0.1:{prod.web_port + 1000};" in full
            assert "keepalive 16;" in full
            assert "proxy_pass http://aletheia_prod_web;" in full
        else:
            assert "set $aletheia_upstream http://aletheia-prod-web-green:8000;" in full
            legacy = nginx.render_full(prod.environment, settings, nginx.NginxPorts(), 8000)
            assert "http://aletheia-prod-web:8000;" in legacy
        slots.state_file(settings, "prod").unlink()


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_rendered_configs_pass_nginx_t(tmp_path: Path, name: str) -> None:
    env = {"ALETHEIA_SERVER_ROOT": str(tmp_path), "ALETHEIA_NETWORK": "host"}
    settings = ServerSettings.from_environment(env)
    environment = environments.server_environments()[name]
    cert, key = nginx.certificate(environment, settings)
    self_signed_certificate(cert, key, environment.host)
    settings.htpasswd.write_text("")
    files = nginx.write_templates(environment, settings, nginx.NginxPorts(18080, 18443), 18101)
    full, temp = files["full"].read_text(), files["temp"].read_text()
    assert ("auth_basic" in full) is (environment.proxy_auth == "basic")
    assert ("limit_req zone=general burst=20 nodelay" in full) is environment.rate_limited
    assert "X-Forwarded-Proto $scheme" in full
    assert "return 503" in temp
    assert "Retry-After 120" in temp
    for which in ("full", "temp"):
        nginx.swap_active(files, which)
        conf = tmp_path / "nginx.conf"
        conf.write_text(
            f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log; events {{}}\n"
            f"http {{ include {settings.nginx_dir}/*.conf; }}\n"
        )
        result = subprocess.run(
            ["nginx", "-p", str(tmp_path), "-c", str(conf), "-t"], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr


def test_every_matrix_key_shows_in_the_docs_table() -> None:
    """Change any key of any row and the generated environments table changes with it."""
    import dataclasses

    matrix = environments.load()
    table = generate.environments_table(matrix)
    other_value = {
        float: lambda v: v / 2,
        int: lambda v: v + 1,
        bool: lambda v: not v,
        str: lambda v: v + "-x",
        tuple: lambda v: tuple(x * 2 + 1 if isinstance(x, int) else x + "-x" for x in v),
    }
    for name, environment in matrix.items():
        for field in dataclasses.fields(environment):
            if field.name == "name" or (
                field.name == "default_ref" and not environment.default_ref
            ):
                continue
            value = getattr(environment, field.name)
            other: object
            if field.name in environments.ALLOWED:  # another of its possible values
                other = min(environments.ALLOWED[field.name] - {value})
            else:
                other = other_value[type(value)](value)
            changed = dataclasses.replace(environment, **{field.name: other})  # type: ignore[arg-type]
            assert generate.environments_table({**matrix, name: changed}) != table, (
                name,
                field.name,
            )


def test_the_matrix_refuses_what_no_environment_can_be(tmp_path: Path) -> None:
    text = environments.MATRIX_FILE.read_text()
    for wrong, message in [
        (text.replace('email = "smtp"', 'email = "pigeon"'), "email = 'pigeon' is not one of"),
        (
            text.replace("doctolib_rate = 1.4", "doctolib_rate = 1.5"),
            "doctolib_rate add up to 2.1 requests/s, over doctolib_budget_per_second = 2",
        ),
        (
            text.replace('proxy_auth = "none"\nrate', 'proxy_auth = "none"\ncolour = 1\nrate', 1),
            "unknown key(s) colour",
        ),
    ]:
        (tmp_path / "environments.toml").write_text(wrong)
        with pytest.raises(environments.MatrixError, match=re.escape(message)):
            environments.load(tmp_path / "environments.toml")


def test_rollback_target_is_the_last_good_release_before_the_current(tmp_path: Path) -> None:
    from ops.core import releases
    from ops.core.runner import Refusal
    from ops.release import deploy
    from ops.server import target

    settings = ServerSettings.from_environment({"ALETHEIA_SERVER_ROOT": str(tmp_path)})
    prod = target.resolve("prod", settings)
    state = settings.state_dir
    with pytest.raises(Refusal, match="no release to roll back to"):
        deploy.rollback_target(prod, None)
    for ref, sha, result in [
        ("v1.0", "aaa111", "succeeded"),
        ("v1.1", "bbb222", "failed"),
        ("v1.2", "ccc333", "succeeded"),
        ("v1.2", "ccc333", "succeeded"),
    ]:
        releases.record(state, "prod", {"ref": ref, "sha": sha, "result": result})
    assert deploy.rollback_target(prod, None)["sha"] == "aaa111"
    assert deploy.rollback_target(prod, "ccc")["ref"] == "v1.2"
    with pytest.raises(Refusal, match="'bbb' is not a release of prod"):
        deploy.rollback_target(prod, "bbb")  # it failed: never a target


def test_every_server_setting_is_documented() -> None:
    root = Path(__file__).resolve().parent.parent
    read = set()
    for module in ("server/settings.py", "edge/nginx.py"):
        read |= set(
            re.findall(
                r"(?:env|environ)\.get\(\"(ALETHEIA_[A-Z_]+)\"", (root / "ops" / module).read_text()
            )
        )
    section = (root / "docs" / "deployment" / "server-settings.md").read_text()
    assert len(read) >= 15
    assert sorted(name for name in read if f"`{name}`" not in section) == []


def test_every_ops_command_has_a_handler() -> None:
    import argparse

    from ops.cli.environment_commands import ENVIRONMENT_COMMANDS
    from ops.cli.parser import parser

    (sub,) = [a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(sub.choices) == {
        *ENVIRONMENT_COMMANDS,
        "doctor",
        "prune-images",
        "isolation",
        "server-init",
        "generate",
        "compose-overlays",
    }


def test_doctor_fails_workers_whose_heartbeat_is_missing_or_old() -> None:
    from ops.core.runner import Runner
    from ops.doctor import checks as doctor
    from ops.server import target

    ctx = doctor.Context(target.resolve("prod", ServerSettings.from_environment({})), Runner())
    cases: list[tuple[list[object], str]] = [
        ([60.0, 20.0], "PASS"),
        ([60.0, 209.0], "PASS"),
        ([60.0, 211.0], "FAIL"),
        ([60.0, None], "FAIL"),
    ]
    for heartbeat, expected in cases:
        ctx.probe = {"heartbeat": heartbeat}
        assert doctor.check_workers(ctx)[0] == expected, heartbeat
    ctx.probe, ctx.probe_error = None, "web container not answering: no output"
    assert doctor.check_workers(ctx) == (
        "FAIL",
        "not checked: web container not answering: no output",
    )


def test_a_half_written_release_line_is_skipped_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ops.core import releases

    releases.record(tmp_path, "prod", {"ref": "v1.0", "sha": "aaa", "result": "succeeded"})
    with (tmp_path / "releases-prod.jsonl").open("a") as log:
        log.write('{"ref": "v1.1", "sha": "bb')  # a disk that filled up mid-line
    releases.record(tmp_path, "prod", {"ref": "v1.2", "sha": "ccc", "result": "succeeded"})
    assert [e["ref"] for e in releases.read(tmp_path, "prod")] == ["v1.0", "v1.2"]
    assert "releases-prod.jsonl:2 is not a whole entry, skipped" in capsys.readouterr().err
    assert releases.current(tmp_path, "prod") == releases.read(tmp_path, "prod")[-1]


@pytest.mark.parametrize("ref", ["v1.0~1", "v1.0^{/msg}", "v1.0^", "HEAD", "main", "1.0", "v1"])
def test_prod_deploys_a_release_tag_and_nothing_git_would_read_as_an_expression(
    server_root: Path, ref: str
) -> None:
    result = run_ops("deploy", "prod", ref, "--dry-run")
    assert result.returncode == 2
    assert "deploys an existing release tag only" in result.stderr


def test_the_server_wide_lock_makes_a_second_deploy_wait_its_turn(tmp_path: Path) -> None:
    import threading
    import time

    from ops.core import locks

    order: list[str] = []
    said: list[str] = []

    def second_deploy() -> None:
        with locks.server_wide(tmp_path, "git checkout", said.append):
            order.append("second")

    with locks.server_wide(tmp_path, "git checkout"):
        second = threading.Thread(target=second_deploy)
        second.start()
        time.sleep(0.3)
        order.append("first done")
    second.join(timeout=5)
    assert order == ["first done", "second"]
    assert said == ["    waiting: another deploy is using the git checkout"]


def test_a_failed_nginx_reload_puts_the_previous_config_back(tmp_path: Path) -> None:
    """nginx -t passed but the reload failed: the active config is the one before, and the
    step fails saying so (nginx must not pick the new one up at its next reload)."""
    from ops.core.runner import Runner, StepFailed
    from ops.server import target

    server = ServerSettings.from_environment(
        {
            "ALETHEIA_SERVER_ROOT": str(tmp_path),
            "ALETHEIA_NGINX_TEST": "true",
            "ALETHEIA_NGINX_RELOAD": "sh -c 'echo reload refused >&2; exit 1'",
        }
    )
    staging = target.resolve("staging", server)
    active = nginx.paths(staging.environment, server)["active"]
    active.parent.mkdir(parents=True)
    active.write_text("# the config nginx serves\n")
    with pytest.raises(StepFailed, match=r"reload refused.*previous config restored"):
        nginx.activate(staging, Runner())
    assert active.read_text() == "# the config nginx serves\n"

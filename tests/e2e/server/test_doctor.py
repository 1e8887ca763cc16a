"""`make doctor` on the whole single server (`server`, tests/e2e/server/conftest.py): it passes
on healthy environments and names what is wrong when something is."""

import re

import pytest

from tests.e2e.conftest import MATRIX, Server, certificate_dir, host, poll

pytestmark = pytest.mark.e2e


def doctor_rows(out: str) -> dict[str, tuple[str, str]]:
    rows = [
        re.match(r"^  (.+?)\s{2,}(PASS|WARN|FAIL)\s{2,}(.*)$", line) for line in out.splitlines()
    ]
    return {m[1]: (m[2], m[3]) for m in rows if m}


def test_doctor_passes_then_flags_a_readable_env_file_and_a_missing_certificate(
    server: Server,
) -> None:
    server.ensure_baseline()
    server.ensure_activated("dev")  # no 503 placeholder left anywhere
    # a worker and beat just started send their first heartbeat within seconds
    poll(lambda: server.make("doctor", check=False).returncode == 0, seconds=60)
    result = server.make("doctor", "ENV=prod", check=False)
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
    cache, broker = MATRIX["prod"].redis_dbs
    assert rows["redis"] == (
        "PASS",
        f"cache db {cache}, broker db {broker} (environments.toml: {cache}, {broker}), both answer",
    )
    assert rows["database"][0] == "WARN"  # the test's database is not named aletheia_prod
    assert rows["running release"][0] == "PASS"
    assert rows["worker and beat"][0] == "PASS"
    assert "beat schedules it every 2s" in rows["worker and beat"][1]
    assert "days to expiry" in rows["certificate"][1]

    env_file = server.env_file("prod")
    env_file.chmod(0o644)
    try:
        result = server.make("doctor", "ENV=prod", check=False)
    finally:
        env_file.chmod(0o600)
    assert result.returncode != 0
    assert doctor_rows(result.stdout)["env file"][0] == "FAIL"
    assert "readable by others (mode 644)" in result.stdout

    certificate = certificate_dir(server.root, host("prod"))
    aside = server.root / "certificate-aside"
    certificate.rename(aside)
    try:
        result = server.make("doctor", "ENV=prod", check=False)
    finally:
        aside.rename(certificate)
    assert result.returncode != 0
    rows = doctor_rows(result.stdout)
    assert rows["certificate"][0] == "FAIL"
    assert rows["certificate"][1].startswith("missing in")
    assert rows["env file"][0] == "PASS"

    every = server.make("doctor", check=False)  # no ENV: one table per environment
    assert [line for line in every.stdout.splitlines() if line.startswith("doctor ")] == [
        "doctor dev",
        "doctor staging",
        "doctor prod",
    ]
    assert every.returncode == 0, every.stdout

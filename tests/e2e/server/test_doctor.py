"""`make doctor` on the whole single server (`server`, tests/e2e/server/conftest.py): it passes
on healthy environments and names what is wrong when something is."""

import re

import pytest

from ops.doctor import checks as doctor
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
    poll(
        lambda: (
            doctor_rows(server.make("doctor", "ENV=prod", check=False).stdout).get(
                "worker and beat", ("",)
            )[0]
            == "PASS"
        ),
        seconds=60,
    )
    result = server.make("doctor", "ENV=prod", check=False)
    print(result.stdout)
    rows = doctor_rows(result.stdout)
    assert list(rows) == [label for label, _ in doctor.CHECKS]
    # this host-network test server shares the machine's open Redis and connects as the
    # postgres superuser: the doctor says so (the shared-network e2e and the operator e2e,
    # set up as the Security model says, pass both)
    assert rows["redis auth"][0] == "FAIL"
    assert rows["database role"] == (
        "FAIL",
        "the env file's database role is a superuser: give the environment its own role",
    )
    failing = [name for name, (outcome, _) in rows.items() if outcome == "FAIL"]
    assert failing == ["redis auth", "database role"], result.stdout
    assert result.returncode != 0
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
    # only what this unisolated test server lacks fails (see above)
    failed = {" ".join(line.split()[:2]) for line in every.stdout.splitlines() if " FAIL " in line}
    assert failed <= {"redis auth", "database role"}, every.stdout

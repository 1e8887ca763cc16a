"""`make lint` gives the same answer on every machine: its shell, Dockerfile and workflow linters
are the locked ones in .venv, whatever this machine has on PATH."""

import os
from pathlib import Path

from tests.helpers import run_command

LINTERS = ("shellcheck", "hadolint", "actionlint", "pyflakes")


def lint_scripts(path: str, **variables: str) -> tuple[int, str]:
    result = run_command(
        "make", "--no-print-directory", "lint-scripts", env={"PATH": path, **variables}, check=False
    )
    return result.returncode, result.stdout


def test_lint_scripts_ignores_the_linters_on_path(tmp_path: Path) -> None:
    # impostors first on PATH: each would fail the lint and leave a trace
    impostors, trace = tmp_path / "bin", tmp_path / "called"
    impostors.mkdir()
    for name in LINTERS:
        impostor = impostors / name
        impostor.write_text(f"#!/bin/sh\necho {name} >> {trace}\nexit 1\n")
        impostor.chmod(0o755)

    plain = lint_scripts(os.environ["PATH"])
    # and settings that would each fail it if they reached the linters
    shadowed = lint_scripts(
        f"{impostors}:{os.environ['PATH']}",
        SHELLCHECK_OPTS="--enable=all",
        HADOLINT_REQUIRE_LABELS="maintainer:text",
    )

    assert plain[0] == 0, plain[1]
    assert shadowed == plain
    assert not trace.exists(), trace.read_text()


def test_lint_scripts_checks_every_shell_script_and_dockerfile() -> None:
    returncode, out = lint_scripts(os.environ["PATH"])
    assert returncode == 0, out
    listed = {
        tool: files.split()
        for tool, _, files in (line.partition(": ") for line in out.splitlines())
        if tool in ("shellcheck", "hadolint")
    }
    assert set(listed["shellcheck"]) >= {
        "deploy.sh",
        ".ci/run",
        "docker/start",
        "docker/make-base-image",
        "scripts/ensure-docker",
        "scripts/ensure-services",
    }
    assert "manage.py" not in listed["shellcheck"]  # a python shebang
    assert "docker/Dockerfile" in listed["hadolint"]

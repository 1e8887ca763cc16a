"""One CI definition: .github/workflows/ci.yml runs .ci/run, and .ci/run's detection of where it
runs (a Debian machine as root, or GitHub's Ubuntu runner) is checked here by its --plan, which
says what it would do and changes nothing."""

import os
import shutil
import subprocess
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent


def plan(
    tmp_path: Path, *, uid: int, github: bool, chrome: bool
) -> subprocess.CompletedProcess[str]:
    """`.ci/run --plan` with a PATH of its own: `id` answers `uid`, and only the programs the
    script itself needs are there (every package then reads as missing, on any machine)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("dirname", "python3"):
        found = shutil.which(program)
        assert found, program
        (bin_dir / program).symlink_to(found)
    name = "root" if uid == 0 else "runner"
    (bin_dir / "id").write_text(f'#!/bin/sh\n[ "$1" = -un ] && echo {name} || echo {uid}\n')
    (bin_dir / "id").chmod(0o755)
    if chrome:
        (bin_dir / "google-chrome").write_text("#!/bin/sh\n")
        (bin_dir / "google-chrome").chmod(0o755)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    if github:
        env["GITHUB_ACTIONS"] = "true"
    return subprocess.run(
        [shutil.which("bash") or "/bin/bash", ".ci/run", "--plan"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def installed_when_missing(out: str) -> list[str]:
    (line,) = [line for line in out.splitlines() if "packages installed when missing:" in line]
    return line.split(":", 1)[1].split()


def test_on_a_debian_machine_as_root_it_installs_docker_and_chromium_itself(tmp_path: Path) -> None:
    result = plan(tmp_path, uid=0, github=False, chrome=False)
    assert result.returncode == 0, result.stderr
    assert "where: a Debian machine, as root" in result.stdout
    assert "browser for the browser tests: /usr/bin/chromium" in result.stdout
    assert {"chromium", "docker.io", "docker-compose"} <= set(installed_when_missing(result.stdout))
    assert "sudo" not in result.stdout
    assert "would run: make test-e2e" in result.stdout
    assert "would run: make test\n" in result.stdout
    assert "would run: make lint" in result.stdout


def test_on_github_it_uses_sudo_the_runners_docker_and_its_chrome(tmp_path: Path) -> None:
    result = plan(tmp_path, uid=1001, github=True, chrome=True)
    assert result.returncode == 0, result.stderr
    assert "where: GitHub Actions, as runner (root steps through sudo)" in result.stdout
    assert f"browser for the browser tests: {tmp_path}/bin/google-chrome" in result.stdout
    packages = installed_when_missing(result.stdout)
    assert "chromium" not in packages
    assert "docker.io" not in packages
    assert "nginx" in packages
    assert "testssl.sh" in packages
    assert "would run: sudo --preserve-env=PATH,ALETHEIA_CHROMIUM,PYTEST_WORKERS apt-get" in (
        result.stdout
    )
    assert "would run: sudo --preserve-env=PATH,ALETHEIA_CHROMIUM,PYTEST_WORKERS make test-e2e" in (
        result.stdout
    )
    assert "would run: make test\n" in result.stdout  # the unit tests as the runner's user


def test_on_github_without_a_browser_it_says_so_before_doing_anything(tmp_path: Path) -> None:
    result = plan(tmp_path, uid=1001, github=True, chrome=False)
    assert result.returncode == 1
    assert "no google-chrome on PATH" in result.stderr
    assert "==>" not in result.stdout


def test_an_unknown_argument_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", ".ci/run", "--dry"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "unknown argument '--dry'" in result.stderr


def test_the_github_workflow_runs_the_same_script_and_nothing_else() -> None:
    workflow = yaml.safe_load((REPO_ROOT / ".github/workflows/ci.yml").read_text())
    (job,) = workflow["jobs"].values()
    commands = [step["run"].strip() for step in job["steps"] if "run" in step]
    assert commands == ["bash .ci/run"]
    assert job["timeout-minutes"] >= 90  # what CI here allows the same script
    assert os.access(REPO_ROOT / ".ci/run", os.R_OK)

"""The dev auto-deploy's key: deploy develop (or one of its commits) to dev, nothing else."""

import subprocess
from pathlib import Path

import pytest

import ops.cli.main
from ops.cli import ssh_entry
from tests.helpers import write_env_file


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def commit(repo: Path, message: str) -> str:
    git(
        repo,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        message,
    )
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A server checkout whose origin has develop (two commits) and a feature branch."""
    origin, checkout = tmp_path / "origin", tmp_path / "aletheia" / "repo"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "develop")
    first = commit(origin, "one")
    commit(origin, "two")
    git(origin, "checkout", "-q", "-b", "feature")
    feature = commit(origin, "wip")
    subprocess.run(["git", "clone", "-q", str(origin), str(checkout)], check=True)
    write_env_file(
        tmp_path / "aletheia" / "envs" / ".env.dev",
        DATABASE_URL="postgres://x@db/x",
        REDIS_URL="redis://r:6379",
    )
    monkeypatch.setenv("ALETHEIA_SERVER_ROOT", str(tmp_path))
    monkeypatch.setenv("ALETHEIA_CHECKOUT", str(checkout))
    return {"first": first, "feature": feature}


@pytest.fixture
def deploys(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    called: list[list[str]] = []

    def deploy(argv: list[str]) -> int:
        called.append(argv)
        return 0

    monkeypatch.setattr(ops.cli.main, "main", deploy)
    return called


@pytest.mark.parametrize(
    "asked",
    [
        "deploy prod v1.0",
        "deploy staging develop",
        "deploy develop --skip-backup",
        "bash",
        "deploy develop; rm -rf /",
        "deploy main",
        "deploy $(id)",
        "rollback dev",
        "",
    ],
)
def test_anything_but_develop_to_dev_is_refused(
    server: dict[str, str], deploys: list[list[str]], asked: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ssh_entry.main(asked.split()) == 2
    assert deploys == []
    assert "refused:" in capsys.readouterr().err


def test_a_commit_outside_develop_is_refused(
    server: dict[str, str], deploys: list[list[str]]
) -> None:
    assert ssh_entry.main(["deploy", server["feature"]]) == 2
    assert deploys == []


def test_develop_and_its_commits_are_deployed_to_dev(
    server: dict[str, str], deploys: list[list[str]]
) -> None:
    assert ssh_entry.main(["deploy"]) == 0
    assert ssh_entry.main(["deploy", "develop"]) == 0
    assert ssh_entry.main(["deploy", server["first"]]) == 0
    assert deploys == [
        ["deploy", "dev", "develop"],
        ["deploy", "dev", "develop"],
        ["deploy", "dev", server["first"]],
    ]


def test_the_forced_command_reads_ssh_original_command(
    server: dict[str, str], deploys: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSH_ORIGINAL_COMMAND", "deploy prod v9")
    assert ssh_entry.main([]) == 2
    monkeypatch.setenv("SSH_ORIGINAL_COMMAND", "deploy develop")
    assert ssh_entry.main([]) == 0

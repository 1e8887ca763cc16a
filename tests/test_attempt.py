"""One attempt's bookkeeping, shared by deploy, rollback and restore: lock, log, recovery."""

import os
import signal
from pathlib import Path

import pytest

from ops.core import releases
from ops.core.runner import Refusal, Runner, StepFailed
from ops.server import target
from ops.server.settings import ServerSettings
from ops.steps.attempt import Attempt, Interrupted, Outcome, attempt


@pytest.fixture
def staging(tmp_path: Path) -> target.Target:
    return target.resolve(
        "staging", ServerSettings.from_environment({"ALETHEIA_SERVER_ROOT": str(tmp_path)})
    )


def last_entry(env: target.Target) -> dict[str, object]:
    return releases.read(env.server.state_dir, env.name)[-1]


def outcome_of(this: Attempt) -> Outcome:
    assert this.outcome is not None
    return this.outcome


def lock_of(env: target.Target) -> Path:
    return env.server.state_dir / f"deploy-{env.name}.lock"


def test_a_success_is_recorded_with_its_notes_and_frees_the_lock(staging: target.Target) -> None:
    runner = Runner()
    with attempt(staging, runner, label="develop") as this:
        assert lock_of(staging).is_dir()
        this.note(ref="develop", sha="abc123")
        this.succeed("staging now runs develop")
    assert outcome_of(this).ok
    assert not lock_of(staging).exists()
    entry = last_entry(staging)
    assert (entry["ref"], entry["sha"], entry["result"]) == ("develop", "abc123", "succeeded")


def test_a_failure_runs_the_recovery_and_names_the_step(staging: target.Target) -> None:
    runner, recovered = Runner(), []
    with attempt(staging, runner, label="develop") as this:
        this.recover_with("putting back the previous release", lambda: recovered.append(1))
        with runner.step("health check"):
            raise StepFailed("step 'health check' failed: /healthz not 200")
    assert recovered == [1]
    assert (outcome_of(this).ok, outcome_of(this).refused) == (False, False)
    assert "done: putting back the previous release" in outcome_of(this).message
    entry = last_entry(staging)
    assert (entry["result"], entry["failed_step"]) == ("failed", "health check")


def test_a_refusal_before_any_change_is_recorded_as_refused(staging: target.Target) -> None:
    with attempt(staging, Runner(), label="nope") as this:
        raise Refusal("unknown ref 'nope'")
    assert outcome_of(this).refused
    assert last_entry(staging)["result"] == "refused"


def test_a_failing_recovery_is_said_after_the_first_failure(staging: target.Target) -> None:
    def broken() -> None:
        raise StepFailed("compose up exited 1")

    with attempt(staging, Runner(), label="develop") as this:
        this.recover_with("putting back the previous release", broken)
        raise StepFailed("step 'start containers' failed")
    assert outcome_of(this).message == (
        "step 'start containers' failed; putting back the previous release failed too: "
        "compose up exited 1"
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_is_recorded_the_app_put_back_and_raised_again(
    staging: target.Target, signum: int
) -> None:
    runner, recovered = Runner(), []

    def deploy_stopped_by_the_signal() -> None:
        with attempt(staging, runner, "develop") as this:
            this.recover_with("putting back the previous release", lambda: recovered.append(1))
            with runner.step("start containers"):
                os.kill(os.getpid(), signum)

    with pytest.raises((KeyboardInterrupt, Interrupted)):
        deploy_stopped_by_the_signal()
    assert recovered == [1]
    assert not lock_of(staging).exists()
    entry = last_entry(staging)
    assert entry["result"] == "interrupted"
    assert entry["failed_step"] == "start containers"
    assert str(entry["error"]).startswith(f"interrupted by {signal.Signals(signum).name}")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers given back


def test_a_held_lock_refuses_before_anything_is_recorded(staging: target.Target) -> None:
    from ops.core import locks

    lock = locks.acquire(staging.server.state_dir, staging.name, "v1")
    try:
        with pytest.raises(locks.LockHeld), attempt(staging, Runner(), label="develop"):
            pytest.fail("entered while another deploy holds the lock")
    finally:
        locks.release(lock)
    assert releases.read(staging.server.state_dir, staging.name) == []

"""One attempt at changing an environment (a deploy, a rollback, a restore), whatever happens:
under the environment's lock, recorded in its log, and the app put back or restarted when the
attempt fails or is interrupted (Ctrl-C, SIGTERM, SIGHUP from a dropped SSH session)."""

import getpass
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

from ops.core import locks, releases
from ops.core.runner import Refusal, Runner, StepFailed
from ops.server.target import Target

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(BaseException):
    """A stop signal arrived during an attempt (raised like KeyboardInterrupt)."""


@dataclass(frozen=True)
class Outcome:
    ok: bool
    sha: str = ""
    message: str = ""
    refused: bool = False
    interrupted: bool = False


@dataclass
class Attempt:
    runner: Runner
    notes: dict[str, object] = field(default_factory=dict)
    outcome: Outcome | None = None
    recovery: tuple[str, Callable[[], None]] | None = None

    @property
    def sha(self) -> str:
        return str(self.notes.get("sha", ""))

    def note(self, **values: object) -> None:
        """Recorded in the log entry of this attempt."""
        self.notes.update(values)

    def recover_with(self, what: str, action: Callable[[], None] | None) -> None:
        """From now on, a failure or an interruption runs `action` (None: nothing to undo)."""
        self.recovery = (what, action) if action else None

    def succeed(self, message: str) -> None:
        self.outcome = Outcome(True, self.sha, message)


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


@contextmanager
def _signals(handler: Callable[[int, FrameType | None], None] | int) -> Iterator[None]:
    try:
        previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    except ValueError:  # not the main thread: signals are not ours to handle
        yield
        return
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _recover(current: Attempt) -> str:
    """Run the registered recovery, deaf to further stop signals; says how it went."""
    if current.recovery is None:
        return ""
    what, action = current.recovery
    current.runner.say(f"    {what} (stop signals are ignored until it is done)")
    with _signals(signal.SIG_IGN):
        try:
            action()
        except Exception as exc:  # the first failure stays the one reported
            return f"; {what} failed too: {exc}"
    return f"; done: {what}"


@contextmanager
def attempt(target: Target, runner: Runner, label: str, log: str = "releases") -> Iterator[Attempt]:
    """Lock `target`, yield the attempt, then record it in `log` whatever happened. Failures and
    refusals end up in `.outcome`; an interruption is recorded, then raised again."""
    started = time.monotonic()
    current = Attempt(runner)
    dry_run = runner.dry_run
    lock = None if dry_run else locks.acquire(target.server.state_dir, target.name, label)
    interruption: BaseException | None = None
    try:
        with _signals(_raise_interrupted):
            yield current
        if current.outcome is None:
            current.succeed(f"{label}: done")
    except Exception as exc:  # StepFailed and Refusal say what failed; anything else, its type
        said = (
            str(exc) if isinstance(exc, (StepFailed, Refusal)) else f"{type(exc).__name__}: {exc}"
        )
        refused = isinstance(exc, Refusal) and current.recovery is None
        current.outcome = Outcome(False, current.sha, f"{said}{_recover(current)}", refused=refused)
    except (KeyboardInterrupt, Interrupted) as exc:
        interruption = exc
        name = "SIGINT" if isinstance(exc, KeyboardInterrupt) else str(exc)
        step = f" during '{runner.current_step}'" if runner.current_step else ""
        message = f"interrupted by {name}{step}{_recover(current)}"
        current.outcome = Outcome(False, current.sha, message, interrupted=True)
    finally:
        if lock is not None:
            locks.release(lock)
        outcome = current.outcome or Outcome(False, current.sha, "ended without an outcome")
        if not dry_run:
            failure = {"failed_step": runner.current_step or "validate", "error": outcome.message}
            releases.record(
                target.server.state_dir,
                target.name,
                {
                    **current.notes,
                    "who": getpass.getuser(),
                    "seconds": round(time.monotonic() - started, 1),
                    "result": result_word(outcome),
                    **({} if outcome.ok else failure),
                },
                log=log,
            )
    if interruption is not None:
        raise interruption


def result_word(outcome: Outcome) -> str:
    if outcome.ok:
        return "succeeded"
    return "refused" if outcome.refused else "interrupted" if outcome.interrupted else "failed"

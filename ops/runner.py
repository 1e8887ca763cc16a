"""The one place commands are executed: prints each, times each step, honours --dry-run."""

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO


class StepFailed(Exception):
    """A step failed: the message names the step and the cause."""


class Refusal(Exception):
    """Refused before anything changed (a wrong ref, a held lock, …): exit 2, not a failure."""


@dataclass
class Runner:
    dry_run: bool = False
    env: dict[str, str] = field(default_factory=dict)
    out: TextIO = field(default_factory=lambda: sys.stdout)
    steps: list[tuple[str, float, bool]] = field(default_factory=list)
    _step: str = ""

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        number = len(self.steps) + 1
        self.say(f"==> [{number}] {name}")
        self._step, started = name, time.monotonic()
        try:
            yield
        except (StepFailed, Refusal):
            self.steps.append((name, time.monotonic() - started, False))
            raise
        except Exception as exc:
            self.steps.append((name, time.monotonic() - started, False))
            raise StepFailed(f"step '{name}' failed: {exc}") from exc
        elapsed = time.monotonic() - started
        self.steps.append((name, elapsed, True))
        self.say(f"    {name}: ok ({elapsed:.1f}s)")

    def run(
        self,
        command: list[str],
        *,
        check: bool = True,
        capture: bool = False,
        mutating: bool = True,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run `command`. With --dry-run, commands that change something are only printed;
        read-only ones (mutating=False) still run so the plan is accurate."""
        self.say(f"    $ {shlex.join(command)}")
        if self.dry_run and mutating:
            return subprocess.CompletedProcess(command, 0, "", "")
        result = subprocess.run(
            command,
            env={**os.environ, **self.env},
            text=True,
            timeout=timeout,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
        )
        if check and result.returncode != 0:
            detail = (
                (result.stderr or result.stdout or "").strip().splitlines()[-5:] if capture else []
            )
            raise StepFailed(
                f"step '{self._step}' failed: `{shlex.join(command)}` exited {result.returncode}"
                + (": " + " | ".join(detail) if detail else "")
            )
        return result

    def summary(self) -> str:
        return ", ".join(f"{name} {seconds:.1f}s" for name, seconds, _ in self.steps)

"""The one place commands are executed: prints each, times each step, honours --dry-run."""

import hashlib
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

CHUNK = 1 << 20


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
    current_step: str = ""  # the step running (or the one that failed); "" between steps

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        number = len(self.steps) + 1
        self.say(f"==> [{number}] {name}")
        self.current_step, started = name, time.monotonic()
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
        self.current_step = ""
        self.say(f"    {name}: ok ({elapsed:.1f}s)")

    def run(
        self,
        command: list[str],
        *,
        check: bool = True,
        capture: bool = False,
        mutating: bool = True,
        timeout: float | None = None,
        stdin: str | None = None,
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
            input=stdin,  # never echoed: it may hold secrets
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
        )
        if check and result.returncode != 0:
            detail = (
                (result.stderr or result.stdout or "").strip().splitlines()[-5:] if capture else []
            )
            raise StepFailed(
                f"step '{self.current_step}' failed: `{shlex.join(command)}` exited {result.returncode}"
                + (": " + " | ".join(detail) if detail else "")
            )
        return result

    def stream(
        self,
        producer: list[str],
        *,
        source: Path | None = None,
        consumer: list[str] | None = None,
        sink: Path | None = None,
        preamble: bytes = b"",
        trailer: bytes = b"",
    ) -> tuple[int, str]:
        """Run `producer` (stdin from `source`) and pump its output into `sink` (a file) or into
        `consumer`'s stdin between `preamble` and `trailer`, printing progress. The trailer is
        written only if the producer succeeded (else the consumer is killed before its input
        ends). Returns the bytes pumped and their sha256; a non-zero exit is a StepFailed."""
        shown = shlex.join(producer) + (f" < {source}" if source else "")
        shown += f" | {shlex.join(consumer)}" if consumer else f" > {sink}"
        self.say(f"    $ {shown}")
        if self.dry_run:
            return 0, ""
        digest, pumped = hashlib.sha256(), 0
        started = last_report = time.monotonic()
        env = {**os.environ, **self.env}
        with (
            source.open("rb") if source else open(os.devnull, "rb") as stdin,
            # created 0600: a dump is the environment's data, readable by root only
            os.fdopen(os.open(sink, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
            if sink
            else open(os.devnull, "wb") as file_out,
        ):
            first = subprocess.Popen(producer, stdin=stdin, stdout=subprocess.PIPE, env=env)
            second = (
                subprocess.Popen(consumer, stdin=subprocess.PIPE, env=env) if consumer else None
            )
            out = second.stdin if second and second.stdin else file_out
            assert first.stdout is not None
            try:
                out.write(preamble)
                while chunk := first.stdout.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    pumped += len(chunk)
                    if time.monotonic() - last_report >= 2:
                        last_report = time.monotonic()
                        rate = pumped / (last_report - started) / CHUNK
                        self.say(f"    … {pumped / CHUNK:.1f} MiB ({rate:.1f} MiB/s)")
                if second and first.wait() == 0:
                    out.write(trailer)
                elif second:
                    second.kill()  # an unfinished input must never reach its end
            except BrokenPipeError:
                pass  # the consumer stopped early: its exit code says why
            finally:
                if second and second.stdin:
                    second.stdin.close()
                first.stdout.close()
            codes = [(producer, first.wait())]
            if second:
                codes.append((consumer or [], second.wait()))
        for command, code in codes:
            if code != 0:
                raise StepFailed(
                    f"step '{self.current_step}' failed: `{shlex.join(command)}` exited {code}"
                )
        return pumped, digest.hexdigest()

    def run_together(self, commands: list[list[str]]) -> int:
        """Run `commands` side by side (followers: each runs until it ends or Ctrl-C), their
        output going straight to the terminal. Returns the first non-zero exit code, or 0."""
        for command in commands:
            self.say(f"    $ {shlex.join(command)} &")
        if self.dry_run or not commands:
            return 0
        env = {**os.environ, **self.env}
        running = [subprocess.Popen(command, env=env) for command in commands]

        def stop(signum: int, _frame: object) -> None:
            raise KeyboardInterrupt  # SIGTERM/SIGHUP: the same as Ctrl-C, no follower left behind

        previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
        try:
            codes = [process.wait() for process in running]
        except KeyboardInterrupt:
            for process in running:
                process.terminate()
            for process in running:
                process.wait()
            return 130
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return next((code for code in codes if code > 0), 1 if any(codes) else 0)

    def summary(self) -> str:
        return ", ".join(f"{name} {seconds:.1f}s" for name, seconds, _ in self.steps)

"""Watching Swarm's rolling updates: which image a stack service runs, where an update of it
stands (from `docker service inspect` and its tasks), and waiting, with progress lines, until it
has converged or Swarm has rolled it back.
"""

import datetime
import json
import os
import time
from dataclasses import dataclass

from ops.core.runner import Runner, StepFailed
from ops.runtimes import stack
from ops.server.target import Target
from ops.steps import commands

UPDATE_FAILED = ("rollback_started", "rollback_paused", "rollback_completed", "paused")


def inspect(target: Target, runner: Runner, service: str) -> dict[str, object] | None:
    found = runner.run(
        commands.service_inspect(target.server, stack.service_name(target.environment, service)),
        check=False,
        capture=True,
        mutating=False,
    )
    if found.returncode != 0 or not found.stdout.strip():
        return None
    value = json.loads(found.stdout)
    return value if isinstance(value, dict) else None


def running_image(target: Target, runner: Runner, service: str) -> str | None:
    found = inspect(target, runner, service)
    if found is None:
        return None
    spec = found["Spec"]
    assert isinstance(spec, dict)
    image = spec["TaskTemplate"]["ContainerSpec"]["Image"]
    return str(image).split("@")[0]


def _seconds(stamp: str) -> float:
    """Docker's RFC 3339 time (nanoseconds, Z) as a Unix time, to the second."""
    try:
        moment = datetime.datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return 0.0
    return moment.replace(tzinfo=datetime.UTC).timestamp()


@dataclass(frozen=True)
class Progress:
    state: str  # "done", "waiting", "failed"
    said: str  # what a progress line shows


def progress(service: dict[str, object], tasks: list[str], image: str, since: float) -> Progress:
    """Where an update of `service` (docker service inspect) to `image` stands, from its tasks
    meant to run (image|current state|error lines), for an update started at `since`."""
    spec = service["Spec"]
    assert isinstance(spec, dict)
    desired = int(spec["Mode"]["Replicated"]["Replicas"])
    update = service.get("UpdateStatus") or {}
    assert isinstance(update, dict)
    ours = _seconds(str(update.get("StartedAt", ""))) >= since - 2
    state = str(update.get("State", "")) if ours else ""
    rows = [line.split("|", 2) for line in tasks if line.strip()]
    new = [row for row in rows if row[0].split("@")[0] == image]
    running = [row for row in new if row[1].startswith("Running")]
    others = [row for row in rows if row not in new]
    said = f"{len(running)}/{desired} running {image}" + (f" ({state})" if state else "")
    if state in UPDATE_FAILED:
        message = str(update.get("Message", "")) or state
        finished = state != "rollback_started"
        return Progress("failed" if finished else "waiting", f"{said}: {message}")
    if len(running) == desired and not others and state != "updating":
        return Progress("done", said)
    return Progress("waiting", said)


def wait_converged(
    target: Target, runner: Runner, service: str, image: str, since: float, timeout: float
) -> None:
    """Until every task of `service` runs `image` (healthy: Swarm counts a task with a health
    check as running once it is healthy), printing each change with the time it took. An update
    Swarm rolled back, or a wait past its bound, is a StepFailed."""
    if runner.dry_run:
        return
    name = stack.service_name(target.environment, service)
    started, last = time.monotonic(), ""
    with open(os.devnull, "w") as devnull:
        quiet = Runner(out=devnull)  # polled every second: not echoed
        while True:
            found = inspect(target, quiet, service)
            listed = quiet.run(
                commands.service_tasks(target.server, name),
                check=False,
                capture=True,
                mutating=False,
            )
            tasks = listed.stdout.splitlines()
            now = progress(found, tasks, image, since) if found else Progress("waiting", "absent")
            elapsed = time.monotonic() - started
            if now.said != last:
                runner.say(f"    {service}: {now.said} ({elapsed:.1f}s)")
                last = now.said
            if now.state == "done":
                return
            if now.state == "failed":
                raise StepFailed(
                    f"step '{runner.current_step}' failed: Swarm rolled {service} back, the "
                    f"previous release serves ({now.said})"
                )
            if elapsed > timeout:
                raise StepFailed(
                    f"step '{runner.current_step}' failed: {service} not converged within "
                    f"{timeout:.0f}s ({now.said}{task_errors(tasks)})"
                )
            time.sleep(1)


def task_errors(tasks: list[str]) -> str:
    errors = sorted({row.split("|", 2)[-1] for row in tasks if row.count("|") == 2} - {""})
    return "; " + ", ".join(errors) if errors else ""

"""What every doctor check gets (the target, the runner, the release's own probe) and gives
(a row of the table)."""

from dataclasses import dataclass
from typing import Any

from ops.core.runner import Runner
from ops.server import environments
from ops.server.settings import ServerSettings
from ops.server.target import Target

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"


@dataclass(frozen=True)
class Check:
    name: str
    result: str
    detail: str


@dataclass
class Context:
    target: Target
    runner: Runner
    probe: dict[str, Any] | None = None  # manage.py probe --json
    probe_error: str = ""

    @property
    def environment(self) -> environments.Environment:
        return self.target.environment

    @property
    def settings(self) -> ServerSettings:
        return self.target.server


def table(name: str, checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"doctor {name}", f"  {'CHECK':<{width}}  RESULT  DETAIL"]
    lines += [f"  {c.name:<{width}}  {c.result:<6}  {c.detail}" for c in checks]
    counts = {r: sum(c.result == r for c in checks) for r in (PASS, WARN, FAIL)}
    lines.append(
        f"{len(checks)} checks: {counts[PASS]} passed, {counts[WARN]} warning(s), {counts[FAIL]} failed"
    )
    return "\n".join(lines)

"""Memory and CPU per container while a benchmark runs: `docker stats --no-stream` sampled in a
thread (each sample takes about 2 s: docker measures CPU over an interval), summed up per role.

A container's role is its swarm service (aletheia-staging_web.2.x… -> web) or compose service
label, else its name's last part (the stand-ins: …_postgres -> postgres)."""

import re
import subprocess
import threading
from dataclasses import dataclass, field
from typing import Any

from tests.helpers import DOCKER

UNITS = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0}


def mebibytes(usage: str) -> float:
    """`123.4MiB / 512MiB` -> 123.4"""
    amount = re.match(r"([\d.]+)\s*([KMG]?i?B)", usage.strip())
    return float(amount.group(1)) * UNITS.get(amount.group(2), 1.0) if amount else 0.0


def role(name: str) -> str:
    swarm = re.match(r"aletheia-[a-z]+_(\w+)\.\d+\.", name)
    if swarm:
        return swarm.group(1)
    compose = re.match(r"aletheia-[a-z]+(?:-(?:blue|green))?[_-](\w+?)[_-]\d+$", name)
    if compose:
        return compose.group(1)
    return name.rsplit("_", 1)[-1]


@dataclass
class Stats:
    """`docker stats` sampled until the block ends, for the containers whose name starts with
    `prefix` (all of them by default)."""

    prefix: str = ""
    rounds: list[dict[str, tuple[float, float]]] = field(default_factory=list)  # name: cpu %, MiB

    def __enter__(self) -> "Stats":
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            out = subprocess.run(
                [
                    DOCKER,
                    "stats",
                    "--no-stream",
                    "--format",
                    "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}",
                ],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            ).stdout
            now = {}
            for line in out.splitlines():
                name, cpu, memory = [*line.split("|"), "", ""][:3]
                if name != "--" and name.startswith(self.prefix) and re.fullmatch(r"[\d.]+%", cpu):
                    now[name] = (float(cpu.rstrip("%") or 0), mebibytes(memory))
            self.rounds.append(now)
            self._stop.wait(0.5)

    @property
    def samples(self) -> list[tuple[str, float, float]]:
        """Every container's sample: role, CPU %, MiB."""
        return [(role(name), *values) for now in self.rounds for name, values in now.items()]

    def memory(self) -> dict[str, Any]:
        """The peak of the containers' summed memory (two web slots at once during a switch)
        and each container's own peak, MiB."""
        peaks: dict[str, float] = {}
        for now in self.rounds:
            for name, (_, mib) in now.items():
                peaks[name] = max(peaks.get(name, 0.0), mib)
        totals = [sum(mib for _, mib in now.values()) for now in self.rounds]
        return {
            "peak_total_mib": round(max(totals, default=0.0)),
            "peak_per_container_mib": {name: round(mib) for name, mib in sorted(peaks.items())},
        }

    def per_role(self) -> dict[str, dict[str, float]]:
        """Per role: the peak memory of one container (MiB), its mean and peak CPU (% of a core)."""
        found: dict[str, dict[str, float]] = {}
        for name in sorted({r for r, _, _ in self.samples}):
            mine = [(cpu, mib) for r, cpu, mib in self.samples if r == name]
            found[name] = {
                "peak_mib": round(max(mib for _, mib in mine)),
                "cpu_mean_pct": round(sum(cpu for cpu, _ in mine) / len(mine), 1),
                "cpu_peak_pct": round(max(cpu for cpu, _ in mine), 1),
            }
        return found

    def table(self) -> str:
        lines = [f"{'container':<12} {'peak MiB':>9} {'CPU mean %':>11} {'CPU peak %':>11}"]
        for name, figures in self.per_role().items():
            lines.append(
                f"{name:<12} {figures['peak_mib']:>9} {figures['cpu_mean_pct']:>11} "
                f"{figures['cpu_peak_pct']:>11}"
            )
        return "\n".join(lines)

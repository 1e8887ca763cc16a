"""The layering of ops' packages, lowest first, and the check `make lint` runs on it
(`python3 -m ops.layers`): a module may import its own package and the packages below it,
never one above. A new package gets its place here and a docstring saying what it may import."""

import ast
import sys
from pathlib import Path

LAYERS = (
    "core",
    "server",
    "steps",
    "edge",
    "runtimes",
    "data",
    "release",
    "doctor",
    "setup",
    "cli",
)
OPS = Path(__file__).resolve().parent


def imported_packages(source: str) -> list[tuple[int, str]]:
    """(line, package) for every `ops.PACKAGE` this source imports."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] if node.module != "ops" else [f"ops.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "ops" and len(parts) > 1:
                found.append((node.lineno, parts[1]))
    return found


def violations(root: Path = OPS) -> list[str]:
    problems = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if len(relative.parts) < 2:
            continue  # ops/__init__.py, __main__.py and this file sit above every layer
        package = relative.parts[0]
        if package not in LAYERS:
            problems.append(
                f"ops/{relative}: package {package!r} has no place in ops.layers.LAYERS"
            )
            continue
        for line, imported in imported_packages(path.read_text()):
            if imported in LAYERS and LAYERS.index(imported) > LAYERS.index(package):
                problems.append(
                    f"ops/{relative}:{line}: {package} (layer {LAYERS.index(package)}) imports "
                    f"ops.{imported} (layer {LAYERS.index(imported)}), a higher layer"
                )
            elif imported not in LAYERS:
                problems.append(f"ops/{relative}:{line}: ops.{imported} is not a package of ops")
    return problems


if __name__ == "__main__":
    found = violations()
    for problem in found:
        print(problem, file=sys.stderr)
    print(f"ops layers: {len(found)} upward import(s) in {' < '.join(LAYERS)}")
    sys.exit(1 if found else 0)

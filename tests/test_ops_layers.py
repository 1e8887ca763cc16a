"""ops' packages import only downwards (ops/layers.py, run by `make lint`)."""

import shutil
import subprocess
import sys
from pathlib import Path

from ops import layers

REPO = Path(__file__).resolve().parents[1]


def test_ops_imports_only_downwards():
    assert layers.violations() == []


def test_every_package_has_a_place_and_a_docstring():
    packages = sorted(p.name for p in layers.OPS.iterdir() if (p / "__init__.py").exists())
    assert packages == sorted(layers.LAYERS)
    for name in packages:
        assert (layers.OPS / name / "__init__.py").read_text().startswith('"""'), name


def test_an_upward_import_fails_the_check(tmp_path):
    copy = tmp_path / "ops"
    shutil.copytree(layers.OPS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    runner = copy / "core" / "runner.py"
    runner.write_text("from ops.release import deploy\n" + runner.read_text())
    found = layers.violations(copy)
    assert found == [
        "ops/core/runner.py:1: core (layer 0) imports ops.release (layer 6), a higher layer"
    ]


def test_the_lint_command_fails_on_an_upward_import(tmp_path):
    shutil.copytree(layers.OPS, tmp_path / "ops", ignore=shutil.ignore_patterns("__pycache__"))
    edge = tmp_path / "ops" / "edge" / "nginx.py"
    edge.write_text(edge.read_text() + "\nfrom ops.cli import main  # noqa\n")
    result = subprocess.run(
        [sys.executable, "-m", "ops.layers"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "edge (layer 3) imports ops.cli (layer 9)" in result.stderr

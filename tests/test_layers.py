"""The layering of docs/architecture.md is a contract import-linter checks (`make lint`).

The contract is in pyproject.toml. These tests run the checker on a copy of the package: as it is,
it passes; with one upward import added (the core reaching up into the web pages), it fails and
names that import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _check(tree: Path) -> subprocess.CompletedProcess[str]:
    """Return the result of import-linter run on the package copied into `tree`."""
    environment = {**os.environ, "PYTHONPATH": str(tree / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Return a copy of the package and the contract."""
    shutil.copytree(ROOT / "src" / "mirel", tmp_path / "src" / "mirel")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_package_keeps_its_layers(tree: Path) -> None:
    result = _check(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Each layer imports only the layers below it KEPT" in result.stdout


def test_an_upward_import_breaks_the_contract(tree: Path) -> None:
    versions = tree / "src" / "mirel" / "core" / "versions.py"
    versions.write_text(versions.read_text() + "\nfrom mirel.web import urls  # noqa\n")
    result = _check(tree)
    assert result.returncode != 0
    assert "mirel.core is not allowed to import mirel.web" in result.stdout
    assert "mirel.core.versions -> mirel.web" in result.stdout

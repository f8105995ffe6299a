"""Fixtures: real bare repositories in temporary folders and the CLI run in process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mirel.hub.service import Hub
from support import AUTHOR, AUTHOR_TEXT, CliResult, main


@pytest.fixture(autouse=True)
def _pinned_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests never depend on the machine's git identity or on variables a developer has set.
    monkeypatch.setenv("MIREL_AUTHOR", AUTHOR_TEXT)
    monkeypatch.delenv("MIREL_REPO", raising=False)
    monkeypatch.delenv("MIREL_DEBUG", raising=False)


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    """Return a new repository made by `Hub.init`."""
    return Hub.init(tmp_path / "hub.git", AUTHOR)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Return a function that runs `mirel ARGS...` in process and returns its result."""

    def run(*args: str | Path) -> CliResult:
        capsys.readouterr()
        code = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run

"""Helpers shared by the tests: real repositories with a pinned author, and the CLI in process."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2
import pytest

from mirel.console import main
from mirel.core.kinds import KINDS
from mirel.git.repository import Author
from mirel.hub import ChangeRequest, Hub

AUTHOR = Author("Test Author", "test@example.com")
AUTHOR_TEXT = str(AUTHOR)


def merge(hub: Hub, change: ChangeRequest) -> str:
    """Merge a change's pull request and return the new default-branch tip."""
    assert change.pull_request is not None
    hub.pulls.merge(change.pull_request.number, AUTHOR)
    return hub.head()


def add_element(hub: Hub, kind: str, name: str, files: dict[str, bytes] | None = None) -> str:
    """Add and merge an element; return its uuid."""
    content = files or {"main.rsx": f"<App name='{name}'/>\n".encode()}
    merge(hub, hub.elements.add(KINDS.get(kind), name, content, AUTHOR))
    return hub.catalog.element(f"{kind}/{name}").uuid


def release(
    hub: Hub, name: str, version: str, description: str = "", *, allow_same: bool = True
) -> None:
    """Create and merge a release with an explicit version.

    Fixtures build release histories whatever the files hold, so the same files may be
    released again here; tests/hub/test_identical_releases.py covers refusing that.
    """
    change = hub.releases.create(
        name, AUTHOR, version=version, description=description, allow_same=allow_same
    )
    merge(hub, change)


def refs(path: Path) -> dict[str, str]:
    """Return every reference of a repository and its target: the state 'nothing written' keeps."""
    repo = pygit2.Repository(str(path))
    found = {}
    for name in repo.listall_references():
        ref = repo.references[name]
        found[name] = str(ref.target)
    found["HEAD"] = str(repo.references["HEAD"].target)
    return found


@dataclass
class CliResult:
    """What one CLI run gave."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        """Return stdout parsed as JSON."""
        return json.loads(self.stdout)


def write_folder(folder: Path, files: dict[str, str | bytes]) -> Path:
    """Create a folder holding `files` and return it."""
    for relative, content in files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
    return folder


__all__ = ["AUTHOR", "AUTHOR_TEXT", "CliResult", "add_element", "main", "merge", "refs", "release"]


def needs_wrk() -> pytest.MarkDecorator:
    """Mark a test that runs wrk: skipped, saying why, when it is not installed, unless
    MIREL_REQUIRE_WRK is set (`.ci/run` sets it and installs Debian's wrk): then it fails."""
    missing = shutil.which("wrk") is None and not os.environ.get("MIREL_REQUIRE_WRK")
    return pytest.mark.skipif(missing, reason="wrk is not installed (Debian: apt-get install wrk)")

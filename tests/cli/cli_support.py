"""Helpers shared by the CLI tests: a seeded repository, reading git directly, checks."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pygit2

from mirel.hub import Hub
from support import CliResult

BILLING_V1 = {"main.rsx": b"<App v=1/>\n", "lib/query1.sql": b"select 1;\n"}
BILLING_V2 = {"main.rsx": b"<App v=2/>\n", "lib/query1.sql": b"select 1;\n"}

Cli = Callable[..., CliResult]


@dataclass(frozen=True)
class Seeded:
    """A repository holding app billing (0.1.0, 0.2.0), workflow sync (no release) and two
    manifests: prod pins billing 0.1.0, staging pins billing latest."""

    repo: Path
    hub: Hub
    billing: str  # uuid
    sync: str  # uuid


def ok(result: CliResult) -> CliResult:
    """Return a CLI result after checking that it succeeded and wrote no error."""
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def main_tip(repo: Path, branch: str = "main") -> str:
    """Return the tip of a branch, read with pygit2 (not through mirel)."""
    return str(pygit2.Repository(str(repo)).references[f"refs/heads/{branch}"].target)


def file_at(repo: Path, revision: str, path: str) -> bytes | None:
    """Return a file's content at a commit or branch, read with pygit2, or None when absent."""
    git = pygit2.Repository(str(repo))
    commit = git.revparse_single(revision).peel(pygit2.Commit)
    try:
        entry = commit.tree[path]
    except KeyError:
        return None
    return bytes(git[entry.id].data)


def commit_changes(repo: Path, sha: str, parent: str) -> dict[str, str]:
    """Return `{path: status}` of what a one-parent commit changes, checking its parent."""
    git = pygit2.Repository(str(repo))
    commit = git.get(sha)
    assert isinstance(commit, pygit2.Commit)
    assert [str(oid) for oid in commit.parent_ids] == [parent]
    diff = git.diff(commit.parents[0].tree, commit.tree)
    return {
        (delta.new_file.path or delta.old_file.path): delta.status_char() for delta in diff.deltas
    }


def change(cli: Cli, *args: str | Path, pull_request: bool = True) -> dict[str, Any]:
    """Run a write with --json and return its answer, checked to carry commit_sha, branch_name
    and (unless `pull_request` is False) the number of an open pull request."""
    data = ok(cli(*args, "--json")).json
    assert re.fullmatch(r"[0-9a-f]{40}", data["commit_sha"]), data
    assert data["branch_name"], data
    if pull_request:
        assert isinstance(data["pull_request"]["number"], int), data
        assert data["pull_request"]["state"] == "open", data
    else:
        assert data["pull_request"] is None, data
    return cast(dict[str, Any], data)


def zip_files(data: bytes) -> dict[str, bytes]:
    """Return every member of a zip file by name."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}

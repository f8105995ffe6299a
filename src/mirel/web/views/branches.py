"""A branch's page (what it changes, its commits, its pull request or hotfix) and the editor of
one element file on a branch, or on a new branch from the default branch."""

from __future__ import annotations

from dataclasses import dataclass

from mirel.core.catalog import Element, load_element
from mirel.core.rules import parse_hotfix_branch
from mirel.errors import MirelError
from mirel.git.repository import HEADS, ChangedPath, CommitInfo
from mirel.hub import Hub
from mirel.hub.compare import hotfix_diff
from mirel.hub.values import HotfixView, ReleaseDiff
from mirel.providers.base import PullRequest


@dataclass(frozen=True)
class BranchView:
    """A branch as its page shows it."""

    name: str
    commit_sha: str
    base_sha: str  # where it left the default branch
    changes: list[ChangedPath]  # against that commit
    commits: list[CommitInfo]  # its own, newest first (at most 50)
    pull_request: PullRequest | None
    hotfix: HotfixView | None
    element: Element | None  # the element a hotfix branch patches
    files: list[str]  # that element's files on the branch
    diff: ReleaseDiff | None  # a hotfix's patch release against the newest release of its line


def _own_commits(hub: Hub, tip: str, base: str) -> list[CommitInfo]:
    """Return a branch's own commits since it left the default branch at `base`, newest first."""
    commits, _ = hub.repo.history_page(tip, [], limit=50)
    own: list[CommitInfo] = []
    for commit in commits:
        if commit.sha == base:
            break
        own.append(commit)
    return own


def branch_page(hub: Hub, branch: str) -> BranchView:
    """Return a branch: its tip, what it changes against the default branch, its commits since
    it left it, its open pull request, and for a hotfix its element's files and what its patch
    release would change."""
    repo = hub.repo
    tip = repo.require_branch(branch)
    head = hub.head()
    base = repo.merge_base(head, tip) or head
    hotfix = parse_hotfix_branch(branch)
    element = hub.catalog.elements_by_uuid().get(hotfix.uuid) if hotfix is not None else None
    files: list[str] = []
    diff: ReleaseDiff | None = None
    if element is not None and hotfix is not None:
        on_branch = load_element(hub.snapshot(HEADS + branch), element.kind, element.name)
        if on_branch is not None:
            files = [path for path, _ in repo.walk_files(on_branch.tree_oid)]
        try:
            diff = hotfix_diff(hub.catalog, element, hotfix)
        except MirelError:
            diff = None  # its line has no release any more: nothing to compare with
    return BranchView(
        name=branch,
        commit_sha=tip,
        base_sha=base,
        changes=repo.diff_trees(repo.tree_of(base), repo.tree_of(tip)),
        commits=_own_commits(hub, tip, base),
        pull_request=hub.pulls.open_for_branch(branch),
        hotfix=hub.catalog.hotfix_view(hotfix, tip, element) if hotfix is not None else None,
        element=element,
        files=files,
        diff=diff,
    )


@dataclass(frozen=True)
class FileEditor:
    """One file of an element in the editor."""

    element: Element
    branch: str  # empty: the commit goes on a new branch from the default branch
    path: str  # inside the element's folder; empty for a new file
    text: str
    binary: bool  # a file that is not UTF-8 text cannot be edited in the browser


def file_editor(hub: Hub, element_reference: str, path: str, branch: str) -> FileEditor:
    """Return the editor of an element's file as it is on `branch` (empty: the default
    branch); raise BranchNotFound or ElementNotFound."""
    if branch:
        hub.repo.require_branch(branch)
    element = hub.catalog.element(element_reference)
    text, binary = "", False
    if path:
        source = hub.snapshot(HEADS + branch) if branch else hub.snapshot()
        raw = source.read(f"{element.source_dir}/{path}")
        if raw is not None:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                binary = True
    return FileEditor(element, branch, path, text, binary)


def file_editor_again(
    hub: Hub, element_reference: str, path: str, branch: str, text: str
) -> FileEditor:
    """Return the editor holding what was typed, after its commit was refused."""
    return FileEditor(hub.catalog.element(element_reference), branch, path, text, binary=False)

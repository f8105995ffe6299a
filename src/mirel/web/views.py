"""What each page shows, gathered from the hub (the repository) and the instance (what it serves).

The routes call one of these and hand the result to a template; nothing here renders HTML or
reads a request, so each page's data can be tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from mirel.core.catalog import Element, load_element
from mirel.core.kinds import KINDS
from mirel.core.names import is_valid_name
from mirel.core.rules import parse_hotfix_branch
from mirel.core.versions import Version
from mirel.db.models import DraftChange
from mirel.errors import (
    ElementNotFound,
    HotfixNotFound,
    InvalidInput,
    MirelError,
    NotFound,
    ReleaseNotFound,
)
from mirel.git.repository import HEADS, ChangedPath, CommitInfo
from mirel.hub import Hub, ReleaseView
from mirel.hub.values import HotfixView, Matrix
from mirel.instance import Instance, LiveElement
from mirel.providers.base import PullRequest

HISTORY_PAGE = 20
MAX_DRAFT = 500


def element_at(hub: Hub, kind: str, name: str) -> Element:
    """Return the element of a page address; raise ElementNotFound (a 404 page) otherwise."""
    if kind not in {known.name for known in KINDS} or not is_valid_name(name):
        raise ElementNotFound(
            f"there is no {kind[:40]} called {name[:100]!r}; the home page lists every element"
        )
    return hub.catalog.element(f"{kind}/{name}")


@dataclass(frozen=True)
class ElementPage:
    """An element: what this instance serves, its releases, hotfixes and history."""

    element: Element
    live: LiveElement | None
    releases: list[ReleaseView]
    manifests: list[str]
    hotfixes: list[HotfixView]
    history: list[CommitInfo]
    older: str | None  # where the next page of history starts

    @property
    def live_label(self) -> str:
        """Return the live version as people read it: `0.3.0` or `working version`."""
        if self.live is None:
            return "not deployed yet"
        return self.live.live_release or "working version"

    @property
    def forms(self) -> set[str]:
        """Return the forms the page shows an error beside: one per release and hotfix."""
        return {f"release-{release.version}" for release in self.releases} | {
            f"hotfix-{hotfix.line}" for hotfix in self.hotfixes
        }

    def hotfix_for(self, version: Version) -> HotfixView | None:
        """Return the open hotfix of a release's line, if any."""
        line = str(version.line)
        return next((item for item in self.hotfixes if item.line == line), None)


def element_page(hub: Hub, instance: Instance, element: Element, before: str | None) -> ElementPage:
    """Return the data of an element's page (history from `before`, else from the head)."""
    try:
        live: LiveElement | None = instance.live.element(element.uuid)
    except ElementNotFound:
        live = None  # a new element this instance has not deployed yet
    start = before if before and len(before) == 40 else None
    history, older = hub.catalog.element_history(element, start, HISTORY_PAGE)
    return ElementPage(
        element=element,
        live=live,
        releases=hub.catalog.releases(element.reference),
        manifests=hub.catalog.manifest_names(),
        hotfixes=hub.catalog.element_hotfixes(element),
        history=history,
        older=older,
    )


def hotfix_of(hub: Hub, element: Element, line: str) -> HotfixView:
    """Return an element's open hotfix of `line`; raise HotfixNotFound."""
    for item in hub.catalog.element_hotfixes(element):
        if item.line == line:
            return item
    raise HotfixNotFound(f"{element.name} has no open hotfix for {line[:20]}")


def release_of(element: Element, releases: list[ReleaseView], version: str) -> ReleaseView:
    """Return one release of an element's list; raise ReleaseNotFound."""
    for release in releases:
        if str(release.version) == version:
            return release
    raise ReleaseNotFound(f"{element.name} has no release {version[:40]} on the default branch")


@dataclass(frozen=True)
class MatrixPage:
    """The Releases tab: a page of elements against every manifest, and the pending changes."""

    data: Matrix
    draft: list[DraftChange]

    @property
    def pending(self) -> dict[tuple[str, str], DraftChange]:
        """Return the pending changes by (manifest, element uuid)."""
        return {(change["manifest"], change["uuid"]): change for change in self.draft}


def current_pin(hub: Hub, manifest: str, element_uuid: str) -> str | None:
    """Return what a manifest on the default branch pins an element at (None: not listed, or
    no such manifest yet)."""
    try:
        pin = hub.catalog.manifest(manifest).find(element_uuid)
    except MirelError:
        return None  # a manifest the pending changes create
    return pin[1].release if pin is not None else None


def draft_change(
    hub: Hub, draft: list[DraftChange], manifest: str, element_uuid: str, release: str
) -> list[DraftChange]:
    """Return the draft with one cell's change added, replaced, or dropped when it restores the
    pin on the default branch. `release` is `latest`, `X.Y.Z` or empty (take it out).

    Raises a MirelError for a manifest, element or release that does not exist, and for a draft
    that already holds MAX_DRAFT changes.
    """
    if not is_valid_name(manifest):
        raise NotFound(f"there is no manifest {manifest[:100]!r}")
    element = hub.catalog.element(element_uuid)
    wanted = release.strip() or None
    found = {str(view.version) for view in hub.catalog.releases(element.reference)}
    if wanted not in (None, "latest") and wanted not in found:
        raise NotFound(f"{element.name} has no release {str(wanted)[:40]}; pick one of the list")
    current = current_pin(hub, manifest, element.uuid)
    kept = [
        change
        for change in draft
        if (change["manifest"], change["uuid"]) != (manifest, element.uuid)
    ]
    if wanted != current:
        if len(kept) >= MAX_DRAFT:
            raise InvalidInput(
                f"{len(kept)} changes are pending already, the most one pull request takes "
                "here; review them and create the pull request first"
            )
        kept.append(
            {
                "manifest": manifest,
                "uuid": element.uuid,
                "name": element.name,
                "kind": element.kind.name,
                "from": current,
                "release": wanted,
            }
        )
    return sorted(kept, key=lambda change: (change["manifest"], change["kind"], change["name"]))


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
    it left it, its open pull request, and for a hotfix its element's files."""
    repo = hub.repo
    tip = repo.require_branch(branch)
    head = hub.head()
    base = repo.merge_base(head, tip) or head
    hotfix = parse_hotfix_branch(branch)
    element = hub.catalog.elements_by_uuid().get(hotfix.uuid) if hotfix is not None else None
    files: list[str] = []
    if element is not None:
        on_branch = load_element(hub.snapshot(HEADS + branch), element.kind, element.name)
        if on_branch is not None:
            files = [path for path, _ in repo.walk_files(on_branch.tree_oid)]
    return BranchView(
        name=branch,
        commit_sha=tip,
        base_sha=base,
        changes=repo.diff_trees(repo.tree_of(base), repo.tree_of(tip)),
        commits=_own_commits(hub, tip, base),
        pull_request=hub.pulls.open_for_branch(branch),
        hotfix=hub.catalog.hotfix_view(hotfix, tip) if hotfix is not None else None,
        element=element,
        files=files,
    )

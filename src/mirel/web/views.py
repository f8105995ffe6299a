"""What each page shows, gathered from the hub (the repository) and the instance (what it serves).

The routes call one of these and hand the result to a template; nothing here renders HTML or
reads a request, so each page's data can be tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mirel.core.catalog import Element
from mirel.core.kinds import KINDS
from mirel.core.names import is_valid_name
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
from mirel.git.repository import CommitInfo
from mirel.hub.service import Hub, ReleaseView
from mirel.instance import Instance, LiveElement

HISTORY_PAGE = 20
MAX_DRAFT = 500


def element_at(hub: Hub, kind: str, name: str) -> Element:
    """Return the element of a page address; raise ElementNotFound (a 404 page) otherwise."""
    if kind not in {known.name for known in KINDS} or not is_valid_name(name):
        raise ElementNotFound(
            f"there is no {kind[:40]} called {name[:100]!r}; the home page lists every element"
        )
    return hub.element(f"{kind}/{name}")


@dataclass(frozen=True)
class ElementPage:
    """An element: what this instance serves, its releases, hotfixes and history."""

    element: Element
    live: LiveElement | None
    releases: list[ReleaseView]
    manifests: list[str]
    hotfixes: list[dict[str, object]]
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
            f"hotfix-{hotfix['line']}" for hotfix in self.hotfixes
        }

    def hotfix_for(self, version: Version) -> dict[str, object] | None:
        """Return the open hotfix of a release's line, if any."""
        line = str(version.line)
        return next((item for item in self.hotfixes if item["line"] == line), None)


def element_page(hub: Hub, instance: Instance, element: Element, before: str | None) -> ElementPage:
    """Return the data of an element's page (history from `before`, else from the head)."""
    try:
        live: LiveElement | None = instance.live.element(element.uuid)
    except ElementNotFound:
        live = None  # a new element this instance has not deployed yet
    start = before if before and len(before) == 40 else None
    history, older = hub.element_history(element, start, HISTORY_PAGE)
    return ElementPage(
        element=element,
        live=live,
        releases=hub.releases(element.reference),
        manifests=hub.manifest_names(),
        hotfixes=hub.element_hotfixes(element),
        history=history,
        older=older,
    )


def hotfix_of(hub: Hub, element: Element, line: str) -> dict[str, object]:
    """Return an element's open hotfix of `line`; raise HotfixNotFound."""
    for item in hub.element_hotfixes(element):
        if item["line"] == line:
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

    data: dict[str, Any]
    draft: list[DraftChange]

    @property
    def pending(self) -> dict[tuple[str, str], DraftChange]:
        """Return the pending changes by (manifest, element uuid)."""
        return {(change["manifest"], change["uuid"]): change for change in self.draft}


def current_pin(hub: Hub, manifest: str, element_uuid: str) -> str | None:
    """Return what a manifest on the default branch pins an element at (None: not listed, or
    no such manifest yet)."""
    try:
        pin = hub.manifest(manifest).find(element_uuid)
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
    element = hub.element(element_uuid)
    wanted = release.strip() or None
    found = {str(view.version) for view in hub.releases(element.reference)}
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

"""The Releases tab: a page of elements against every manifest, the picker of one cell, and the
pending pin changes (the draft) the session keeps until they become one pull request."""

from __future__ import annotations

from dataclasses import dataclass

from mirel.core.catalog import Element
from mirel.core.names import is_valid_name
from mirel.db.models import DraftChange
from mirel.errors import InvalidInput, MirelError, NotFound
from mirel.hub import Hub
from mirel.hub.manifests import PinChange
from mirel.hub.matrix import matrix
from mirel.hub.values import Matrix
from mirel.web.paging import Pager, paged
from mirel.web.views.kinds import KIND_NAMES, kind_filter
from mirel.web.views.plans import (
    CellProposal,
    PlanView,
    pin_compare_link,
    plan_view,
    proposals_by_cell,
)

MATRIX_PAGE = 50
MAX_DRAFT = 500


@dataclass(frozen=True)
class MatrixPage:
    """The Releases tab: a page of elements against every manifest, and the pending changes."""

    data: Matrix
    pager: Pager
    draft: list[DraftChange]
    proposed: dict[tuple[str, str], list[CellProposal]]  # by (manifest, element uuid)
    kinds: tuple[str, ...] = KIND_NAMES

    @property
    def pending(self) -> dict[tuple[str, str], DraftChange]:
        """Return the pending changes by (manifest, element uuid)."""
        return {(change["manifest"], change["uuid"]): change for change in self.draft}


def matrix_page(
    hub: Hub, draft: list[DraftChange], query: str, kind: str, page_number: int
) -> MatrixPage:
    """Return page `page_number` of the elements matching `query` and `kind` (any other text:
    every kind) against every manifest, with the session's pending changes and what open pull
    requests propose."""
    chosen = kind_filter(kind)

    def fetch(offset: int, limit: int) -> tuple[Matrix, int]:
        found = matrix(hub.catalog, query=query, kind=chosen, offset=offset, limit=limit)
        return found, found.total

    data, pager = paged(fetch, page_number, MATRIX_PAGE)
    proposed = proposals_by_cell(hub.proposals.all())
    return MatrixPage(data=data, pager=pager, draft=draft, proposed=proposed)


def current_pin(hub: Hub, manifest: str, element_uuid: str) -> str | None:
    """Return what a manifest on the default branch pins an element at (None: not listed, or
    no such manifest yet)."""
    try:
        pin = hub.catalog.manifest(manifest).find(element_uuid)
    except MirelError:
        return None  # a manifest the pending changes create
    return pin[1].release if pin is not None else None


def pending_change(
    draft: list[DraftChange], manifest: str, element_uuid: str
) -> DraftChange | None:
    """Return the pending change of one cell, if any."""
    return next(
        (
            change
            for change in draft
            if (change["manifest"], change["uuid"]) == (manifest, element_uuid)
        ),
        None,
    )


@dataclass(frozen=True)
class ReleasePick:
    """The release picker of one cell: the element's releases and what the cell shows now."""

    element: Element
    manifest: str
    releases: list[str]  # newest first
    pending: DraftChange | None
    chosen: str | None  # the pending change, else the pin on the default branch


def release_pick(
    hub: Hub, draft: list[DraftChange], element_reference: str, manifest: str
) -> ReleasePick:
    """Return the picker of one element in one manifest; raise ElementNotFound."""
    element = hub.catalog.element(element_reference)
    pending = pending_change(draft, manifest, element.uuid)
    return ReleasePick(
        element=element,
        manifest=manifest,
        releases=[str(view.version) for view in hub.catalog.releases(element.reference)],
        pending=pending,
        chosen=pending["release"] if pending else current_pin(hub, manifest, element.uuid),
    )


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
    kept = draft_without(draft, manifest, element.uuid)
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


def draft_without(draft: list[DraftChange], manifest: str, element_uuid: str) -> list[DraftChange]:
    """Return the draft without the pending change of one cell."""
    return [
        change
        for change in draft
        if (change["manifest"], change["uuid"]) != (manifest, element_uuid)
    ]


def pin_changes(draft: list[DraftChange]) -> list[PinChange]:
    """Return the pending changes as the pin changes one pull request proposes."""
    return [(change["manifest"], change["uuid"], change["release"]) for change in draft]


@dataclass(frozen=True)
class ReviewPage:
    """Review: each pending change, where to compare its two releases, and what each instance
    would change once they are merged (or why they cannot be proposed as they are)."""

    draft: list[DraftChange]
    plan: PlanView | None
    problem: str | None  # what creating the pull request would refuse, when it would
    compare: dict[tuple[str, str], str]  # (manifest, element uuid) -> its compare page

    def compare_of(self, change: DraftChange) -> str | None:
        """Return the page comparing the release a change moves from with the one it moves to."""
        return self.compare.get((change["manifest"], change["uuid"]))


def _compare_links(hub: Hub, draft: list[DraftChange]) -> dict[tuple[str, str], str]:
    """Return, per pending change between two releases, the page comparing them (each pin
    resolved on the default branch, `latest` and ranges included)."""
    main = hub.snapshot()
    links: dict[tuple[str, str], str] = {}
    for change in draft:
        link = pin_compare_link(
            main, change["kind"], change["uuid"], change["name"], change["from"], change["release"]
        )
        if link is not None:
            links[(change["manifest"], change["uuid"])] = link
    return links


def review_page(hub: Hub, draft: list[DraftChange]) -> ReviewPage:
    """Return Review of the pending changes: the plan of the pull request they would make."""
    if not draft:
        return ReviewPage(draft, None, None, {})
    try:
        plan: PlanView | None = plan_view(hub, hub.plans.for_pins(pin_changes(draft)))
        problem = None
    except MirelError as error:
        plan, problem = None, error.message
    return ReviewPage(draft, plan, problem, _compare_links(hub, draft))

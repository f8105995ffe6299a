"""A plan as the pages show it (a pull request, Review, the publish confirmation), with a link to
compare the two releases of each change, and what open pull requests propose where people act."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mirel.core.catalog import releases_of
from mirel.core.kinds import KINDS
from mirel.core.snapshot import Snapshot
from mirel.core.versions import Version
from mirel.hub import Hub
from mirel.hub.matrix import cell_of
from mirel.hub.values import DeployPlan, PlannedChange, Proposal
from mirel.providers.base import PullRequest
from mirel.web import urls


@dataclass(frozen=True)
class PlanView:
    """What each instance would change, and where to compare the releases of each change."""

    plan: DeployPlan
    links: dict[tuple[str, str, str], str]  # (element uuid, from, to) -> its compare page

    def compare(self, change: PlannedChange) -> str | None:
        """Return the page comparing the two releases of a change, when both are released on
        the default branch."""
        if change.from_ is None or change.to is None:
            return None
        return self.links.get((change.element_uuid, change.from_, change.to))


def compare_link(
    main: Snapshot, kind: str, uuid: str, name: str, old: str | None, new: str | None
) -> str | None:
    """Return the page comparing release `new` of an element with `old`, when both are
    releases on the default branch `main` and differ."""
    if old is None or new is None or old == new:
        return None
    if not (Version.is_valid(old) and Version.is_valid(new)):
        return None  # the working version, or nothing
    found = releases_of(main, KINDS.get(kind), uuid)
    if Version.parse(old) not in found or Version.parse(new) not in found:
        return None  # a release this change adds: its pull request shows its diff
    return urls.query(urls.release(kind, name, new, "compare"), against=old)


def pin_compare_link(
    main: Snapshot, kind: str, uuid: str, name: str, old_pin: str | None, new_pin: str | None
) -> str | None:
    """Return the page comparing the releases two pins of an element resolve to on the default
    branch `main` (`latest` and ranges resolved), when both are releases and differ."""
    found = releases_of(main, KINDS.get(kind), uuid)
    latest = max(found, default=None)
    old = cell_of(old_pin, found, latest).resolved
    new = cell_of(new_pin, found, latest).resolved
    return compare_link(main, kind, uuid, name, old, new)


def plan_view(hub: Hub, plan: DeployPlan) -> PlanView:
    """Return a plan with the compare page of each change between two releases."""
    main = hub.snapshot()
    links: dict[tuple[str, str, str], str] = {}
    changes = {
        (change.element_uuid, change.from_, change.to): change
        for group in plan.manifests
        for instance in group.instances
        for change in instance.changes
        if change.kind  # an element no longer there has nothing to compare
    }
    for change in changes.values():
        link = compare_link(
            main, change.kind, change.element_uuid, change.name, change.from_, change.to
        )
        if link is not None and change.from_ is not None and change.to is not None:
            links[(change.element_uuid, change.from_, change.to)] = link
    return PlanView(plan, links)


# One open pull request's proposal for a matrix cell: the pull request and the pin it sets
# (None: it takes the element out of the manifest).
CellProposal = tuple[PullRequest, str | None]


def proposals_by_cell(
    proposals: Iterable[Proposal],
) -> dict[tuple[str, str], list[CellProposal]]:
    """Return what open pull requests propose for each (manifest, element uuid)."""
    cells: dict[tuple[str, str], list[CellProposal]] = {}
    for proposal in proposals:
        for pin in proposal.pins:
            cells.setdefault((pin.manifest, pin.element_uuid), []).append(
                (proposal.pull, pin.release)
            )
    return cells


def created_manifests(proposals: Iterable[Proposal]) -> dict[str, list[PullRequest]]:
    """Return the manifests open pull requests create, each with those pull requests."""
    created: dict[str, list[PullRequest]] = {}
    for proposal in proposals:
        for name in proposal.manifests_created:
            created.setdefault(name, []).append(proposal.pull)
    return created

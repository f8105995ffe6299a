"""The plan of a change: what each instance would change at its next deploy if the change were on
the default branch now, element by element, as its test deploy computes it.

Instances say what they serve in their reports (`Provider.instance_reports`: the manifest they
deployed, their commit, and each element's "X.Y.Z" or "working"). The state after the change is
resolved with the core's resolver (`core.resolve`), as deploys resolve it; an element changes
when it would serve another release, or another working version (its folder differs from the
one at the commit the instance serves), or under another name.

A plan reads the element listing of the changed state and of each reported commit (cached by
folder tree id), and one release folder per element its instances' manifests list. It does not
open artifacts: the Test deploy of an instance does, and the merge gate checks new ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from mirel.core.catalog import Element, Release, releases_of
from mirel.core.manifest import Manifest, manifest_name_from_path
from mirel.core.resolve import WORKING, Desired, resolve_manifest
from mirel.core.versions import Version
from mirel.errors import MirelError
from mirel.git.snapshot import CommitSnapshot
from mirel.hub.catalog import Catalog
from mirel.hub.manifests import ManifestChanges, PinChange
from mirel.hub.pulls import PullRequests
from mirel.hub.values import (
    DeployPlan,
    InstancePlan,
    ManifestPlan,
    PlannedChange,
    PullReview,
)
from mirel.providers.base import InstanceReport, PullRequest, PullState


@dataclass(frozen=True)
class _State:
    """A commit's elements and manifests (some maybe edited in memory), resolved on demand."""

    catalog: Catalog
    snapshot: CommitSnapshot
    manifests: Mapping[str, Manifest]
    invalid: Mapping[str, tuple[str, ...]]  # the manifests that cannot be read, with why
    elements: Sequence[Element]
    releases: dict[str, Mapping[Version, Release]]  # by uuid, filled as manifests need them

    def resolve(self, name: str | None) -> tuple[list[Desired], tuple[str, ...]]:
        """Return the desired state under manifest `name` (None: no manifest), or the problems
        that would fail a deploy of it."""
        manifest = None
        if name is not None:
            if name in self.invalid:
                return [], self.invalid[name]
            manifest = self.manifests.get(name)
            if manifest is None:
                try:
                    manifest = self.catalog.manifest(name, self.snapshot)
                except MirelError as error:  # not there: the message a deploy would give
                    return [], (str(error),)
        desired, problems = resolve_manifest(manifest, self.elements, self._releases_of)
        return desired, tuple(str(problem) for problem in problems)

    def _releases_of(self, element: Element) -> Mapping[Version, Release]:
        found = self.releases.get(element.uuid)
        if found is None:
            found = releases_of(self.snapshot, element.kind, element.uuid)
            self.releases[element.uuid] = found
        return found


def _state(
    catalog: Catalog, snapshot: CommitSnapshot, edited: Mapping[str, Manifest] | None = None
) -> _State:
    """Return the state of a commit, with `edited` manifests in place of its own."""
    manifests, problems = catalog.manifests_at(snapshot)
    invalid: dict[str, list[str]] = {}
    for problem in problems:
        name = manifest_name_from_path(problem.path)
        if name is not None:
            invalid.setdefault(name, []).append(str(problem))
    for name, manifest in (edited or {}).items():
        manifests[name] = manifest
        invalid.pop(name, None)
    return _State(
        catalog=catalog,
        snapshot=snapshot,
        manifests=manifests,
        invalid={name: tuple(found) for name, found in invalid.items()},
        elements=catalog.elements(snapshot),
        releases={},
    )


def _changes(
    report: InstanceReport, desired: Iterable[Desired], before: Mapping[str, Element]
) -> tuple[PlannedChange, ...]:
    """Return what moving from what `report` says it serves to `desired` changes; `before` are
    the elements at the commit it serves (empty when unknown)."""
    changes: list[PlannedChange] = []
    wanted: set[str] = set()
    for item in desired:
        element = item.element
        wanted.add(element.uuid)
        to = str(item.version) if item.version is not None else WORKING
        served = report.live.get(element.uuid)
        old = before.get(element.uuid)
        moved = old is not None and (
            old.name != element.name or (to == WORKING and old.tree_oid != element.tree_oid)
        )
        if served != to or moved:
            changes.append(
                PlannedChange(element.uuid, element.kind.name, element.name, served, to, item.pin)
            )
    for uuid, served in report.live.items():
        if uuid not in wanted:
            old = before.get(uuid)
            kind, name = (old.kind.name, old.name) if old else ("", uuid)
            changes.append(PlannedChange(uuid, kind, name, served, None, None))
    changes.sort(key=lambda change: (change.kind, change.name, change.element_uuid))
    return tuple(changes)


class Plans:
    """Plans of pull requests and of pin changes not proposed yet."""

    def __init__(self, catalog: Catalog, pulls: PullRequests, manifests: ManifestChanges) -> None:
        self._catalog = catalog
        self._pulls = pulls
        self._manifests = manifests

    def for_pull(self, pull: PullRequest) -> DeployPlan | None:
        """Return what each instance would change if an open pull request were merged now;
        None when it is not open or conflicts (it cannot be merged as it is)."""
        if pull.state is not PullState.OPEN:
            return None
        merged = self._pulls.candidate(pull)
        if merged is None:
            return None
        main = self._catalog.snapshot(merged.commit_sha)
        return self._plan(_state(self._catalog, merged), _edited_files(main, merged))

    def review(self, number: int) -> PullReview:
        """Return one pull request with its files, the problems the merge gate would refuse
        if it were merged now, and its plan; raise PullRequestNotFound."""
        pull = self._pulls.get(number)
        return PullReview(
            pull=pull,
            diff=tuple(self._pulls.diff(number)),
            problems=tuple(self._pulls.problems(pull)),
            plan=self.for_pull(pull),
        )

    def for_pins(self, changes: Sequence[PinChange]) -> DeployPlan:
        """Return what each instance would change if these pin changes were merged now; raise
        what proposing them would (nothing is written)."""
        preview = self._manifests.preview(changes)
        state = _state(self._catalog, preview.snapshot, preview.manifests)
        return self._plan(state, set(preview.manifests))

    def _plan(self, state: _State, edited: set[str]) -> DeployPlan:
        """Return the plan of every reporting instance against `state`, by manifest; manifests
        in `edited` are listed even when no instance publishes them."""
        groups: dict[str | None, list[InstancePlan]] = {name: [] for name in edited}
        before = _ElementsAt(self._catalog)
        for report in sorted(self._catalog.provider.instance_reports(), key=lambda r: r.name):
            desired, errors = state.resolve(report.manifest)
            changes = () if errors else _changes(report, desired, before(report.commit_sha))
            groups.setdefault(report.manifest, []).append(
                InstancePlan(report.name, report.url, report.commit_sha, changes, errors)
            )
        order = sorted(groups, key=lambda name: (name is None, name not in edited, name or ""))
        return DeployPlan(
            commit_sha=state.snapshot.commit_sha,
            manifests=tuple(
                ManifestPlan(name, name in edited, tuple(groups[name])) for name in order
            ),
        )


class _ElementsAt:
    """The elements at the commits instances serve, listed once per commit."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._found: dict[str, dict[str, Element]] = {}

    def __call__(self, commit_sha: str | None) -> Mapping[str, Element]:
        if commit_sha is None:
            return {}
        found = self._found.get(commit_sha)
        if found is None:
            try:
                found = self._catalog.elements_by_uuid(self._catalog.snapshot(commit_sha))
            except MirelError:
                found = {}  # a commit this repository no longer has: compare releases only
            self._found[commit_sha] = found
        return found


def _edited_files(main: CommitSnapshot, merged: CommitSnapshot) -> set[str]:
    """Return the manifests whose file differs between two commits."""

    def files(snapshot: CommitSnapshot) -> dict[str, str]:
        return {entry.name: entry.oid for entry in snapshot.list_dir("manifests")}

    old, new = files(main), files(merged)
    names = (
        manifest_name_from_path(f"manifests/{file}")
        for file in set(old) | set(new)
        if old.get(file) != new.get(file)
    )
    return {name for name in names if name is not None}

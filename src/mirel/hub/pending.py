"""What the open pull requests propose: pins, new and deleted manifests, new releases.

Pages show it where people act (pending releases, marked matrix cells, pending manifests), and a
proposal that an open pull request already makes is refused, naming it. What each lookup costs:

- the open pull requests come from the provider's index (`Provider.open_pulls`: for the local
  provider one listing of `refs/mirel/branch-pulls/` and two record reads per open pull
  request); merged and closed ones are never read;
- what one open pull request proposes is read from its head's tree against where it left the
  default branch (one tree diff, which skips unchanged folders, and the manifests it changes)
  and kept by those two commits, which never change: after the first look it costs one
  merge-base;
- an element's pending releases are its open release branches (one ref listing under
  `mirel/release/<kind>/<uuid>/`) and each one's pull request (one ref and one record), without
  looking at any other pull request.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from mirel.core.catalog import Element, artifact_at
from mirel.core.manifest import Manifest, manifest_name_from_path
from mirel.core.rules import release_branch_prefix
from mirel.core.versions import Version
from mirel.errors import MirelError
from mirel.git.snapshot import CommitSnapshot
from mirel.hub.catalog import Catalog
from mirel.hub.values import Proposal, ProposedPin, ProposedRelease
from mirel.providers.base import PullRequest

_KEPT = 2048  # proposals remembered, by (base, head) commits


@dataclass(frozen=True)
class _Parts:
    """What a head commit changes in manifests and releases against its base."""

    pins: tuple[ProposedPin, ...]
    created: tuple[str, ...]
    deleted: tuple[str, ...]
    releases: tuple[ProposedRelease, ...]


def pin_changes(name: str, old: Manifest | None, new: Manifest | None) -> list[ProposedPin]:
    """Return the pins `new` sets or removes against `old` (None: no such manifest)."""
    before = {pin.uuid: pin.release for pins in (old.pins.values() if old else ()) for pin in pins}
    after = {pin.uuid: pin.release for pins in (new.pins.values() if new else ()) for pin in pins}
    return [
        ProposedPin(name, uuid, after.get(uuid))
        for uuid in sorted(set(before) | set(after))
        if before.get(uuid) != after.get(uuid)
    ]


def pull_pinning(
    proposals: Iterable[Proposal], manifest: str, uuid: str, release: str | None
) -> PullRequest | None:
    """Return the open pull request that sets exactly this pin (release None: removes it)."""
    wanted = ProposedPin(manifest, uuid, release)
    return next((item.pull for item in proposals if wanted in item.pins), None)


def pull_creating(proposals: Iterable[Proposal], manifest: str) -> PullRequest | None:
    """Return the open pull request that creates a manifest, if any."""
    return next((item.pull for item in proposals if manifest in item.manifests_created), None)


class Proposals:
    """What the open pull requests of one repository propose."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._kept: OrderedDict[tuple[str, str], _Parts] = OrderedDict()

    def all(self) -> list[Proposal]:
        """Return what every open pull request proposes, newest first."""
        return [self.of(pull) for pull in self._catalog.provider.open_pulls()]

    def of(self, pull: PullRequest) -> Proposal:
        """Return what one pull request proposes against where it left the default branch."""
        repo = self._catalog.repo
        tip = repo.branch_sha(pull.base_branch) or pull.base_sha
        base = repo.merge_base(tip, pull.head_sha) or pull.base_sha
        parts = self._parts(base, pull.head_sha)
        return Proposal(pull, parts.pins, parts.created, parts.deleted, parts.releases)

    def releases_of(self, element: Element) -> list[tuple[Version, PullRequest]]:
        """Return the releases of an element open pull requests add, newest first, found by its
        release branches."""
        prefix = release_branch_prefix(element.kind, element.uuid)
        found: list[tuple[Version, PullRequest]] = []
        for branch in self._catalog.repo.branches_under(prefix):
            tail = branch.removeprefix(prefix)
            pull = self._catalog.provider.open_pull_for_branch(branch)
            if pull is not None and Version.is_valid(tail):
                found.append((Version.parse(tail), pull))
        return sorted(found, key=lambda item: item[0], reverse=True)

    def _parts(self, base: str, head: str) -> _Parts:
        key = (base, head)
        parts = self._kept.get(key)
        if parts is None:
            parts = self._read(base, head)
            self._kept[key] = parts
            while len(self._kept) > _KEPT:
                self._kept.popitem(last=False)
        return parts

    def _read(self, base: str, head: str) -> _Parts:
        """Return what `head` changes in manifests and releases against `base`."""
        repo = self._catalog.repo
        before, after = CommitSnapshot(repo, base), CommitSnapshot(repo, head)
        pins: list[ProposedPin] = []
        created: list[str] = []
        deleted: list[str] = []
        releases: list[ProposedRelease] = []
        for change in repo.diff_trees(before.tree_oid, after.tree_oid):
            name = manifest_name_from_path(change.path)
            artifact = artifact_at(change.path)
            if name is not None:
                old = self._manifest(before, name) if change.status != "added" else None
                new = self._manifest(after, name) if change.status != "removed" else None
                if change.status == "added":
                    created.append(name)
                elif change.status == "removed":
                    deleted.append(name)
                pins.extend(pin_changes(name, old, new))
            elif artifact is not None and change.status == "added":
                kind, uuid, version = artifact
                releases.append(ProposedRelease(kind.name, uuid, str(version)))
        return _Parts(tuple(pins), tuple(created), tuple(deleted), tuple(releases))

    def _manifest(self, snapshot: CommitSnapshot, name: str) -> Manifest | None:
        """Return a manifest of a commit, or None when it is absent or cannot be read."""
        try:
            return self._catalog.manifest(name, snapshot)
        except MirelError:
            return None

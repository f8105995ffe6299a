"""Changes to manifests: creating, overwriting and deleting one, and pinning elements in them.

Manifests are written canonically (`write_manifest`), so changing one pin is a one-line diff in the
pull request. Every pin must name an element and a release on the default branch (or `latest`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mirel.core.catalog import Element, get_release, releases_of
from mirel.core.manifest import LATEST, Manifest, manifest_path, write_manifest
from mirel.core.names import check_name
from mirel.core.resolve import resolve_manifest
from mirel.core.rules import manifest_branch
from mirel.core.versions import Version, VersionRange
from mirel.errors import (
    AlreadyProposed,
    InvalidInput,
    ManifestExists,
    ManifestInvalid,
    ManifestNotFound,
    NothingToChange,
    ReleaseNotFound,
)
from mirel.git.repository import Author
from mirel.git.snapshot import CommitSnapshot
from mirel.hub.catalog import Catalog
from mirel.hub.pending import Proposals, pull_creating, pull_pinning
from mirel.hub.propose import BranchWriter
from mirel.hub.values import ChangeRequest, Proposal

# One pin change: (manifest, element name or uuid, release or None to unpin).
PinChange = tuple[str, str, str | None]


@dataclass(frozen=True)
class PinPreview:
    """Pin changes applied in memory: the manifests they would leave, nothing written."""

    snapshot: CommitSnapshot  # the default branch's tip they apply to
    manifests: dict[str, Manifest]  # every manifest they change, as it would be
    described: list[str]  # each change as the pull request's description says it


def _refuse_created(proposals: Sequence[Proposal], name: str) -> None:
    """Raise AlreadyProposed when an open pull request creates manifest `name`."""
    pull = pull_creating(proposals, name)
    if pull is not None:
        raise AlreadyProposed(
            pull.number,
            f"pull request #{pull.number} already creates manifest {name}; merge it first, "
            "or close it",
        )


class ManifestChanges:
    """Proposes changes to manifests."""

    def __init__(self, catalog: Catalog, branches: BranchWriter, proposals: Proposals) -> None:
        self._catalog = catalog
        self._branches = branches
        self._proposals = proposals

    def create(self, name: str, author: Author) -> ChangeRequest:
        """Propose a new, empty manifest; refused when an open pull request creates it."""
        check_name(name, "manifest")
        snapshot = self._catalog.snapshot()
        if snapshot.entry(manifest_path(name)) is not None:
            raise ManifestExists(
                f"manifest {name!r} already exists", cli_hint=f"'mirel manifest show {name}'"
            )
        _refuse_created(self._proposals.all(), name)
        return self._write(snapshot, [Manifest.empty(name)], f"Create manifest {name}", author)

    def put(self, manifest: Manifest, author: Author, message: str | None = None) -> ChangeRequest:
        """Propose creating or overwriting a whole manifest; every pin must resolve on main."""
        snapshot = self._catalog.snapshot()
        if snapshot.entry(manifest_path(manifest.name)) is None:
            _refuse_created(self._proposals.all(), manifest.name)
        _, problems = resolve_manifest(
            manifest,
            self._catalog.elements(snapshot),
            lambda element: releases_of(snapshot, element.kind, element.uuid),
        )
        if problems:
            raise ManifestInvalid(problems)
        return self._write(
            snapshot, [manifest], message or f"Update manifest {manifest.name}", author
        )

    def delete(self, name: str, author: Author, message: str | None = None) -> ChangeRequest:
        """Propose removing a manifest."""
        snapshot = self._catalog.snapshot()
        self._catalog.manifest(name, snapshot)
        return self._branches.propose(
            branch=manifest_branch(name),
            base_sha=snapshot.commit_sha,
            changes={manifest_path(name): None},
            message=(message or f"Delete manifest {name}") + "\n",
            author=author,
        )

    def roll_back(self, name: str, commit_sha: str, author: Author) -> ChangeRequest:
        """Propose restoring what manifest `name` made instances serve at commit `commit_sha`
        (a successful deployment's): each element it listed then pinned to the exact release it
        resolved to (so that no `latest` or range moves it again until someone changes it), the
        others unpinned. Every restored release must still be on the default branch."""
        then = self._catalog.snapshot(commit_sha)
        desired, problems = resolve_manifest(
            self._catalog.manifest(name, then),
            self._catalog.elements(then),
            lambda element: releases_of(then, element.kind, element.uuid),
        )
        if problems:
            raise ManifestInvalid(problems)
        restored = Manifest.empty(name)
        for item in desired:
            if item.in_manifest:
                exact = str(item.version) if item.version is not None else LATEST
                restored = restored.with_pin(item.element.kind, item.element.uuid, exact)
        short = commit_sha[:12]
        return self.put(restored, author, f"Roll back {name} to what {short} served")

    def set_pin(
        self, name: str, reference: str, release: str, author: Author, message: str | None = None
    ) -> ChangeRequest:
        """Propose pinning one element in one manifest (the manifest is created if missing)."""
        return self.change_pins([(name, reference, release)], author, message)

    def unset_pin(
        self, name: str, reference: str, author: Author, message: str | None = None
    ) -> ChangeRequest:
        """Propose removing one element's pin from a manifest."""
        return self.change_pins([(name, reference, None)], author, message)

    def change_pins(
        self, changes: Sequence[PinChange], author: Author, message: str | None = None
    ) -> ChangeRequest:
        """Propose many pin changes `(manifest, element, release or None to unpin)` in one branch.

        Every pin must name an element and a release on the default branch (or `latest`).
        """
        preview = self.preview(changes)
        described = preview.described
        title = message or (
            f"Pin {described[0]}" if len(described) == 1 else f"Change {len(described)} pins"
        )
        body = "\n".join(f"- {line}" for line in described)
        return self._write(preview.snapshot, list(preview.manifests.values()), title, author, body)

    def preview(self, changes: Sequence[PinChange]) -> PinPreview:
        """Return pin changes applied in memory to the default branch's manifests; raise what
        proposing them would raise, also when an open pull request already makes one of them."""
        if not changes:
            raise InvalidInput("no changes given; list at least one pin to change")
        snapshot = self._catalog.snapshot()
        proposals = self._proposals.all()
        edited: dict[str, Manifest] = {}
        described: list[str] = []
        for manifest_name, reference, release in changes:
            check_name(manifest_name, "manifest")
            element = self._catalog.element(reference, snapshot)
            current = edited.get(manifest_name)
            if current is None:
                current = self._load_or_new(snapshot, manifest_name, release, proposals)
            manifest, line = self._change_pin(snapshot, current, element, release)
            pull = pull_pinning(proposals, manifest_name, element.uuid, release)
            if pull is not None:
                raise AlreadyProposed(
                    pull.number,
                    f"pull request #{pull.number} already makes this change ({line}); merge "
                    "or close it instead of proposing it again",
                )
            edited[manifest_name] = manifest
            described.append(line)
        return PinPreview(snapshot, edited, described)

    def _load_or_new(
        self,
        snapshot: CommitSnapshot,
        name: str,
        release: str | None,
        proposals: Sequence[Proposal],
    ) -> Manifest:
        """Return the manifest on the default branch, or a new empty one when a pin creates it
        (refused when an open pull request creates it already)."""
        try:
            return self._catalog.manifest(name, snapshot)
        except ManifestNotFound:
            if release is None:
                raise
            _refuse_created(proposals, name)
            return Manifest.empty(name)

    @staticmethod
    def _change_pin(
        snapshot: CommitSnapshot, manifest: Manifest, element: Element, release: str | None
    ) -> tuple[Manifest, str]:
        """Return the manifest with one pin changed, and the change as the description says it."""
        current = manifest.find(element.uuid)
        if release is None:
            if current is None:
                raise NothingToChange(
                    f"manifest {manifest.name} does not pin {element.name}; nothing to unset"
                )
            return manifest.without_pin(element.uuid), f"{manifest.name}: unpin {element.name}"
        if VersionRange.is_valid(release):
            found = releases_of(snapshot, element.kind, element.uuid)
            if VersionRange.parse(release).highest(found) is None:
                raise ReleaseNotFound(
                    f"no release of {element.name} is in {release}; pin a range that holds "
                    f"one of {', '.join(str(v) for v in sorted(found)) or 'its releases'}"
                )
        elif release != LATEST:
            get_release(snapshot, element, Version.parse(release))
        if current is not None and current[1].release == release:
            raise NothingToChange(
                f"manifest {manifest.name} already pins {element.name} at {release}"
            )
        changed = manifest.with_pin(element.kind, element.uuid, release)
        return changed, f"{manifest.name}: {element.name} -> {release}"

    def _write(
        self,
        snapshot: CommitSnapshot,
        manifests: Sequence[Manifest],
        title: str,
        author: Author,
        body: str = "",
    ) -> ChangeRequest:
        """Propose the canonical text of `manifests` on one new branch."""
        changes: dict[str, bytes | None] = {
            manifest_path(manifest.name): write_manifest(manifest).encode()
            for manifest in manifests
        }
        subject = manifests[0].name if len(manifests) == 1 else "several"
        return self._branches.propose(
            branch=manifest_branch(subject),
            base_sha=snapshot.commit_sha,
            changes=changes,
            message=f"{title}\n\n{body}".rstrip() + "\n",
            author=author,
            description=body or title,
        )

"""Changes to manifests: creating, overwriting and deleting one, and pinning elements in them.

Manifests are written canonically (`write_manifest`), so changing one pin is a one-line diff in the
pull request. Every pin must name an element and a release on the default branch (or `latest`).
"""

from __future__ import annotations

from collections.abc import Sequence

from mirel.core.catalog import Element, get_release, releases_of
from mirel.core.manifest import LATEST, Manifest, manifest_path, write_manifest
from mirel.core.names import check_name
from mirel.core.resolve import resolve_manifest
from mirel.core.rules import manifest_branch
from mirel.core.versions import Version
from mirel.errors import (
    InvalidInput,
    ManifestExists,
    ManifestInvalid,
    ManifestNotFound,
    NothingToChange,
)
from mirel.git.repository import Author
from mirel.git.snapshot import CommitSnapshot
from mirel.hub.catalog import Catalog
from mirel.hub.propose import BranchWriter
from mirel.hub.values import ChangeRequest

# One pin change: (manifest, element name or uuid, release or None to unpin).
PinChange = tuple[str, str, str | None]


class ManifestChanges:
    """Proposes changes to manifests."""

    def __init__(self, catalog: Catalog, branches: BranchWriter) -> None:
        self._catalog = catalog
        self._branches = branches

    def create(self, name: str, author: Author) -> ChangeRequest:
        """Propose a new, empty manifest."""
        check_name(name, "manifest")
        snapshot = self._catalog.snapshot()
        if snapshot.entry(manifest_path(name)) is not None:
            raise ManifestExists(f"manifest {name!r} already exists; 'mirel manifest show {name}'")
        return self._write(snapshot, [Manifest.empty(name)], f"Create manifest {name}", author)

    def put(self, manifest: Manifest, author: Author, message: str | None = None) -> ChangeRequest:
        """Propose creating or overwriting a whole manifest; every pin must resolve on main."""
        snapshot = self._catalog.snapshot()
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
        if not changes:
            raise InvalidInput("no changes given; list at least one pin to change")
        snapshot = self._catalog.snapshot()
        edited: dict[str, Manifest] = {}
        described: list[str] = []
        for manifest_name, reference, release in changes:
            check_name(manifest_name, "manifest")
            element = self._catalog.element(reference, snapshot)
            current = edited.get(manifest_name)
            if current is None:
                current = self._load_or_new(snapshot, manifest_name, release)
            manifest, line = self._change_pin(snapshot, current, element, release)
            edited[manifest_name] = manifest
            described.append(line)
        title = message or (
            f"Pin {described[0]}" if len(described) == 1 else f"Change {len(described)} pins"
        )
        body = "\n".join(f"- {line}" for line in described)
        return self._write(snapshot, list(edited.values()), title, author, body)

    def _load_or_new(self, snapshot: CommitSnapshot, name: str, release: str | None) -> Manifest:
        """Return the manifest on the default branch, or a new empty one when a pin creates it."""
        try:
            return self._catalog.manifest(name, snapshot)
        except ManifestNotFound:
            if release is None:
                raise
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
        if release != LATEST:
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

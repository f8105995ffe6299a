"""Repository validation: every problem of one commit, each with its file (SPEC.md §2)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from mirel.core.artifact import DEFAULT_LIMITS, NOT_A_FILE, ArtifactLimits, read_artifact
from mirel.core.catalog import (
    Element,
    ElementListing,
    ManifestCache,
    MetadataCache,
    list_elements,
    load_manifests,
    parse_manifest_at,
    releases_of,
)
from mirel.core.folders import LINK_MODE, SUBMODULE_MODE, folder_problems
from mirel.core.kinds import KINDS, ElementKind
from mirel.core.manifest import Manifest, manifest_name_from_path
from mirel.core.names import is_valid_uuid
from mirel.core.resolve import resolve_manifest
from mirel.core.rules import new_release_problems
from mirel.core.snapshot import Snapshot, TreeEntry
from mirel.core.versions import Version
from mirel.core.words import with_article
from mirel.errors import ArtifactInvalid, BlobTooLarge, Problem

_KNOWN_TOP_LEVEL_DIST = {kind.plural for kind in KINDS}

_Progress = Callable[[str], None]


def validate_snapshot(
    snapshot: Snapshot,
    limits: ArtifactLimits = DEFAULT_LIMITS,
    progress: Callable[[str], None] | None = None,
) -> list[Problem]:
    """Return every problem of the repository at one commit (empty when it is valid).

    Checks element folders and their metadata.json, uuid clashes, the layout of `dist/`, every
    artifact in full (limits, release.json, digest, and that it matches its path), every manifest,
    and that every pin names an existing element and release.
    """
    listing = list_elements(snapshot)
    problems = list(listing.problems)
    problems.extend(_working_folder_problems(snapshot, listing.elements, limits))
    problems.extend(_dist_problems(snapshot, listing.by_uuid(), limits, progress))
    problems.extend(_manifest_problems(snapshot, listing))
    return problems


def _working_folder_problems(
    snapshot: Snapshot, elements: Iterable[Element], limits: ArtifactLimits
) -> list[Problem]:
    """Return what keeps element folders from being served or released (links, bad names...)."""
    problems: list[Problem] = []
    for element in elements:
        entries = snapshot.folder_entries(element.source_dir)
        problems.extend(folder_problems(element.source_dir, entries, limits))
    return problems


def _dist_problems(
    snapshot: Snapshot,
    elements: Mapping[str, Element],
    limits: ArtifactLimits,
    progress: _Progress | None,
) -> list[Problem]:
    """Return the problems of `dist/`: unknown entries, misplaced folders and bad artifacts."""
    problems: list[Problem] = []
    for entry in snapshot.list_dir("dist"):
        if entry.name.startswith("."):
            continue
        if entry.name not in _KNOWN_TOP_LEVEL_DIST or not entry.is_tree:
            problems.append(Problem(f"dist/{entry.name}", "is not a folder mirel knows"))
    for kind in KINDS:
        for folder in snapshot.list_dir(kind.dist_root):
            folder_path = f"{kind.dist_root}/{folder.name}"
            if folder.name.startswith("."):
                continue
            if not folder.is_tree or not is_valid_uuid(folder.name):
                problems.append(Problem(folder_path, "should be a folder named by an element uuid"))
                continue
            if not _owns(elements, folder.name, kind):
                problems.append(_not_owned(folder_path, folder.name, kind))
            problems.extend(
                _release_folder_problems(snapshot, kind, folder, folder_path, limits, progress)
            )
    return problems


def _release_folder_problems(
    snapshot: Snapshot,
    kind: ElementKind,
    folder: TreeEntry,
    folder_path: str,
    limits: ArtifactLimits,
    progress: _Progress | None,
) -> list[Problem]:
    """Return the problems of one element's release folder: misnamed entries, bad artifacts."""
    problems: list[Problem] = []
    odd = _not_files(snapshot, folder_path)
    for artifact in snapshot.list_dir(folder_path):
        problems.extend(
            _artifact_problems(
                snapshot, kind, folder.name, folder_path, artifact, limits, progress, odd
            )
        )
    return problems


def _not_files(snapshot: Snapshot, folder_path: str) -> dict[str, str]:
    """Return the entries of a release folder that git holds as links or submodules, each with
    what to say of it (a submodule cannot even be read: its commit is not in the repository)."""
    found: dict[str, str] = {}
    for entry in snapshot.folder_entries(folder_path):
        if "/" in entry.path:
            continue  # inside a folder, reported as a misnamed entry
        if entry.mode == LINK_MODE:
            found[entry.path] = "is a symbolic link; a release artifact is a zip file"
        elif entry.mode == SUBMODULE_MODE:
            found[entry.path] = NOT_A_FILE
    return found


def _owns(elements: Mapping[str, Element], uuid: str, kind: ElementKind) -> bool:
    """Return whether an element of `kind` with that uuid is there to own a release folder."""
    owner = elements.get(uuid)
    return owner is not None and owner.kind == kind


def _not_owned(folder_path: str, uuid: str, kind: ElementKind) -> Problem:
    return Problem(folder_path, f"holds releases of {uuid}, which is not {with_article(kind.name)}")


def _artifact_problems(
    snapshot: Snapshot,
    kind: ElementKind,
    uuid: str,
    folder_path: str,
    artifact: TreeEntry,
    limits: ArtifactLimits,
    progress: _Progress | None = None,
    not_files: Mapping[str, str] | None = None,
) -> list[Problem]:
    """Return the problems of one entry of a release folder: its name, then the artifact in full
    (limits, release.json, digest, and that it matches its path). `not_files` says which
    entries are links or submodules (see `_not_files`)."""
    path = f"{folder_path}/{artifact.name}"
    version = artifact.name.removesuffix(".zip")
    if artifact.is_tree or not artifact.name.endswith(".zip") or not Version.is_valid(version):
        return [Problem(path, "should be a release artifact named X.Y.Z.zip")]
    if not_files and artifact.name in not_files:
        return [Problem(path, not_files[artifact.name])]
    if progress is not None:
        progress(path)
    try:
        read_artifact(
            snapshot.read_blob(artifact.oid, limits.max_artifact_file_bytes),
            path,
            limits,
            expect_kind=kind.name,
            expect_uuid=uuid,
            expect_version=version,
        )
    except ArtifactInvalid as error:
        return [Problem(path, error.reason)]
    except BlobTooLarge as error:
        return [Problem(path, f"is too large to be a release: {error.message}")]
    return []


def _manifest_problems(snapshot: Snapshot, listing: ElementListing) -> list[Problem]:
    """Return the problems of `manifests/`: misnamed files, invalid manifests, dangling pins."""
    problems: list[Problem] = []
    for entry in snapshot.list_dir("manifests"):
        path = f"manifests/{entry.name}"
        if entry.name.startswith("."):
            continue
        if entry.is_tree or manifest_name_from_path(path) is None:
            problems.append(Problem(path, "should be a manifest file named <name>.yaml"))
    manifests, manifest_problems = load_manifests(snapshot)
    problems.extend(manifest_problems)
    for manifest in manifests.values():
        _, pin_problems = resolve_manifest(
            manifest,
            listing.elements,
            lambda element: releases_of(snapshot, element.kind, element.uuid),
        )
        problems.extend(pin_problems)
    return problems


# -- a change: the problems a commit has that its base did not ----------------------------------


def validate_change(
    base: Snapshot,
    result: Snapshot,
    limits: ArtifactLimits = DEFAULT_LIMITS,
    metadata: MetadataCache | None = None,
    manifests: ManifestCache | None = None,
    since: Snapshot | None = None,
) -> list[Problem]:
    """Return the problems `result` has that `base` did not, by the rules of `validate_snapshot`.

    Only what differs between the two commits is read: element folders whose tree changed,
    release folders whose tree changed (and in them only the artifacts that are new), manifests
    whose file changed, and the pins of every manifest on an element whose folder or releases
    changed. The rule every proposal follows is checked too: a release new in `result` moves
    forward from the releases of `since` (the commit the change was proposed on; default `base`),
    as it had to when it was proposed. A merge is checked this way: its cost follows the change,
    not the repository.
    """
    return _Change(base, result, limits, metadata).problems(manifests, since or base)


class _Change:
    """Two commits, and the new problems of the second."""

    def __init__(
        self,
        base: Snapshot,
        result: Snapshot,
        limits: ArtifactLimits,
        metadata: MetadataCache | None,
    ) -> None:
        self.base, self.result, self.limits = base, result, limits
        self.before = list_elements(base, metadata)
        self.after = list_elements(result, metadata)
        self._owners_before, self._owners_after = self.before.by_uuid(), self.after.by_uuid()

    def problems(self, manifests: ManifestCache | None, since: Snapshot) -> list[Problem]:
        """Return every new problem: element folders, `dist/`, then `manifests/`."""
        known = {str(problem) for problem in self.before.problems}
        problems = [problem for problem in self.after.problems if str(problem) not in known]
        old_trees = {element.tree_oid for element in self.before.elements}
        changed_folders = [e for e in self.after.elements if e.tree_oid not in old_trees]
        problems.extend(_working_folder_problems(self.result, changed_folders, self.limits))
        dist_problems, changed_releases = self._dist_problems()
        problems.extend(dist_problems)
        touched = changed_releases | self._changed_elements()
        problems.extend(self._manifest_problems(touched, manifests))
        problems.extend(self._forward_only_problems(changed_releases, since))
        return problems

    def _forward_only_problems(self, changed: set[str], since: Snapshot) -> list[Problem]:
        """Return the releases new in the result that do not move forward from `since`'s."""
        problems: list[Problem] = []
        for uuid in sorted(changed):
            element = self._owners_after.get(uuid)
            if element is None:
                continue  # releases of no element: reported as such above
            base = set(releases_of(self.base, element.kind, uuid))
            new = set(releases_of(self.result, element.kind, uuid)) - base
            before = set(releases_of(since, element.kind, uuid))
            problems.extend(
                new_release_problems(element.name, element.kind, uuid, before, before | new)
            )
        return problems

    def _changed_elements(self) -> set[str]:
        """Return the uuids of elements added, removed, renamed or moved to another kind."""
        old = {element.uuid: (element.kind, element.name) for element in self.before.elements}
        new = {element.uuid: (element.kind, element.name) for element in self.after.elements}
        return {uuid for uuid in old.keys() | new.keys() if old.get(uuid) != new.get(uuid)}

    def _dist_problems(self) -> tuple[list[Problem], set[str]]:
        """Return the new problems of `dist/`, and the uuids whose release folder changed."""
        problems: list[Problem] = []
        old_top = _entries(self.base, "dist")
        for entry in self.result.list_dir("dist"):
            unknown = entry.name not in _KNOWN_TOP_LEVEL_DIST or not entry.is_tree
            if not entry.name.startswith(".") and unknown and entry.name not in old_top:
                problems.append(Problem(f"dist/{entry.name}", "is not a folder mirel knows"))
        changed: set[str] = set()
        for kind in KINDS:
            old = _entries(self.base, kind.dist_root)
            new = _entries(self.result, kind.dist_root)
            changed |= {
                name for name in old.keys() | new.keys() if _oid(old, name) != _oid(new, name)
            }
            for folder in new.values():
                problems.extend(self._release_folder_problems(kind, folder, old.get(folder.name)))
        return problems, changed

    def _release_folder_problems(
        self, kind: ElementKind, folder: TreeEntry, old: TreeEntry | None
    ) -> list[Problem]:
        """Return the new problems of one release folder: its name, its owner, new artifacts."""
        path = f"{kind.dist_root}/{folder.name}"
        if folder.name.startswith("."):
            return []
        if not folder.is_tree or not is_valid_uuid(folder.name):
            if old is not None and (not old.is_tree or not is_valid_uuid(old.name)):
                return []  # misnamed already
            return [Problem(path, "should be a folder named by an element uuid")]
        problems: list[Problem] = []
        owned_before = _owns(self._owners_before, folder.name, kind)
        if not _owns(self._owners_after, folder.name, kind) and (old is None or owned_before):
            problems.append(_not_owned(path, folder.name, kind))
        if old is not None and old.oid == folder.oid:
            return problems
        known = {entry.name: entry.oid for entry in self.base.list_dir(path)} if old else {}
        odd = _not_files(self.result, path)
        for artifact in self.result.list_dir(path):
            if known.get(artifact.name) != artifact.oid:  # else the base had it, and checked it
                problems.extend(
                    _artifact_problems(
                        self.result, kind, folder.name, path, artifact, self.limits, None, odd
                    )
                )
        return problems

    def _manifest_problems(self, touched: set[str], cache: ManifestCache | None) -> list[Problem]:
        """Return the new problems of `manifests/`: new misnamed files, changed manifests that are
        invalid or pin what is not there, and pins (in any manifest) of the elements touched.

        A manifest the change left alone is parsed only when its text names a touched element:
        parsing every manifest would cost more than the rest of the check together.
        """
        problems: list[Problem] = []
        old = _entries(self.base, "manifests")
        new = _entries(self.result, "manifests")
        for entry in new.values():
            path = f"manifests/{entry.name}"
            if entry.name.startswith("."):
                continue
            if entry.is_tree or manifest_name_from_path(path) is None:
                if entry.name not in old:
                    problems.append(Problem(path, "should be a manifest file named <name>.yaml"))
                continue
            previous = old.get(entry.name)
            if previous is not None and previous.oid == entry.oid:
                problems.extend(self._unchanged_manifest_problems(path, entry, touched, cache))
            else:
                problems.extend(
                    self._changed_manifest_problems(path, entry, previous, touched, cache)
                )
        return problems

    def _changed_manifest_problems(
        self,
        path: str,
        entry: TreeEntry,
        previous: TreeEntry | None,
        touched: set[str],
        cache: ManifestCache | None,
    ) -> list[Problem]:
        """Return a changed manifest's problems: its own, and those of the pins it changed or of
        elements the change touched."""
        manifest, found = parse_manifest_at(self.result, path, entry.oid, cache)
        if manifest is None:
            return list(found)
        before = None
        if previous is not None and not previous.is_tree:
            before, _ = parse_manifest_at(self.base, path, previous.oid, cache)
        return self._pin_problems(manifest.only(touched | _changed_pins(manifest, before)))

    def _unchanged_manifest_problems(
        self, path: str, entry: TreeEntry, touched: set[str], cache: ManifestCache | None
    ) -> list[Problem]:
        """Return the problems of the pins an unchanged manifest has on touched elements."""
        text = self.result.read_blob(entry.oid)
        if not any(uuid.encode() in text for uuid in touched):
            return []  # it cannot pin an element whose uuid it does not hold
        manifest, _ = parse_manifest_at(self.result, path, entry.oid, cache)
        return [] if manifest is None else self._pin_problems(manifest.only(touched))

    def _pin_problems(self, manifest: Manifest) -> list[Problem]:
        """Return the problems of a manifest's pins at the result."""
        _, problems = resolve_manifest(
            manifest,
            self.after.elements,
            lambda element: releases_of(self.result, element.kind, element.uuid),
        )
        return problems


def _changed_pins(manifest: Manifest, before: Manifest | None) -> set[str]:
    """Return the uuids `manifest` pins differently from `before` (all of them when it is new)."""
    changed: set[str] = set()
    for pins in manifest.pins.values():
        for pin in pins:
            found = before.find(pin.uuid) if before is not None else None
            if found is None or found[1].release != pin.release:
                changed.add(pin.uuid)
    return changed


def _entries(snapshot: Snapshot, path: str) -> dict[str, TreeEntry]:
    return {entry.name: entry for entry in snapshot.list_dir(path)}


def _oid(entries: Mapping[str, TreeEntry], name: str) -> str | None:
    entry = entries.get(name)
    return entry.oid if entry is not None else None

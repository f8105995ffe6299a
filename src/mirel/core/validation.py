"""Repository validation: every problem of one commit, each with its file (SPEC.md §2)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from mirel.core.artifact import DEFAULT_LIMITS, ArtifactLimits, read_artifact
from mirel.core.catalog import Element, ElementListing, list_elements, load_manifests, releases_of
from mirel.core.kinds import KINDS, ElementKind
from mirel.core.manifest import manifest_name_from_path
from mirel.core.names import is_valid_uuid
from mirel.core.resolve import resolve_manifest
from mirel.core.snapshot import Snapshot, TreeEntry
from mirel.core.versions import Version
from mirel.errors import ArtifactInvalid, Problem

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
    problems.extend(_dist_problems(snapshot, listing.by_uuid(), limits, progress))
    problems.extend(_manifest_problems(snapshot, listing))
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
            owner = elements.get(folder.name)
            if owner is None or owner.kind != kind:
                problems.append(
                    Problem(
                        folder_path, f"holds releases of {folder.name}, which is not an {kind.name}"
                    )
                )
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
    for artifact in snapshot.list_dir(folder_path):
        path = f"{folder_path}/{artifact.name}"
        version = artifact.name.removesuffix(".zip")
        if artifact.is_tree or not artifact.name.endswith(".zip") or not Version.is_valid(version):
            problems.append(Problem(path, "should be a release artifact named X.Y.Z.zip"))
            continue
        if progress is not None:
            progress(path)
        try:
            read_artifact(
                snapshot.read_blob(artifact.oid),
                path,
                limits,
                expect_kind=kind.name,
                expect_uuid=folder.name,
                expect_version=version,
            )
        except ArtifactInvalid as error:
            problems.append(Problem(path, error.reason))
    return problems


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

"""The catalog of one commit: its elements, their releases and its manifests.

Everything here reads through a Snapshot and touches only the folders it needs: looking up one
element reads that element's folder and release folder, never the whole repository. The one
listing that must see every element (`list_elements`) reads each element's metadata.json once per
folder version, remembered in a `MetadataCache` keyed by the folder's git tree id.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from mirel.core.kinds import KINDS, ElementKind
from mirel.core.manifest import Manifest, manifest_name_from_path, manifest_path
from mirel.core.names import check_name, is_valid_name, is_valid_uuid
from mirel.core.snapshot import Snapshot, TreeEntry
from mirel.core.versions import Version
from mirel.errors import (
    BlobTooLarge,
    ElementNotFound,
    InvalidInput,
    ManifestInvalid,
    ManifestNotFound,
    MetadataInvalid,
    Problem,
    ReleaseNotFound,
    shown,
)

METADATA = "metadata.json"
_ARTIFACT_NAME = re.compile(r"(.+)\.zip")


@dataclass(frozen=True)
class Element:
    """An element under source control on the commit that was read."""

    kind: ElementKind
    uuid: str
    name: str
    tree_oid: str  # the git tree of its source folder: its working version

    @property
    def source_dir(self) -> str:
        """Return the element's source folder."""
        return self.kind.source_dir(self.name)

    @property
    def reference(self) -> str:
        """Return `kind/name`, the reference that finds the element with one path lookup
        (a uuid means reading every element's metadata)."""
        return f"{self.kind.name}/{self.name}"


@dataclass(frozen=True)
class Release:
    """One release artifact present on the commit that was read."""

    kind: ElementKind
    uuid: str
    version: Version
    blob_oid: str

    @property
    def path(self) -> str:
        """Return the artifact's repository path."""
        return self.kind.artifact_path(self.uuid, str(self.version))


def parse_metadata(
    data: bytes, kind: ElementKind, folder: str, path: str
) -> tuple[str | None, list[Problem]]:
    """Return the uuid an element's metadata.json declares, and every problem with it."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        return None, [Problem(path, f"is not valid JSON ({error}); fix or re-export the file")]
    except RecursionError:
        return None, [Problem(path, "nests too deep to be read; fix or re-export the file")]
    if not isinstance(document, dict):
        return None, [Problem(path, "must be a JSON object")]
    problems: list[Problem] = []
    uuid = document.get(kind.uuid_field)
    if not is_valid_uuid(uuid):
        problems.append(
            Problem(path, f"{kind.uuid_field!r} must be a lowercase uuid, got {uuid!r}")
        )
    name = document.get("name")
    if name is not None and name != folder:
        problems.append(
            Problem(path, f"'name' is {name!r} but the folder is {folder!r}; make them equal")
        )
    return (uuid if not problems else None), problems


def metadata_key(kind: ElementKind, name: str, tree_oid: str) -> str:
    """Return the cache key of one element folder's metadata result.

    The folder's content alone does not decide the result: its kind says which field holds the
    uuid, and its name must match the `name` in metadata.json, so both are part of the key.
    """
    return f"{kind.name}/{name}@{tree_oid}"


class MetadataCache:
    """metadata.json results remembered by kind, folder name and the folder's git tree id."""

    def __init__(self) -> None:
        self._by_tree: dict[str, tuple[str | None, tuple[Problem, ...]]] = {}

    def get(self, key: str) -> tuple[str | None, tuple[Problem, ...]] | None:
        """Return the remembered result for a `metadata_key`, if any."""
        return self._by_tree.get(key)

    def put(self, key: str, result: tuple[str | None, tuple[Problem, ...]]) -> None:
        """Remember the result for a `metadata_key` (folder versions never change)."""
        self._by_tree[key] = result


@dataclass(frozen=True)
class BrokenFolder:
    """A folder of a kind's root that is not a valid element, with why: readers list it as
    broken beside the valid elements instead of leaving it out or failing."""

    kind: ElementKind
    name: str  # as people read it: a name that is not UTF-8 is shown with escapes
    problems: tuple[Problem, ...]

    @property
    def path(self) -> str:
        return self.kind.source_dir(self.name)


@dataclass
class ElementListing:
    """Every element of a commit, and the problems of folders that are not valid elements."""

    elements: list[Element] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    broken: list[BrokenFolder] = field(default_factory=list)

    def by_uuid(self) -> dict[str, Element]:
        """Return the elements keyed by uuid."""
        return {element.uuid: element for element in self.elements}


MAX_METADATA_BYTES = 1024 * 1024


def _read_metadata(
    snapshot: Snapshot, kind: ElementKind, name: str, path: str
) -> tuple[str | None, tuple[Problem, ...]]:
    """Return the uuid a folder's metadata.json declares and its problems; one too large is
    refused from its size, unread."""
    entry = snapshot.entry(path)
    if entry is None or entry.is_tree:
        return None, (Problem(path, "is missing; every element folder needs one"),)
    try:
        data = snapshot.read_blob(entry.oid, MAX_METADATA_BYTES)
    except BlobTooLarge:
        return None, (Problem(path, f"is over {MAX_METADATA_BYTES:,} bytes; make it smaller"),)
    uuid, found = parse_metadata(data, kind, name, path)
    return uuid, tuple(found)


def _element_from_folder(
    snapshot: Snapshot, kind: ElementKind, name: str, tree_oid: str, cache: MetadataCache | None
) -> tuple[Element | None, tuple[Problem, ...]]:
    path = f"{kind.source_dir(name)}/{METADATA}"
    key = metadata_key(kind, name, tree_oid)
    remembered = cache.get(key) if cache is not None else None
    if remembered is None:
        if not is_valid_name(name):
            remembered = (None, (Problem(kind.source_dir(name), "is not a valid element name"),))
        else:
            remembered = _read_metadata(snapshot, kind, name, path)
        if cache is not None:
            cache.put(key, remembered)
    uuid, problems = remembered
    if uuid is None:
        return None, problems
    return Element(kind=kind, uuid=uuid, name=name, tree_oid=tree_oid), ()


def list_elements(snapshot: Snapshot, cache: MetadataCache | None = None) -> ElementListing:
    """Return every element of the snapshot, with problems for broken folders and uuid clashes."""
    listing = ElementListing()
    seen: dict[str, Element] = {}
    for kind in KINDS:
        entries = snapshot.list_dir(kind.source_root)
        if not entries:
            listing.problems.extend(_kind_root_problems(snapshot, kind))
        for entry in entries:
            if not entry.is_tree or entry.name.startswith("."):
                continue  # a README beside the folders, a .gitkeep: no element, no harm
            element, problems = _element_from_folder(snapshot, kind, entry.name, entry.oid, cache)
            if element is None:
                listing.problems.extend(problems)
                listing.broken.append(BrokenFolder(kind, shown(entry.name), problems))
                continue
            other = seen.get(element.uuid)
            if other is not None:
                clash = Problem(
                    f"{element.source_dir}/{METADATA}",
                    f"uuid {element.uuid} is also used by {other.source_dir}; "
                    "every element needs its own uuid",
                )
                listing.problems.append(clash)
                listing.broken.append(BrokenFolder(kind, entry.name, (clash,)))
                continue
            seen[element.uuid] = element
            listing.elements.append(element)
    return listing


def _kind_root_problems(snapshot: Snapshot, kind: ElementKind) -> list[Problem]:
    """Return the problem of a kind's folder that is a file (an empty folder has none)."""
    root = snapshot.entry(kind.source_root)
    if root is None or root.is_tree:
        return []
    return [Problem(kind.source_root, f"should be the folder of every {kind.name}, not a file")]


def load_element(snapshot: Snapshot, kind: ElementKind, name: str) -> Element | None:
    """Return the element of that kind and name, None when absent; raise MetadataInvalid."""
    entry = snapshot.entry(kind.source_dir(name))
    if entry is None or not entry.is_tree:
        return None
    element, problems = _element_from_folder(snapshot, kind, name, entry.oid, None)
    if element is None:
        raise MetadataInvalid(problems)
    return element


def find_element(snapshot: Snapshot, reference: str, cache: MetadataCache | None = None) -> Element:
    """Return the element named by name or uuid (or `kind/name`); raise ElementNotFound."""
    if is_valid_uuid(reference):
        # uuids live inside metadata.json, so finding one lists the element folders; the
        # MetadataCache keeps that to one tree listing per kind once the folders were read.
        for element in list_elements(snapshot, cache).elements:
            if element.uuid == reference:
                return element
        raise ElementNotFound(
            f"no element with uuid {reference} on {snapshot.commit_sha[:12]}",
            cli_hint="'mirel element list' shows them",
        )
    kind_name, _, name = reference.rpartition("/")
    kinds: Iterable[ElementKind] = [KINDS.get(kind_name)] if kind_name else KINDS
    check_name(name, "element")
    found = [match for kind in kinds if (match := load_element(snapshot, kind, name))]
    if not found:
        raise ElementNotFound(
            f"no element named {name!r} on the default branch",
            cli_hint="'mirel element list' shows them",
        )
    if len(found) > 1:
        raise InvalidInput(
            f"{name!r} is both an app and a workflow; write app/{name}, workflow/{name} or its uuid"
        )
    return found[0]


@functools.lru_cache(maxsize=8192)
def artifact_version(name: str) -> Version | None:
    """Return the version an artifact's file name `<X.Y.Z>.zip` gives, None for another name.

    Kept per name: 2,000 release folders of 50 artifacts hold only a few hundred distinct names.
    """
    match = _ARTIFACT_NAME.fullmatch(name)
    if match is None or not Version.is_valid(match[1]):
        return None
    return Version.parse(match[1])


def releases_of(snapshot: Snapshot, kind: ElementKind, uuid: str) -> dict[Version, Release]:
    """Return the releases of one element present in the snapshot (malformed names skipped)."""
    return releases_in(snapshot.list_dir(kind.release_dir(uuid)), kind, uuid)


def releases_in(
    entries: Iterable[TreeEntry], kind: ElementKind, uuid: str
) -> dict[Version, Release]:
    """Return the releases among the entries of one element's release folder (malformed names
    skipped)."""
    releases: dict[Version, Release] = {}
    for entry in entries:
        version = None if entry.is_tree else artifact_version(entry.name)
        if version is not None:
            releases[version] = Release(kind=kind, uuid=uuid, version=version, blob_oid=entry.oid)
    return releases


def artifact_at(path: str) -> tuple[ElementKind, str, Version] | None:
    """Return the kind, uuid and version of the artifact stored at `path`
    (`dist/<kind>s/<uuid>/<X.Y.Z>.zip`), or None when the path is not one."""
    parts = path.split("/")
    if len(parts) != 4 or parts[0] != "dist":
        return None
    kind = KINDS.by_plural(parts[1])
    match = _ARTIFACT_NAME.fullmatch(parts[3])
    if kind is None or match is None or not is_valid_uuid(parts[2]):
        return None
    if not Version.is_valid(match[1]):
        return None
    return kind, parts[2], Version.parse(match[1])


def get_release(snapshot: Snapshot, element: Element, version: Version) -> Release:
    """Return one release of an element; raise ReleaseNotFound naming the versions there are."""
    releases = releases_of(snapshot, element.kind, element.uuid)
    release = releases.get(version)
    if release is None:
        known = ", ".join(str(v) for v in sorted(releases, reverse=True)[:5]) or "none yet"
        raise ReleaseNotFound(
            f"{element.name} has no release {version} on the default branch (releases: {known})"
        )
    return release


def list_manifest_names(snapshot: Snapshot) -> list[str]:
    """Return the names of the manifests in `manifests/`, sorted."""
    names: list[str] = []
    for entry in snapshot.list_dir("manifests"):
        name = manifest_name_from_path(f"manifests/{entry.name}")
        if name is not None and not entry.is_tree:
            names.append(name)
    return sorted(names)


class ManifestCache:
    """Parsed manifests remembered by path and git blob id (a blob never changes)."""

    def __init__(self, limit: int = 1024) -> None:
        self._parsed: dict[tuple[str, str], tuple[Manifest | None, tuple[Problem, ...]]] = {}
        self._limit = limit

    def parse(
        self, snapshot: Snapshot, path: str, oid: str
    ) -> tuple[Manifest | None, tuple[Problem, ...]]:
        """Return the manifest at `path` with blob `oid` and its problems, parsing it once."""
        key = (path, oid)
        found = self._parsed.get(key)
        if found is None:
            from mirel.core.manifest_reader import find_manifest_problems  # PyYAML

            manifest, problems = find_manifest_problems(snapshot.read_blob(oid), path)
            found = (manifest, tuple(problems))
            if len(self._parsed) >= self._limit:
                self._parsed.clear()  # manifests are few; a rare full reset keeps memory bounded
            self._parsed[key] = found
        return found


def parse_manifest_at(
    snapshot: Snapshot, path: str, oid: str, cache: ManifestCache | None
) -> tuple[Manifest | None, tuple[Problem, ...]]:
    """Return the manifest stored at `path` as blob `oid` and its problems (kept in `cache`)."""
    if cache is not None:
        return cache.parse(snapshot, path, oid)
    from mirel.core.manifest_reader import find_manifest_problems  # PyYAML

    manifest, problems = find_manifest_problems(snapshot.read_blob(oid), path)
    return manifest, tuple(problems)


def load_manifest(snapshot: Snapshot, name: str, cache: ManifestCache | None = None) -> Manifest:
    """Return the manifest called `name`; raise ManifestNotFound or ManifestInvalid."""
    check_name(name, "manifest")
    path = manifest_path(name)
    entry = snapshot.entry(path)
    if entry is not None and entry.is_tree:
        raise ManifestInvalid(
            [Problem(path, "is a folder; a manifest is a file named <name>.yaml")]
        )
    if entry is None:
        known = ", ".join(list_manifest_names(snapshot)) or "none yet"
        raise ManifestNotFound(
            f"there is no manifest {name!r} (manifests: {known}); create it first",
            cli_hint=f"'mirel manifest create {name}' creates it",
        )
    manifest, problems = parse_manifest_at(snapshot, path, entry.oid, cache)
    if manifest is None:
        raise ManifestInvalid(problems)
    return manifest


def load_manifests(
    snapshot: Snapshot, cache: ManifestCache | None = None
) -> tuple[dict[str, Manifest], list[Problem]]:
    """Return every valid manifest by name, and the problems of those that are not valid."""
    manifests: dict[str, Manifest] = {}
    problems: list[Problem] = []
    for entry in snapshot.list_dir("manifests"):
        path = f"manifests/{entry.name}"
        name = manifest_name_from_path(path)
        if name is None or entry.is_tree:
            continue
        manifest, found = parse_manifest_at(snapshot, path, entry.oid, cache)
        if manifest is None:
            problems.extend(found)
        else:
            manifests[name] = manifest
    return manifests, problems

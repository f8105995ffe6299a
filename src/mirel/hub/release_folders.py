"""Each element's releases at a commit, kept by the tree id of its release folder.

`dist/<kind>s/` is listed once per version of it (one listing instead of a path lookup per
element), and each element's folder `dist/<kind>s/<uuid>/` is read only when its tree id is new:
a commit that changes a manifest reads no release folder again. An exact pin needs one artifact,
looked up by name; only `latest`, ranges and listings read the whole folder.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping

from mirel.core.catalog import Element, Release, releases_in
from mirel.core.kinds import ElementKind
from mirel.core.snapshot import Snapshot
from mirel.core.versions import Version
from mirel.git.repository import GitRepository
from mirel.git.snapshot import CommitSnapshot

_FOLDERS_KEPT = 50_000
_DIST_LISTINGS_KEPT = 8


class ReleaseFolder(Mapping[Version, Release]):
    """One element's releases in one version of its release folder, read as they are asked for."""

    def __init__(self, repo: GitRepository, element: Element, tree_oid: str) -> None:
        self._repo = repo
        self._element = element
        self._tree_oid = tree_oid
        self._all: dict[Version, Release] | None = None
        self._found: dict[Version, Release] = {}  # looked up one by one

    def _listed(self) -> dict[Version, Release]:
        if self._all is None:
            entries = self._repo.list_tree(self._tree_oid)
            self._all = releases_in(entries, self._element.kind, self._element.uuid)
        return self._all

    def __getitem__(self, version: Version) -> Release:
        if self._all is not None:
            return self._all[version]
        found = self._found.get(version)
        if found is None:
            entry = self._repo.entry_at(self._tree_oid, f"{version}.zip")
            if entry is None or entry.is_tree:
                raise KeyError(version)
            kind, uuid = self._element.kind, self._element.uuid
            found = self._found[version] = Release(kind, uuid, version, entry.oid)
        return found

    def __iter__(self) -> Iterator[Version]:
        return iter(self._listed())

    def __len__(self) -> int:
        return len(self._listed())


_NONE: Mapping[Version, Release] = {}


class ReleaseFolders:
    """The release folders of every element, kept by tree id (git objects never change)."""

    def __init__(self, repo: GitRepository) -> None:
        self._repo = repo
        self._folders: dict[tuple[str, str, str], ReleaseFolder] = {}
        self._dist: dict[str, dict[str, str]] = {}  # by dist/<kind>s/ tree id: uuid -> tree id
        self._lock = threading.Lock()  # pages, the API and the deployer read at once
        self._last_root: tuple[tuple[str, str], dict[str, str]] | None = None

    def of_kind(self, snapshot: Snapshot, kind: ElementKind) -> Mapping[str, str]:
        """Return the tree id of each element's release folder of one kind, by uuid."""
        # Asked once per element: the root's entry is looked up once per tree of a snapshot.
        tree = snapshot.tree_oid if isinstance(snapshot, CommitSnapshot) else None
        last = self._last_root
        if tree is not None and last is not None and last[0] == (tree, kind.name):
            return last[1]
        root = snapshot.entry(kind.dist_root)
        if root is None or not root.is_tree:
            return {}
        found = self._dist.get(root.oid)
        if found is None:
            found = {
                entry.name: entry.oid for entry in self._repo.list_tree(root.oid) if entry.is_tree
            }
            with self._lock:
                if len(self._dist) >= _DIST_LISTINGS_KEPT:
                    self._dist.clear()
                self._dist[root.oid] = found
        if tree is not None:
            self._last_root = ((tree, kind.name), found)
        return found

    def releases(self, snapshot: Snapshot, element: Element) -> Mapping[Version, Release]:
        """Return an element's releases at the commit `snapshot` shows."""
        oid = self.of_kind(snapshot, element.kind).get(element.uuid)
        if oid is None:
            return _NONE
        key = (element.kind.name, element.uuid, oid)
        found = self._folders.get(key)
        if found is None:
            found = ReleaseFolder(self._repo, element, oid)
            with self._lock:
                if len(self._folders) >= _FOLDERS_KEPT:
                    self._folders.clear()  # rare, and a refill costs one listing per element
                self._folders[key] = found
        return found

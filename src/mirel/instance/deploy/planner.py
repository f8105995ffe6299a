"""From a commit and a manifest name to the desired live state, reading as little as possible.

The core does the resolving (`resolve_manifest`); this module feeds it from git through caches that
are safe because git objects never change:

- **Element listings** are kept in memory by the tree ids of the kinds' source folders (`apps/`,
  `workflows/`): a commit that changed only manifests or releases reuses the last listing whole.
- **metadata.json results** of valid element folders are kept by the folder's tree id, in memory
  and in the `element_metadata` table, so that even a new process reads only the folders that
  changed since any earlier deploy on this database, never 2,000 metadata.json files.
- **Release folders** (`dist/<kind>s/<uuid>/`, `mirel.hub.release_folders`): `dist/<kind>s/` is
  listed once per version of it, each element's folder only when its tree id is new to this
  process, and an exact pin looks its artifact up by name.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from mirel.core.catalog import (
    ElementListing,
    MetadataCache,
    list_elements,
    load_manifest,
    metadata_key,
)
from mirel.core.kinds import KINDS, ElementKind
from mirel.core.names import is_valid_name
from mirel.core.resolve import WORKING, resolve_manifest
from mirel.db.models import ElementMetadata
from mirel.errors import DocumentInvalid, MirelError, Problem
from mirel.git.repository import GitRepository
from mirel.git.snapshot import CommitSnapshot
from mirel.hub.release_folders import ReleaseFolders

_CHUNK = 500  # keys per IN (...) query: far below every database's limit on bound parameters
_LISTINGS_KEPT = 4
_RELEASE_FOLDERS_KEPT = 50_000


def chunks(items: Iterable[str], size: int = _CHUNK) -> Iterable[list[str]]:
    """Return `items` cut into lists of at most `size`."""
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass(frozen=True)
class Target:
    """What one element should serve after the deploy, and the source that holds it."""

    uuid: str
    kind: ElementKind
    name: str
    release: str | None  # "X.Y.Z", None for the working version
    pin: str | None  # the manifest's pin, None when the manifest does not list the element
    source_key: str  # "blob:<artifact blob id>" or "tree:<element folder tree id>"
    path: str  # the artifact's repository path, or the element's folder

    @property
    def label(self) -> str:
        """Return the release this target serves as changes show it: "X.Y.Z" or "working"."""
        return self.release or WORKING

    @property
    def oid(self) -> str:
        """Return the git object id the source comes from."""
        return self.source_key.split(":", 1)[1]

    @property
    def is_artifact(self) -> bool:
        """Return whether the source is a release artifact (else a working tree)."""
        return self.source_key.startswith("blob:")


@dataclass
class DesiredState:
    """The outcome of resolving: one target per element, or the problems that block the deploy."""

    commit_sha: str
    manifest: str | None
    targets: list[Target] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _RecordingCache(MetadataCache):
    """A MetadataCache of valid element folders that remembers which ones were read lately.

    Only valid results are kept, by `metadata_key` (kind, folder name and tree id): a broken
    folder is rare and cheap to read again, so it is simply never remembered.
    """

    def __init__(self) -> None:
        super().__init__()
        self._new: dict[str, str] = {}

    def put(self, key: str, result: tuple[str | None, tuple[Problem, ...]]) -> None:
        """Remember a valid folder's uuid, and that it was read since the last `take_new`."""
        uuid, problems = result
        if uuid is not None and not problems:
            super().put(key, result)
            self._new[key] = uuid

    def load(self, key: str, uuid: str) -> None:
        """Remember a valid folder's uuid read back from the database."""
        super().put(key, (uuid, ()))

    def take_new(self) -> dict[str, str]:
        """Return the folders read since the last call (tree id -> uuid), and forget them."""
        new, self._new = self._new, {}
        return new


class Planner:
    """Resolves commits into desired states, with caches kept by git object id."""

    def __init__(self, sessions: sessionmaker[Session], repo: GitRepository) -> None:
        self._sessions = sessions
        self._repo = repo
        self._metadata = _RecordingCache()
        self._listings: OrderedDict[tuple[str, ...], ElementListing] = OrderedDict()
        # A test deploy (an API thread) may plan while the poller deploys.
        self._listing_lock = threading.Lock()
        self.release_folders = ReleaseFolders(repo)

    def desired(self, snapshot: CommitSnapshot, manifest_name: str | None) -> DesiredState:
        """Return the desired state of every element at a commit under a manifest (or none)."""
        state = DesiredState(commit_sha=snapshot.commit_sha, manifest=manifest_name)
        listing = self.elements(snapshot)
        state.warnings.extend(
            f"{problem} (not served: the folder is not a valid element)"
            for problem in listing.problems
        )
        manifest = None
        if manifest_name is not None:
            try:
                manifest = load_manifest(snapshot, manifest_name)
            except DocumentInvalid as error:
                state.problems.extend(str(problem) for problem in error.problems)
                return state
            except MirelError as error:
                state.problems.append(str(error))
                return state
        desired, problems = resolve_manifest(
            manifest,
            listing.elements,
            lambda element: self.release_folders.releases(snapshot, element),
        )
        state.problems.extend(str(problem) for problem in problems)
        for item in desired:
            element = item.element
            if item.release is None:
                key, path = f"tree:{element.tree_oid}", element.source_dir
            else:
                key, path = f"blob:{item.release.blob_oid}", item.release.path
            state.targets.append(
                Target(
                    uuid=element.uuid,
                    kind=element.kind,
                    name=element.name,
                    release=str(item.version) if item.version is not None else None,
                    pin=item.pin,
                    source_key=key,
                    path=path,
                )
            )
        return state

    def elements(self, snapshot: CommitSnapshot) -> ElementListing:
        """Return every element of a commit, reading only metadata.json files never seen before."""
        with self._listing_lock:
            return self._elements(snapshot)

    def _elements(self, snapshot: CommitSnapshot) -> ElementListing:
        roots = tuple(
            entry.oid if (entry := snapshot.entry(kind.source_root)) is not None else "-"
            for kind in KINDS
        )
        listing = self._listings.get(roots)
        if listing is not None:
            self._listings.move_to_end(roots)
            return listing
        folders = [
            metadata_key(kind, entry.name, entry.oid)
            for kind in KINDS
            for entry in snapshot.list_dir(kind.source_root)
            # A folder that cannot be an element (a name git holds that is not even UTF-8, say)
            # has nothing stored to look up.
            if entry.is_tree and is_valid_name(entry.name)
        ]
        self._load_metadata(oid for oid in folders if self._metadata.get(oid) is None)
        listing = list_elements(snapshot, self._metadata)
        self._store_metadata(self._metadata.take_new())
        self._listings[roots] = listing
        while len(self._listings) > _LISTINGS_KEPT:
            self._listings.popitem(last=False)
        return listing

    def _load_metadata(self, keys: Iterable[str]) -> None:
        with self._sessions() as session:
            for batch in chunks(keys):
                rows = session.execute(
                    select(ElementMetadata.folder_key, ElementMetadata.uuid).where(
                        ElementMetadata.folder_key.in_(batch)
                    )
                )
                for key, uuid in rows:
                    self._metadata.load(key, uuid)

    def _store_metadata(self, results: Mapping[str, str]) -> None:
        if not results:
            return
        rows = [{"folder_key": key, "uuid": uuid} for key, uuid in results.items()]
        with self._sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            make = postgresql_insert if dialect == "postgresql" else sqlite_insert
            for start in range(0, len(rows), _CHUNK):
                # Another process may have stored the same folder meanwhile: same content, skip it.
                statement = make(ElementMetadata).on_conflict_do_nothing(
                    index_elements=["folder_key"]
                )
                session.execute(statement, rows[start : start + _CHUNK])

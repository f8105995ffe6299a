"""Unpacked element sources in the database, content-addressed by the git object they come from.

A source is a release artifact (`blob:<oid>`), checked with every limit of SPEC.md §2.1 and against
its repository path, or a working version (`tree:<oid>`), the element's folder at a commit. Either
is unpacked once: a source row and all its file rows are inserted in one transaction, so a source
is in the table completely or not at all, and any deploy that needs the same object later reuses it.

A deploy calls `unpack` (check every source, store the new ones); a test deploy calls `check`
(check every source, store nothing). Both collect problems rather than raise them, so that a
deploy lists all of them.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mirel.core.artifact import NOT_A_FILE, ArtifactLimits, read_artifact
from mirel.core.folders import MAX_PATH, folder_problems
from mirel.db.models import Source, SourceFile
from mirel.errors import ArtifactInvalid, BlobTooLarge, InvalidInput, LeaseLost, MirelError
from mirel.git.repository import GitRepository
from mirel.git.snapshot import folder_entries
from mirel.instance.deploy.planner import DesiredState, Target, chunks
from mirel.instance.deploy.steps import counted

# Sources stored per transaction: a commit per source would cost a disk flush each on a cold deploy.
BATCH_SOURCES = 200
BATCH_BYTES = 16 * 1024 * 1024
# Artifact sources remembered as stored (a few hundred bytes each); a full memory starts again.
_ARTIFACTS_REMEMBERED = 100_000


@dataclass(frozen=True)
class StoredSource:
    """What the `sources` table says of one unpacked source."""

    key: str
    kind: str
    uuid: str
    version: str | None
    source_commit: str | None


@dataclass(frozen=True)
class Unpacked:
    """A checked source, read from git, ready to be stored."""

    stored: StoredSource
    files: Mapping[str, bytes]


@dataclass(frozen=True)
class SourceCheck:
    """What checking a desired state's sources found."""

    commits: dict[str, str | None]  # by source key: the commit each source was built from
    problems: list[str]  # every problem, the desired state's own first


@dataclass
class _Scan:
    """The sources of one desired state, and what checking them has found so far."""

    commit_sha: str
    targets: dict[str, Target]  # by source key: one target per source
    known: dict[str, StoredSource]  # the sources already stored
    problems: list[str]
    commits: dict[str, str | None] = field(default_factory=dict)

    def result(self) -> SourceCheck:
        """Return what was found."""
        return SourceCheck(commits=self.commits, problems=self.problems)


def _size(source: Unpacked) -> int:
    return sum(len(content) for content in source.files.values())


class SourceStore:
    """Reads sources from git, checks them, and keeps them in the database."""

    def __init__(
        self, sessions: sessionmaker[Session], repo: GitRepository, limits: ArtifactLimits
    ) -> None:
        self._sessions = sessions
        self._repo = repo
        self._limits = limits
        self.unpacked_count = 0  # sources this process stored, for tests and benchmarks
        self._stored_artifacts: dict[str, StoredSource] = {}  # by key: known to be stored

    def check(self, desired: DesiredState) -> SourceCheck:
        """Return each source's commit and every problem; store nothing (a test deploy).

        Sources not stored yet are read from git and checked as a deploy would.
        """
        scan = self._scan(desired)
        for _ in self._missing(scan, lost=None):
            pass  # checked, not kept
        return scan.result()

    def unpack(
        self, desired: DesiredState, log: Callable[[str], None], lost: threading.Event
    ) -> SourceCheck:
        """Return each source's commit and every problem, storing the sources not stored yet.

        New sources are stored in batches, each whole (see `store`), and written to `log`.
        Raises LeaseLost as soon as `lost` is set.
        """
        scan = self._scan(desired)
        batch: list[Unpacked] = []
        batch_bytes = 0
        unpacked = 0
        for source in self._missing(scan, lost):
            batch.append(source)
            batch_bytes += _size(source)
            if len(batch) >= BATCH_SOURCES or batch_bytes >= BATCH_BYTES:
                unpacked += self._store_batch(batch, scan.targets, log)
                batch, batch_bytes = [], 0
        unpacked += self._store_batch(batch, scan.targets, log)
        log(f"unpacked {counted(unpacked, 'source')}, reused {len(scan.known)}")
        return scan.result()

    def _scan(self, desired: DesiredState) -> _Scan:
        targets: dict[str, Target] = {}
        for target in desired.targets:
            targets.setdefault(target.source_key, target)
        return _Scan(desired.commit_sha, targets, self.known(targets), list(desired.problems))

    def _missing(self, scan: _Scan, lost: threading.Event | None) -> Iterator[Unpacked]:
        """Yield every checked source not stored yet; note the others' commits and all problems."""
        for key, target in scan.targets.items():
            stored = scan.known.get(key)
            if stored is not None:
                mismatch = self.mismatch(target, stored)
                if mismatch is not None:
                    scan.problems.append(mismatch)
                scan.commits[key] = stored.source_commit
                continue
            if lost is not None and lost.is_set():
                raise LeaseLost("the deploy lease was taken over by another process")
            try:
                source = self.read(target, scan.commit_sha)
            except MirelError as error:
                scan.problems.append(str(error))
                continue
            scan.commits[key] = source.stored.source_commit
            yield source

    def _store_batch(
        self, batch: list[Unpacked], targets: Mapping[str, Target], log: Callable[[str], None]
    ) -> int:
        """Store a batch, log each source that was new, and return how many were."""
        stored = self.store(batch)
        for source in stored:
            target = targets[source.stored.key]
            log(f"unpacked {target.kind.name} {target.name} {target.label} from {target.path}")
        self.unpacked_count += len(stored)
        return len(stored)

    def known(self, keys: Iterable[str]) -> dict[str, StoredSource]:
        """Return the sources among `keys` that are already unpacked.

        Artifacts found once are remembered: an artifact's source is never removed (only
        working versions nothing serves are), so a deploy that changes one pin asks the
        database about one source, not 2,000.
        """
        found: dict[str, StoredSource] = {}
        asked: set[str] = set()
        for key in keys:
            stored = self._stored_artifacts.get(key)
            if stored is None:
                asked.add(key)
            else:
                found[key] = stored
        if asked:
            self._remember(self._query(asked, found))
        return found

    def _remember(self, sources: Iterable[StoredSource]) -> None:
        for stored in sources:
            if stored.key.startswith("blob:"):
                if len(self._stored_artifacts) >= _ARTIFACTS_REMEMBERED:
                    self._stored_artifacts.clear()
                self._stored_artifacts[stored.key] = stored

    def _query(self, keys: set[str], found: dict[str, StoredSource]) -> list[StoredSource]:
        """Add the stored sources among `keys` to `found`, from the database; return them."""
        new: list[StoredSource] = []
        with self._sessions() as session:
            for batch in chunks(sorted(keys)):
                rows = session.execute(
                    select(
                        Source.key, Source.kind, Source.uuid, Source.version, Source.source_commit
                    ).where(Source.key.in_(batch))
                )
                for key, kind, uuid, version, commit in rows:
                    found[key] = StoredSource(key, kind, uuid, version, commit)
                    new.append(found[key])
        return new

    @staticmethod
    def mismatch(target: Target, stored: StoredSource) -> str | None:
        """Return why a stored source cannot serve `target`, None when it can.

        An artifact's blob id says nothing about where the blob lies: the same zip copied to
        another element's or version's path must be refused there, as reading it would.
        """
        wanted = (target.kind.name, target.uuid, target.release)
        actual = (stored.kind, stored.uuid, stored.version)
        if wanted == actual:
            return None
        fields = ("kind", "uuid", "version")
        field, have, want = next(
            (name, a, w) for name, a, w in zip(fields, actual, wanted, strict=True) if a != w
        )
        what = f"artifact {target.path}: release.json has" if target.is_artifact else target.path
        return (
            f"{what} {field} {have!r}, but the path says {want!r}; "
            "the file was misplaced or renamed"
        )

    def read(self, target: Target, commit_sha: str) -> Unpacked:
        """Return the checked files of a target's source; raise ArtifactInvalid or InvalidInput."""
        if target.is_artifact:
            try:
                data = self._repo.read_blob(target.oid, self._limits.max_artifact_file_bytes)
            except BlobTooLarge as error:
                raise ArtifactInvalid(target.path, error.message) from error
            except LookupError as error:
                # A submodule entry names a commit this repository does not hold.
                raise ArtifactInvalid(target.path, NOT_A_FILE) from error
            artifact = read_artifact(
                data,
                target.path,
                self._limits,
                expect_kind=target.kind.name,
                expect_uuid=target.uuid,
                expect_version=target.release,
            )
            files = dict(artifact.files)
            source_commit: str | None = artifact.info.source_commit
            for path in files:
                if len(path) > MAX_PATH:
                    raise ArtifactInvalid(
                        target.path, f"holds a path of {len(path)} characters, over {MAX_PATH}"
                    )
        else:
            files = self._read_tree(target)
            source_commit = commit_sha
        stored = StoredSource(
            key=target.source_key,
            kind=target.kind.name,
            uuid=target.uuid,
            version=target.release,
            source_commit=source_commit,
        )
        return Unpacked(stored=stored, files=files)

    def _read_tree(self, target: Target) -> dict[str, bytes]:
        """Return the files of a working version, held to the same limits as an artifact and
        to the folder rules `mirel validate` applies, checked before any file is read."""
        entries = list(islice(folder_entries(self._repo, target.oid), self._limits.max_entries + 1))
        problems = folder_problems(target.path, entries, self._limits)
        if problems:
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            raise InvalidInput("; ".join(str(problem) for problem in problems[:3]) + more)
        return {entry.path: self._repo.read_blob(entry.oid) for entry in entries}

    def store(self, batch: Sequence[Unpacked]) -> list[Unpacked]:
        """Insert sources with all their files in one transaction; return those that were new.

        A batch saves a commit (a disk flush) per source on a cold deploy; every source in it is
        still whole or absent. If another process stored one of them meanwhile (the insert fails),
        each source is tried again on its own.
        """
        try:
            self._insert(batch)
        except IntegrityError:
            if len(batch) == 1:
                return []  # already there: the same content, unpacked by someone else
            return [source for one in batch for source in self.store([one])]
        self._remember(source.stored for source in batch)
        return list(batch)

    def _insert(self, batch: Sequence[Unpacked]) -> None:
        if not batch:
            return
        now = datetime.now(UTC)
        sources = [
            {
                "key": source.stored.key,
                "kind": source.stored.kind,
                "uuid": source.stored.uuid,
                "version": source.stored.version,
                "source_commit": source.stored.source_commit,
                "created_at": now,
            }
            for source in batch
        ]
        files = [
            {
                "source_key": source.stored.key,
                "path": path,
                "content": content,
                "sha256": hashlib.sha256(content).hexdigest(),
            }
            for source in batch
            for path, content in sorted(source.files.items())
        ]
        with self._sessions.begin() as session:
            connection = session.connection()
            connection.execute(insert(Source), sources)
            if files:
                connection.execute(insert(SourceFile), files)

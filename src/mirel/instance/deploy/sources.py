"""Unpacked element sources in the database, content-addressed by the git object they come from.

A source is a release artifact (`blob:<oid>`), checked with every limit of SPEC.md §2.1 and against
its repository path, or a working version (`tree:<oid>`), the element's folder at a commit. Either
is unpacked once: a source row and all its file rows are inserted in one transaction, so a source
is in the table completely or not at all, and any deploy that needs the same object later reuses it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mirel.core.artifact import ArtifactLimits, read_artifact
from mirel.db.models import Source, SourceFile
from mirel.errors import ArtifactInvalid, InvalidInput
from mirel.git.repository import GitRepository
from mirel.instance.deploy.planner import Target, chunks

MAX_PATH = 1024  # the length of source_files.path


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


class SourceStore:
    """Reads sources from git, checks them, and keeps them in the database."""

    def __init__(
        self, sessions: sessionmaker[Session], repo: GitRepository, limits: ArtifactLimits
    ) -> None:
        self._sessions = sessions
        self._repo = repo
        self._limits = limits

    def known(self, keys: Iterable[str]) -> dict[str, StoredSource]:
        """Return the sources among `keys` that are already unpacked."""
        found: dict[str, StoredSource] = {}
        with self._sessions() as session:
            for batch in chunks(sorted(set(keys))):
                rows = session.execute(
                    select(
                        Source.key, Source.kind, Source.uuid, Source.version, Source.source_commit
                    ).where(Source.key.in_(batch))
                )
                for key, kind, uuid, version, commit in rows:
                    found[key] = StoredSource(key, kind, uuid, version, commit)
        return found

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
            data = self._repo.read_blob(target.oid)
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
        """Return the files of a working version, held to the same limits as an artifact."""
        files: dict[str, bytes] = {}
        total = 0
        for path, oid in self._repo.walk_files(target.oid):
            if len(files) >= self._limits.max_entries:
                raise InvalidInput(
                    f"{target.path} holds more than {self._limits.max_entries} files; "
                    "an element may hold as many files as a release artifact"
                )
            if len(path) > MAX_PATH:
                raise InvalidInput(
                    f"{target.path}/{path[:80]}... is a path of {len(path)} characters, "
                    f"over {MAX_PATH}"
                )
            content = self._repo.read_blob(oid)
            total += len(content)
            if total > self._limits.max_total_bytes:
                raise InvalidInput(
                    f"{target.path} holds more than {self._limits.max_total_bytes} bytes; "
                    "raise MIREL_MAX_ARTIFACT_BYTES or make the element smaller"
                )
            files[path] = content
        return files

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

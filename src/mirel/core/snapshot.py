"""The read-only view of one commit's files that the core works on.

The core never talks to git: it reads through this protocol, which the git layer implements for a
commit and tests implement with a plain dict (`MemorySnapshot`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from mirel.errors import BlobTooLarge


@dataclass(frozen=True)
class TreeEntry:
    """One entry of a folder: a file (blob) or a folder (tree), with its git object id."""

    name: str
    oid: str
    is_tree: bool


@dataclass(frozen=True)
class FolderEntry:
    """One file below a folder: its path inside it, object id, git mode and size."""

    path: str
    oid: str
    mode: int
    size: int


class Snapshot(Protocol):
    """The files of one commit."""

    @property
    def commit_sha(self) -> str:
        """Return the commit this snapshot shows."""
        ...

    def entry(self, path: str) -> TreeEntry | None:
        """Return the entry at `path`, or None when nothing is there."""
        ...

    def list_dir(self, path: str) -> list[TreeEntry]:
        """Return the entries of the folder at `path` (empty when there is no such folder)."""
        ...

    def read(self, path: str) -> bytes | None:
        """Return the content of the file at `path`, or None when there is no such file."""
        ...

    def read_blob(self, oid: str, limit: int | None = None) -> bytes:
        """Return the content of a file by its object id; with `limit`, raise BlobTooLarge for
        a larger one before reading it."""
        ...

    def folder_files(self, path: str) -> dict[str, bytes]:
        """Return every file below the folder at `path`, keyed by path relative to it."""
        ...

    def folder_entries(self, path: str) -> Iterator[FolderEntry]:
        """Yield every file below the folder at `path` with its mode and size, reading none."""
        ...


class MemorySnapshot:
    """A snapshot over a dict of path -> content, for tests of the core."""

    def __init__(self, files: Mapping[str, bytes], commit_sha: str = "0" * 40) -> None:
        self._files = dict(files)
        self._commit_sha = commit_sha
        self._blobs = {_oid(content): content for content in self._files.values()}

    @property
    def commit_sha(self) -> str:
        return self._commit_sha

    def entry(self, path: str) -> TreeEntry | None:
        if path in self._files:
            return TreeEntry(path.rsplit("/", 1)[-1], _oid(self._files[path]), is_tree=False)
        prefix = path.rstrip("/") + "/"
        below = sorted(p for p in self._files if p.startswith(prefix))
        if not below:
            return None
        digest = _oid("\n".join(f"{p}:{_oid(self._files[p])}" for p in below).encode())
        return TreeEntry(path.rsplit("/", 1)[-1], digest, is_tree=True)

    def list_dir(self, path: str) -> list[TreeEntry]:
        prefix = "" if path in ("", ".") else path.rstrip("/") + "/"
        names = sorted(
            {p[len(prefix) :].split("/", 1)[0] for p in self._files if p.startswith(prefix)}
        )
        entries = [self.entry(prefix + name) for name in names]
        return [entry for entry in entries if entry is not None]

    def read(self, path: str) -> bytes | None:
        return self._files.get(path)

    def read_blob(self, oid: str, limit: int | None = None) -> bytes:
        content = self._blobs[oid]
        if limit is not None and len(content) > limit:
            raise BlobTooLarge(len(content), limit)
        return content

    def folder_files(self, path: str) -> dict[str, bytes]:
        prefix = path.rstrip("/") + "/"
        return {p[len(prefix) :]: c for p, c in self._files.items() if p.startswith(prefix)}

    def folder_entries(self, path: str) -> Iterator[FolderEntry]:
        for relative, content in sorted(self.folder_files(path).items()):
            yield FolderEntry(relative, _oid(content), 0o100644, len(content))


def _oid(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()

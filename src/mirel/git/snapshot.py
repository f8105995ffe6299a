"""The files of one commit, read from git without a working tree (the core's Snapshot)."""

from __future__ import annotations

from collections.abc import Iterator

from pygit2.enums import FileMode

from mirel.core.snapshot import FolderEntry, TreeEntry
from mirel.git.repository import GitRepository


def folder_entries(repo: GitRepository, tree_oid: str) -> Iterator[FolderEntry]:
    """Yield every non-tree entry below a tree with its mode and size, reading no content
    (sizes come from the objects' headers)."""
    for path, oid, mode in repo.walk_entries(tree_oid):
        # A submodule's commit is not in this repository: it has no size here.
        size = 0 if mode == FileMode.COMMIT else repo.blob_size(oid)
        yield FolderEntry(path, oid, mode, size)


class CommitSnapshot:
    """A Snapshot over one commit of a GitRepository.

    With `tree`, it shows that tree in place of the commit's own: a merge not made yet, shown as
    the commit it would follow.
    """

    def __init__(self, repo: GitRepository, commit_sha: str, tree: str | None = None) -> None:
        self._repo = repo
        self._commit_sha = commit_sha
        self._tree = tree if tree is not None else repo.tree_of(commit_sha)

    @property
    def commit_sha(self) -> str:
        return self._commit_sha

    @property
    def tree_oid(self) -> str:
        """Return the root tree of the commit."""
        return self._tree

    def entry(self, path: str) -> TreeEntry | None:
        return self._repo.entry_at(self._tree, path)

    def list_dir(self, path: str) -> list[TreeEntry]:
        found = self.entry(path)
        if found is None or not found.is_tree:
            return []
        return self._repo.list_tree(found.oid)

    def read(self, path: str) -> bytes | None:
        found = self.entry(path)
        if found is None or found.is_tree:
            return None
        return self._repo.read_blob(found.oid)

    def read_blob(self, oid: str, limit: int | None = None) -> bytes:
        return self._repo.read_blob(oid, limit)

    def folder_files(self, path: str) -> dict[str, bytes]:
        found = self.entry(path)
        if found is None or not found.is_tree:
            return {}
        return {
            relative: self._repo.read_blob(oid)
            for relative, oid in self._repo.walk_files(found.oid)
        }

    def folder_entries(self, path: str) -> Iterator[FolderEntry]:
        found = self.entry(path)
        if found is None or not found.is_tree:
            return
        yield from folder_entries(self._repo, found.oid)

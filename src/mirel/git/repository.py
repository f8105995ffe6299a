"""The one module that owns pygit2: mirel's git operations, spoken in mirel's own types.

Everything works on a bare repository without a working tree: trees and blobs are read at any
commit, commits are written by rebuilding only the trees along the changed paths (so a change's
cost follows its depth, not the size of the repository), and every reference update is a
compare-and-swap, so concurrent writers in several processes never lose an update.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pygit2
from pygit2.enums import FileMode

from mirel.core.snapshot import TreeEntry
from mirel.errors import (
    BlobTooLarge,
    BranchExists,
    BranchNotFound,
    InvalidInput,
    RefRaced,
    RepositoryNotFound,
    RepositoryUnreachable,
)
from mirel.git.trees import TreeReader
from mirel.git.values import Author as Author
from mirel.git.values import ChangedPath as ChangedPath
from mirel.git.values import CommitInfo as CommitInfo
from mirel.git.values import retry_on_race as retry_on_race

HEADS = "refs/heads/"


# pygit2 raises OSError, not GitError, when another process holds a ref's lock file.
_REF_ERRORS = (pygit2.GitError, OSError)


def _is_lock_error(error: Exception) -> bool:
    text = str(error).lower()
    return "lock" in text or "old reference value does not match" in text or "exists" in text


class GitRepository:
    """A bare git repository, read and written through libgit2."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).resolve()
        try:
            self._repo = pygit2.Repository(str(self.path))
            self._trees = TreeReader(self._repo)
        except (pygit2.GitError, KeyError, OSError) as error:
            if not self.path.exists():
                raise RepositoryNotFound(
                    f"no repository at {self.path}; create one there or name another",
                    cli_hint=f"'mirel init {path}' creates one; --repo names another",
                ) from error
            raise RepositoryUnreachable(
                f"{self.path} is not a git repository that mirel can open: {error}"
            ) from error

    @classmethod
    def init_bare(cls, path: str | Path, default_branch: str) -> GitRepository:
        """Return a new, empty bare repository whose HEAD names `default_branch`."""
        target = Path(path)
        if target.exists() and any(target.iterdir()):
            raise InvalidInput(f"{target} exists and is not empty; choose a new path")
        pygit2.init_repository(str(target), bare=True, initial_head=default_branch)
        return cls(target)

    @property
    def location(self) -> str:
        """Return where the repository is, as people name it (a mirror names its remote)."""
        return str(self.path)

    def refresh(self) -> None:
        """Bring what this repository reads up to date; a local repository always is (a mirror
        fetches from its remote)."""

    # -- references --------------------------------------------------------------------------

    @property
    def default_branch(self) -> str:
        """Return the branch HEAD names (the default branch), without `refs/heads/`."""
        try:
            target = self._repo.references["HEAD"].target
        except (KeyError, pygit2.GitError, OSError) as error:
            raise self._unreachable(error) from error
        name = target if isinstance(target, str) else "main"
        return name.removeprefix(HEADS)

    def _unreachable(self, error: Exception) -> RepositoryUnreachable:
        # A repository removed or damaged under a running process: say so instead of crashing.
        return RepositoryUnreachable(
            f"the repository at {self.path} cannot be read ({error}); check that it exists"
        )

    def ref_sha(self, ref: str) -> str | None:
        """Return the commit a full reference name points to, or None when it does not exist."""
        if not self.git_dir.is_dir():
            raise self._unreachable(FileNotFoundError(str(self.git_dir)))
        found = self._repo.references.get(ref)
        if found is None:
            return None
        return str(found.resolve().target)

    def branch_sha(self, branch: str) -> str | None:
        """Return the tip commit of a branch, or None when there is no such branch."""
        return self.ref_sha(HEADS + branch)

    def require_branch(self, branch: str) -> str:
        """Return the tip commit of a branch, or raise BranchNotFound."""
        sha = self.branch_sha(branch)
        if sha is None:
            raise BranchNotFound(f"there is no branch {branch!r} in {self.path}")
        return sha

    def refs_under(self, prefix: str) -> dict[str, str]:
        """Return every reference whose full name starts with `prefix`, mapped to its target."""
        found: dict[str, str] = {}
        for name in sorted(self._ref_names_under(prefix)):
            sha = self.ref_sha(name)
            if sha is not None:
                found[name] = sha
        return found

    def _ref_names_under(self, prefix: str) -> set[str]:
        # libgit2 offers no prefix listing, and listing every ref would make work on one element
        # grow with the whole repository (two refs per pull request). Refs are loose files below
        # the git folder, plus the lines of packed-refs after a `git gc`: read only the folder of
        # the prefix and the packed file.
        names: set[str] = set()
        folder_name, _, _ = prefix.rpartition("/")
        folder = self.git_dir / folder_name
        if folder.is_dir():
            for path in folder.rglob("*"):
                name = path.relative_to(self.git_dir).as_posix()
                if path.is_file() and name.startswith(prefix) and not name.endswith(".lock"):
                    names.add(name)
        packed = self.git_dir / "packed-refs"
        if packed.exists():
            for line in packed.read_text(encoding="utf-8", errors="replace").splitlines():
                sha, _, name = line.partition(" ")
                if sha and sha[0] not in "#^" and name.startswith(prefix):
                    names.add(name)
        return names

    def branches_under(self, prefix: str) -> dict[str, str]:
        """Return every branch whose name starts with `prefix`, mapped to its tip commit."""
        return {
            name.removeprefix(HEADS): sha for name, sha in self.refs_under(HEADS + prefix).items()
        }

    def create_ref(self, ref: str, sha: str) -> None:
        """Create a reference that must not exist yet; raise RefRaced when it does."""
        self.create_refs({ref: sha})

    def create_refs(self, refs: Mapping[str, str]) -> None:
        """Create references that must not exist yet, all or none, in one transaction; raise
        RefRaced naming one that exists (or is locked by another writer)."""
        # libgit2's create(force=False) looks for the ref before taking its lock, so two writers
        # could both "create" it and the second silently overwrite the first. Lock, then look.
        ref = ""
        try:
            with self._repo.transaction() as transaction:
                for ref in refs:
                    transaction.lock_ref(ref)
                    if self._repo.references.get(ref) is not None:
                        raise RefRaced(ref)
                for ref, sha in refs.items():
                    transaction.set_target(ref, sha)
        except _REF_ERRORS as error:
            if _is_lock_error(error):
                raise RefRaced(ref) from error
            if isinstance(error, pygit2.GitError) and "directory" in str(error).lower():
                # `a` and `a/b` cannot both exist: git keeps refs as files in folders.
                raise InvalidInput(
                    f"{ref.removeprefix(HEADS)!r} clashes with an existing branch that is a "
                    "prefix or an extension of it; choose another name"
                ) from error
            raise

    @staticmethod
    def check_branch_name(branch: str) -> None:
        """Raise InvalidInput unless git accepts `branch` as the name of a new branch."""
        # git itself refuses branches named HEAD or starting with '-' (they read as options).
        if (
            not pygit2.reference_is_valid_name(HEADS + branch)
            or branch.startswith("-")
            or branch == "HEAD"
        ):
            raise InvalidInput(f"{branch!r} is not a valid branch name")

    def create_branch(self, branch: str, sha: str) -> None:
        """Create a new branch at `sha`; raise BranchExists when the name is taken."""
        self.check_branch_name(branch)
        try:
            self.create_ref(HEADS + branch, sha)
        except RefRaced as error:
            if self.branch_sha(branch) is not None:
                raise BranchExists(
                    f"branch {branch!r} already exists; merge or close its pull request first, "
                    "or choose another branch name"
                ) from error
            raise

    def update_ref(self, ref: str, new_sha: str, expected_sha: str) -> None:
        """Move `ref` from `expected_sha` to `new_sha`; raise RefRaced if it is elsewhere now."""
        try:
            reference = self._repo.references[ref]
        except KeyError as error:
            raise RefRaced(ref) from error
        if str(reference.target) != expected_sha:
            raise RefRaced(ref)
        try:
            # libgit2 re-reads the ref under its lock and refuses if it no longer holds the
            # value loaded above: this is the compare-and-swap.
            reference.set_target(new_sha)
        except _REF_ERRORS as error:
            if _is_lock_error(error):
                raise RefRaced(ref) from error
            raise

    def delete_ref(self, ref: str, expected_sha: str | None = None) -> bool:
        """Delete `ref` if it still points to `expected_sha` (any value when None).

        Returns whether a reference was deleted. A ref that moved meanwhile is left alone.
        """
        for _ in range(50):
            reference = self._repo.references.get(ref)
            if reference is None:
                return False
            if expected_sha is not None and str(reference.target) != expected_sha:
                return False
            try:
                reference.delete()
                return True
            except _REF_ERRORS as error:
                if not _is_lock_error(error):
                    if self._repo.references.get(ref) is None:
                        return False  # another writer deleted it first
                    raise
                time.sleep(random.uniform(0.001, 0.01))
        return False

    def delete_ref_unguarded_by(self, ref: str, expected_sha: str, guard: str) -> bool:
        """Delete `ref` if it still points to `expected_sha` and reference `guard` neither exists
        nor is being written; return whether it was deleted.

        Both are locked in one transaction and `guard` is read under its lock: a writer whose own
        transaction creates `ref` with `guard` is either done (the guard is seen), or holds the
        guard's lock (this refuses), or has not begun (then `ref` is not there to delete).
        Readers can see one reference of another transaction before the next one, so looking
        without the lock could take a writer's claim in flight for an abandoned one.
        """
        try:
            with self._repo.transaction() as transaction:
                transaction.lock_ref(guard)
                transaction.lock_ref(ref)
                current = self._repo.references.get(ref)
                if self._repo.references.get(guard) is not None or current is None:
                    return False
                if str(current.target) != expected_sha:
                    return False
                transaction.remove(ref)
        except _REF_ERRORS as error:
            if _is_lock_error(error):
                return False  # someone is writing it now: not abandoned
            raise
        return True

    # -- reading -----------------------------------------------------------------------------

    def commit(self, sha: str) -> CommitInfo:
        """Return what mirel shows of one commit."""
        commit = self._commit(sha)
        return CommitInfo(
            sha=str(commit.id),
            message=commit.message,
            author_name=commit.author.name,
            author_email=commit.author.email,
            time=commit.author.time,
            parents=tuple(str(parent) for parent in commit.parent_ids),
        )

    def resolve(self, revision: str) -> str:
        """Return the commit a branch name, full ref or sha names; raise BranchNotFound."""
        for candidate in (HEADS + revision, revision):
            sha = self.ref_sha(candidate) if candidate.startswith("refs/") else None
            if sha is not None:
                return sha
        try:
            obj = self._repo.revparse_single(revision)
            commit = obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError) as error:
            raise BranchNotFound(
                f"{revision!r} names no branch or commit in {self.path}"
            ) from error
        return str(commit.id)

    def tree_of(self, commit_sha: str) -> str:
        """Return the root tree of a commit."""
        return str(self._commit(commit_sha).tree_id)

    def entry_at(self, tree_oid: str, path: str) -> TreeEntry | None:
        """Return the entry at `path` below a tree, or None when nothing is there."""
        return self._trees.entry_at(tree_oid, path)

    def list_tree(self, tree_oid: str) -> list[TreeEntry]:
        """Return the entries of one tree, in git's order."""
        return self._trees.list_tree(tree_oid)

    def blob_size(self, oid: str) -> int:
        """Return the size of an object from its header, without reading its content."""
        _, size = self._repo.odb.read_header(oid)
        return int(size)

    def read_blob(self, oid: str, limit: int | None = None) -> bytes:
        """Return the content of a blob; with `limit`, raise BlobTooLarge for a larger one
        before reading it (the size comes from the object's header)."""
        if limit is not None:
            size = self.blob_size(oid)
            if size > limit:
                raise BlobTooLarge(size, limit)
        blob = self._repo.get(oid)
        if not isinstance(blob, pygit2.Blob):
            raise InvalidInput(f"object {oid} is not a file")
        return bytes(blob.data)

    def walk_files(self, tree_oid: str, prefix: str = "") -> Iterator[tuple[str, str]]:
        """Yield `(path, blob oid)` for every file below a tree, paths relative to it."""
        for path, oid, _ in self.walk_entries(tree_oid, prefix):
            yield path, oid

    def walk_entries(self, tree_oid: str, prefix: str = "") -> Iterator[tuple[str, str, int]]:
        """Yield `(path, oid, git file mode)` for everything below a tree that is not a tree:
        files, and the symbolic links and submodules a pushed tree may hold.

        Iterative, so that a tree nested a thousand folders deep costs no recursion.
        """
        # A stack of (entries left, their folder's path): git's order, depth first.
        root: Any = self._repo.get(tree_oid)
        stack: list[tuple[Iterator[Any], str]] = [(iter(root), prefix)]
        while stack:
            entries, base = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                continue
            path = f"{base}{entry.name or ''}"
            if entry.type_str == "tree":
                folder: Any = self._repo.get(entry.id)
                stack.append((iter(folder), path + "/"))
            else:
                yield path, str(entry.id), int(entry.filemode)

    # -- writing -----------------------------------------------------------------------------

    def write_blob(self, content: bytes) -> str:
        """Store a blob and return its id."""
        return str(self._repo.create_blob(content))

    def write_tree_changes(self, tree_oid: str | None, changes: Mapping[str, bytes | None]) -> str:
        """Return the tree that is `tree_oid` with files written (bytes) or removed (None).

        Only the trees along the changed paths are rebuilt.
        """
        blob_changes: dict[str, str | None] = {}
        for path, content in changes.items():
            check_repo_path(path)
            blob_changes[path] = None if content is None else self.write_blob(content)
        new_tree = self._rebuild(tree_oid, blob_changes)
        if new_tree is None:
            return str(self._repo.TreeBuilder().write())
        return new_tree

    def _rebuild(self, tree_oid: str | None, changes: Mapping[str, str | None]) -> str | None:
        builder = self._repo.TreeBuilder(tree_oid) if tree_oid else self._repo.TreeBuilder()
        nested: dict[str, dict[str, str | None]] = {}
        for path, blob in changes.items():
            head, _, rest = path.partition("/")
            if rest:
                nested.setdefault(head, {})[rest] = blob
                continue
            existing = builder.get(head)
            if existing is not None and existing.type_str == "tree":
                raise InvalidInput(f"cannot write file {head!r}: a folder of that name exists")
            if blob is None:
                if existing is not None:
                    builder.remove(head)
            else:
                _insert(builder, head, blob, FileMode.BLOB)
        for head, sub_changes in nested.items():
            existing = builder.get(head)
            if existing is not None and existing.type_str != "tree":
                raise InvalidInput(f"cannot write below {head!r}: it is a file, not a folder")
            sub_tree = self._rebuild(str(existing.id) if existing else None, sub_changes)
            if sub_tree is None:
                if existing is not None:
                    builder.remove(head)
            else:
                _insert(builder, head, sub_tree, FileMode.TREE)
        if len(builder) == 0:
            return None
        return str(builder.write())

    def write_commit(
        self,
        *,
        tree_oid: str,
        parents: list[str],
        message: str,
        author: Author,
        when: int | None = None,
    ) -> str:
        """Store a commit (no reference moves) and return its sha."""
        moment = int(time.time()) if when is None else when
        signature = pygit2.Signature(author.name, author.email, moment, 0)
        sha = self._repo.create_commit(None, signature, signature, message, tree_oid, parents)
        return str(sha)

    # -- history and merges ------------------------------------------------------------------

    def merge_base(self, first: str, second: str) -> str | None:
        """Return the best common ancestor of two commits, or None when they share none."""
        base = self._repo.merge_base(first, second)
        return str(base) if base is not None else None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Return whether `ancestor` is reachable from `descendant` (or equal to it)."""
        return ancestor == descendant or bool(self._repo.descendant_of(descendant, ancestor))

    def merge_trees(self, ours: str, theirs: str) -> tuple[str | None, list[str]]:
        """Return the tree of a three-way merge of two commits and the conflicting paths.

        The tree is None when there are conflicts; nothing is written in that case.
        """
        base = self.merge_base(ours, theirs)
        if base == ours:
            # Nothing happened on our side since the branch was made: the result is theirs.
            return self.tree_of(theirs), []
        index = self._repo.merge_commits(ours, theirs)
        if index.conflicts is not None:
            paths: set[str] = set()
            for ancestor, our, their in index.conflicts:
                for side in (ancestor, our, their):
                    if side is not None:
                        paths.add(side.path)
            return None, sorted(paths)
        return str(index.write_tree(self._repo)), []

    def _diff(self, old_tree: str | None, new_tree: str | None) -> Any:
        empty = str(self._repo.TreeBuilder().write())
        old: Any = self._repo.get(old_tree or empty)
        new: Any = self._repo.get(new_tree or empty)
        return self._repo.diff(old, new, context_lines=3)

    def diff_trees(self, old_tree: str | None, new_tree: str | None) -> list[ChangedPath]:
        """Return every file that differs between two trees (None is the empty tree)."""
        return [_changed_path(delta) for delta in self._diff(old_tree, new_tree).deltas]

    def patches(self, old_tree: str | None, new_tree: str | None) -> list[tuple[ChangedPath, str]]:
        """Return every changed file between two trees with its unified diff text."""
        found: list[tuple[ChangedPath, str]] = []
        patch: Any
        for patch in self._diff(old_tree, new_tree):
            delta = patch.delta
            text = "binary file differs\n" if delta.is_binary else (patch.text or "")
            found.append((_changed_path(delta), text))
        return found

    def history(self, start_sha: str, path: str | None = None, limit: int = 50) -> list[CommitInfo]:
        """Return up to `limit` commits from `start_sha` back, first-parent, that changed `path`."""
        return self.history_page(start_sha, [path] if path else [], limit)[0]

    def history_page(
        self,
        start_sha: str,
        paths: Sequence[str],
        limit: int = 50,
        scan: int | None = None,
    ) -> tuple[list[CommitInfo], str | None]:
        """Return up to `limit` first-parent commits from `start_sha` back that changed any of
        `paths` (every commit when empty), and where to go on from (None: the history's start).

        `scan` bounds how many commits are looked at, so that a page of one element's history
        costs the same however long the repository's history is.
        """
        found: list[CommitInfo] = []
        commit: Any = self._commit(start_sha)
        looked = 0
        while commit is not None and len(found) < limit:
            if scan is not None and looked >= scan:
                break
            looked += 1
            parent = commit.parents[0] if commit.parents else None
            if not paths or any(
                self._path_oid(commit, path)
                != (self._path_oid(parent, path) if parent is not None else None)
                for path in paths
            ):
                found.append(self.commit(str(commit.id)))
            commit = parent
        return found, (str(commit.id) if commit is not None else None)

    def _path_oid(self, commit: Any, path: str) -> str | None:
        entry = self.entry_at(str(commit.tree_id), path)
        return entry.oid if entry else None

    def _commit(self, sha: str) -> Any:
        try:
            obj = self._repo.get(sha)
        except (ValueError, TypeError) as error:
            raise BranchNotFound(f"{sha!r} is not a commit in {self.path}") from error
        if not isinstance(obj, pygit2.Commit):
            raise BranchNotFound(f"{sha!r} is not a commit in {self.path}")
        return obj

    # -- identity ----------------------------------------------------------------------------

    def configured_author(self) -> Author | None:
        """Return the author from git's configuration (user.name and user.email), if set."""
        try:
            signature = self._repo.default_signature
        except (KeyError, pygit2.GitError):
            return None
        return Author(signature.name, signature.email)

    @property
    def git_dir(self) -> Path:
        """Return the folder of the bare repository."""
        return Path(os.fspath(self._repo.path)).resolve()


def global_author() -> Author | None:
    """Return the author of the user's global git configuration (user.name and user.email), if
    both are set: who creates a repository before it has a configuration of its own."""
    try:
        config = pygit2.Config.get_global_config()
        return Author(str(config["user.name"]), str(config["user.email"]))
    except (KeyError, OSError, pygit2.GitError):
        return None


def _changed_path(delta: Any) -> ChangedPath:
    """Return mirel's view of one libgit2 diff delta."""
    zero = "0" * 40
    old_oid, new_oid = str(delta.old_file.id), str(delta.new_file.id)
    return ChangedPath(
        status={"A": "added", "D": "removed"}.get(delta.status_char(), "changed"),
        path=delta.new_file.path or delta.old_file.path,
        old_oid=None if old_oid == zero else old_oid,
        new_oid=None if new_oid == zero else new_oid,
    )


def _insert(builder: Any, name: str, oid: str, mode: int) -> None:
    try:
        builder.insert(name, oid, mode)
    except pygit2.GitError as error:
        # libgit2 refuses more than `.git` itself (`.GIT`, `GIT~1`, `.git `): say so plainly.
        raise InvalidInput(f"{name!r} is not a file or folder name git accepts") from error


def check_repo_path(path: str) -> None:
    """Raise InvalidInput unless `path` is a safe relative path inside the repository."""
    parts = path.split("/")
    if not path or path.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise InvalidInput(f"{path!r} is not a safe relative path inside the repository")
    if "\\" in path or "\0" in path or parts[0] == ".git" or ".git" in parts:
        raise InvalidInput(f"{path!r} is not a safe relative path inside the repository")

"""Pull requests: listing, reading, merging and closing them, wherever the provider keeps them.

Every face merges through here rather than through the provider, so that the merge gate holds
whoever asks: the default branch only ever moves to a merge commit that brings it no problem
(`Catalog.change_problems`: every rule of `mirel validate`, and that releases move forward). The
gate runs on the very merge commit about to land, inside the provider's compare-and-swap, so a
change merged meanwhile by someone else is taken into account.
"""

from __future__ import annotations

import builtins

from mirel.errors import MergeRefused, Problem
from mirel.git.repository import Author, GitRepository
from mirel.git.snapshot import CommitSnapshot
from mirel.hub.catalog import Catalog
from mirel.providers.base import (
    RECORDS_AUTHOR,
    FileDiff,
    Provider,
    PullRequest,
    PullState,
)


class PullRequests:
    """The pull requests of one repository."""

    def __init__(self, provider: Provider, catalog: Catalog) -> None:
        self._provider = provider
        self._catalog = catalog

    @property
    def _repo(self) -> GitRepository:
        return self._catalog.repo

    def list(
        self,
        state: PullState | None = None,
        limit: int | None = None,
        *,
        before: int | None = None,
        conflicts: bool = True,
    ) -> builtins.list[PullRequest]:
        """Return at most `limit` pull requests, newest first, optionally of one state, below
        number `before`; `conflicts` says whether to test-merge the open ones."""
        return self._provider.list_pulls(state, limit, before=before, conflicts=conflicts)

    def get(self, number: int) -> PullRequest:
        """Return one pull request with its current state."""
        return self._provider.get(number)

    def diff(self, number: int) -> builtins.list[FileDiff]:
        """Return the files a pull request changes, with their diffs."""
        return self._provider.diff(number)

    def open_for_branch(self, branch: str) -> PullRequest | None:
        """Return the open pull request whose head is `branch`, if any."""
        return self._provider.open_pull_for_branch(branch)

    def candidate(self, pull: PullRequest) -> CommitSnapshot | None:
        """Return the default branch as it would be with an open pull request merged now (its
        tip with the merge's tree), or None when it conflicts; nothing is written but objects."""
        base = self._repo.require_branch(pull.base_branch)
        if self._repo.is_ancestor(pull.head_sha, base):
            return CommitSnapshot(self._repo, base)
        tree, conflicts = self._repo.merge_trees(base, pull.head_sha)
        if tree is None or conflicts:
            return None
        return CommitSnapshot(self._repo, base, tree)

    def candidate_commit(self, pull: PullRequest) -> str | None:
        """Return a commit of the default branch with an open pull request merged now (its
        tip when that holds the pull request already), written but referenced by nothing, for
        a test deploy to read; None when it conflicts."""
        merged = self.candidate(pull)
        if merged is None:
            return None
        if merged.tree_oid == self._repo.tree_of(merged.commit_sha):
            return merged.commit_sha
        return self._repo.write_commit(
            tree_oid=merged.tree_oid,
            parents=[merged.commit_sha, pull.head_sha],
            message=f"Test merge of pull request #{pull.number} (never referenced)\n",
            author=RECORDS_AUTHOR,
        )

    def problems(self, pull: PullRequest) -> builtins.list[Problem]:
        """Return what merging an open pull request now would bring to the default branch that
        the merge gate refuses (none for one that is not open, or conflicts)."""
        if pull.state not in (PullState.OPEN, PullState.CONFLICTING):
            return []
        base = self._repo.require_branch(pull.base_branch)
        if self._repo.is_ancestor(pull.head_sha, base):
            return []  # merged already: a merge moves nothing
        merged = self.candidate(pull)
        if merged is None:
            return []  # conflicts: shown as such
        return self._change_problems(base, merged, pull.head_sha)

    def _change_problems(
        self, base_sha: str, merged: CommitSnapshot, head: str
    ) -> builtins.list[Problem]:
        """Return what the merge `merged` of `head` into `base_sha` would bring that the gate
        refuses; its releases must move forward from where `head` left the default branch."""
        since = self._repo.merge_base(base_sha, head) or base_sha
        snapshot = self._catalog.snapshot
        return self._catalog.change_problems(snapshot(base_sha), merged, snapshot(since))

    def merge(self, number: int, author: Author, expected_head: str | None = None) -> PullRequest:
        """Merge a pull request into the default branch and return it; with `expected_head`,
        only if its branch still holds the commit the person merging saw. Raise MergeRefused
        listing every problem the merge would bring; then nothing changes."""

        def gate(base_sha: str, merge_sha: str) -> None:
            head = self._repo.commit(merge_sha).parents[-1]
            problems = self._change_problems(base_sha, self._catalog.snapshot(merge_sha), head)
            if problems:
                raise MergeRefused(number, problems)

        return self._provider.merge(number, author, expected_head, check=gate)

    def close(self, number: int, author: Author) -> PullRequest:
        """Close a pull request without merging and return it."""
        return self._provider.close(number, author)

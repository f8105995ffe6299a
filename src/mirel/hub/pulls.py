"""Pull requests: listing, reading, merging and closing them, wherever the provider keeps them.

Every face merges through here rather than through the provider, so that a check every merge must
pass before the default branch moves has one place to live, whoever asks.
"""

from __future__ import annotations

import builtins

from mirel.git.repository import Author
from mirel.providers.base import FileDiff, Provider, PullRequest, PullState


class PullRequests:
    """The pull requests of one repository."""

    def __init__(self, provider: Provider) -> None:
        self._provider = provider

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

    def merge(self, number: int, author: Author, expected_head: str | None = None) -> PullRequest:
        """Merge a pull request into the default branch and return it; with `expected_head`,
        only if its branch still holds the commit the person merging saw."""
        return self._provider.merge(number, author, expected_head)

    def close(self, number: int, author: Author) -> PullRequest:
        """Close a pull request without merging and return it."""
        return self._provider.close(number, author)

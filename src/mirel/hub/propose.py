"""The one way a change reaches the repository: a commit on a branch, and its pull request.

Every write of the hub ends here. `propose` commits on a new branch from a base commit and opens
the branch's pull request; `commit` adds a commit on top of an existing branch (a hotfix, or a
branch a person works on). Commits are written before any reference moves, and a new branch is
made in one step with its pull request, so a failure (or a kill) at any point leaves nothing half
done; what an older or hosted writer left is released by `Leftovers`.
"""

from __future__ import annotations

from collections.abc import Mapping

from mirel.core.rules import check_new_branch_name
from mirel.errors import BranchExists, InvalidInput, NothingToChange
from mirel.git.repository import HEADS, Author, GitRepository, retry_on_race
from mirel.hub.leftovers import Leftovers
from mirel.hub.values import ChangeRequest
from mirel.providers.base import Provider, PullRequest

Changes = Mapping[str, bytes | None]  # repository path -> new content, or None to remove


class BranchWriter:
    """Commits changes on branches of one repository and opens their pull requests."""

    def __init__(self, repository: GitRepository, provider: Provider) -> None:
        self.repo = repository
        self.provider = provider
        self.leftovers = Leftovers(repository, provider)

    def propose(
        self,
        *,
        branch: str,
        base_sha: str,
        changes: Changes,
        message: str,
        author: Author,
        description: str = "",
        cleanup_branches: Mapping[str, str] | None = None,
    ) -> ChangeRequest:
        """Commit `changes` on a new branch from `base_sha` and open its pull request.

        `cleanup_branches` are removed when the pull request merges (a hotfix branch), each only
        while it still holds the commit given. Raises NothingToChange when the changes are on
        `base_sha` already and BranchExists when the branch is taken.
        """
        commit = self._commit_for(base_sha, changes, message, author)

        def open_pull() -> PullRequest:
            # The branch is made with its pull request, in one step: no crash leaves a claim.
            return self.provider.create_pull_request(
                head_branch=branch,
                title=message.split("\n", 1)[0],
                description=description or message,
                author=author,
                cleanup_branches=cleanup_branches,
                head_sha=commit,
            )

        try:
            pull = open_pull()
        except BranchExists:
            if not self.leftovers.release(branch):
                raise
            pull = open_pull()
        return ChangeRequest(commit, self.provider.branch_url(branch), branch, pull)

    def start_branch(
        self, *, branch: str, base_sha: str, changes: Changes, message: str, author: Author
    ) -> ChangeRequest:
        """Make a branch without a pull request (a hotfix): at `base_sha` with `changes`
        committed, or at `base_sha` itself when it holds them already."""
        try:
            commit = self._commit_for(base_sha, changes, message, author)
        except NothingToChange:
            commit = base_sha
        retry_on_race(lambda: self.repo.create_branch(branch, commit), what=f"creating {branch}")
        return ChangeRequest(commit, self.provider.branch_url(branch), branch, None)

    def _commit_for(self, base_sha: str, changes: Changes, message: str, author: Author) -> str:
        """Return a new commit of `changes` on `base_sha` (no reference moves)."""
        base_tree = self.repo.tree_of(base_sha)
        tree = self.repo.write_tree_changes(base_tree, changes)
        if tree == base_tree:
            raise NothingToChange("that change is already on the default branch; nothing to do")
        return self.repo.write_commit(
            tree_oid=tree, parents=[base_sha], message=message, author=author
        )

    def commit(
        self,
        branch: str,
        changes: Changes,
        message: str,
        author: Author,
        base: str | None = None,
    ) -> ChangeRequest:
        """Commit file changes on top of a branch; a new branch starts at `base` (default: the
        default branch's tip) and gets its pull request."""
        default = self.repo.default_branch
        if branch == default:
            # Nothing writes to the default branch directly: every change is a pull request.
            raise InvalidInput(
                f"{branch!r} is the default branch, which only changes by merging pull requests; "
                "name another branch, or leave the branch out to get a new one"
            )
        # A branch whose pull request merged or closed, left by an interrupted command, is
        # finished first: the commit then starts a new branch with its own pull request.
        self.provider.open_pull_for_branch(branch)
        if self.repo.branch_sha(branch) is None:
            check_new_branch_name(branch, default)
            base_sha = self.repo.resolve(base) if base else self.repo.require_branch(default)
            return self.propose(
                branch=branch, base_sha=base_sha, changes=changes, message=message, author=author
            )
        commit = retry_on_race(
            lambda: self._commit_on_tip(branch, changes, message, author),
            what=f"committing to {branch}",
        )
        pull = self.provider.open_pull_for_branch(branch)
        return ChangeRequest(commit, self.provider.branch_url(branch), branch, pull)

    def _commit_on_tip(self, branch: str, changes: Changes, message: str, author: Author) -> str:
        """Return a commit of `changes` on the branch's tip, published with a compare-and-swap."""
        current = self.repo.require_branch(branch)
        tree = self.repo.tree_of(current)
        new_tree = self.repo.write_tree_changes(tree, changes)
        if new_tree == tree:
            raise NothingToChange(f"branch {branch!r} already holds that content")
        commit = self.repo.write_commit(
            tree_oid=new_tree, parents=[current], message=message, author=author
        )
        self.repo.update_ref(HEADS + branch, commit, current)
        return commit

"""The `local` provider: a bare repository that keeps its own pull requests.

Pull requests live in the repository itself (`pull_records`), so every process that opens the
repository sees the same pull requests with no other server; so do the instances' reports
(`reports`) and the deploy hooks (`hooks`).

Merging is a real three-way merge into the default branch, published with a compare-and-swap on
the branch (retried when another merge got there first). It then deletes the head branch and calls
the deploy hooks registered on the repository (best effort: instances also poll).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import replace
from urllib.parse import quote

import httpx

from mirel.errors import (
    MergeConflict,
    PullRequestChanged,
    PullRequestNotOpen,
    RefRaced,
)
from mirel.git.repository import HEADS, Author, GitRepository, retry_on_race
from mirel.providers.base import FileDiff, InstanceReport, MergeCheck, PullRequest, PullState
from mirel.providers.hooks import DeployHooks
from mirel.providers.pull_records import PullRecord, PullRecords, now
from mirel.providers.reports import InstanceReports

_OPEN = str(PullState.OPEN)


class LocalProvider:
    """Pull requests stored inside the bare repository itself."""

    name = "local"

    def __init__(
        self,
        repository: GitRepository,
        web_url: str | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.repository = repository
        self.hooks = DeployHooks(repository.git_dir, http)
        self.records = PullRecords(repository)
        self.reports = InstanceReports(repository)
        # When a server shows this repository, links point to its pages instead of file URLs.
        self._web_url = web_url.rstrip("/") if web_url else None

    # -- urls --------------------------------------------------------------------------------

    def branch_url(self, branch: str) -> str:
        """Return where a person can see a branch."""
        if self._web_url:
            return f"{self._web_url}/branches/{quote(branch, safe='/')}"
        return f"file://{self.repository.path}#branch={branch}"

    def pull_url(self, number: int) -> str:
        """Return where a person can see a pull request."""
        if self._web_url:
            return f"{self._web_url}/pulls/{number}"
        return f"file://{self.repository.path}#pull={number}"

    # -- records as pull requests --------------------------------------------------------------

    def _to_pull(self, record: PullRecord, *, with_conflicts: bool) -> PullRequest:
        state = PullState(record.state)
        head_sha = record.head_sha
        conflicts: tuple[str, ...] = ()
        if state is PullState.OPEN:
            head_sha = self.repository.branch_sha(record.head_branch) or head_sha
            if with_conflicts:
                conflicts = tuple(self._conflicts(record.base_branch, head_sha))
                if conflicts:
                    state = PullState.CONFLICTING
        return PullRequest(
            number=record.number,
            title=record.title,
            description=record.description,
            author=record.author,
            head_branch=record.head_branch,
            base_branch=record.base_branch,
            state=state,
            created_at=record.created_at,
            updated_at=record.updated_at,
            head_sha=head_sha,
            base_sha=record.base_sha,
            url=self.pull_url(record.number),
            merge_commit_sha=record.merge_commit_sha,
            merged_by=record.merged_by,
            closed_by=record.closed_by,
            cleanup_branches=record.cleanup_branches,
            conflicts=conflicts,
        )

    def _conflicts(self, base_branch: str, head_sha: str) -> list[str]:
        base_sha = self.repository.branch_sha(base_branch)
        if base_sha is None or self.repository.is_ancestor(head_sha, base_sha):
            return []
        _, conflicts = self.repository.merge_trees(base_sha, head_sha)
        return conflicts

    # -- the Provider calls ------------------------------------------------------------------

    def create_pull_request(
        self,
        *,
        head_branch: str,
        title: str,
        description: str,
        author: Author,
        cleanup_branches: Mapping[str, str] | None = None,
    ) -> PullRequest:
        """Open a pull request of `head_branch` into the default branch and return it.

        `cleanup_branches` maps branches to remove when it merges to the commit each must still
        contain: a hotfix branch closed and started again meanwhile is a new line of work and stays.
        """
        head_sha = self.repository.require_branch(head_branch)
        base_branch = self.repository.default_branch
        base_sha = self.repository.require_branch(base_branch)
        created = now()
        record = self.records.create(
            lambda number: PullRecord(
                number=number,
                title=title,
                description=description,
                author=str(author),
                head_branch=head_branch,
                base_branch=base_branch,
                state=_OPEN,
                created_at=created,
                updated_at=created,
                head_sha=head_sha,
                base_sha=base_sha,
                cleanup_branches=tuple(sorted(cleanup_branches or {})),
                cleanup_from=dict(cleanup_branches or {}),
            )
        )
        return self._to_pull(record, with_conflicts=False)

    def get(self, number: int) -> PullRequest:
        """Return one pull request with its current state (conflicts checked when open)."""
        record, _ = self.records.read(number)
        return self._to_pull(record, with_conflicts=True)

    def list_pulls(
        self,
        state: PullState | None = None,
        limit: int | None = None,
        *,
        before: int | None = None,
        conflicts: bool = True,
    ) -> list[PullRequest]:
        """Return at most `limit` pull requests, newest first, optionally of one state.

        `before` starts below that number (the next page); without `conflicts`, open pull
        requests are not test-merged, which costs a merge each.
        """
        pulls: list[PullRequest] = []
        for number in self.records.numbers(before):
            if limit is not None and len(pulls) >= limit:
                break
            record, _ = self.records.read(number)
            pull = self._to_pull(record, with_conflicts=conflicts and record.state == _OPEN)
            if (
                state is None
                or pull.state is state
                or (state is PullState.OPEN and pull.state is PullState.CONFLICTING)
            ):
                pulls.append(pull)
        return pulls

    def open_pull_for_branch(self, branch: str) -> PullRequest | None:
        """Return the open pull request whose head is `branch`, if any (one ref lookup)."""
        number = self.records.number_for_branch(branch)
        if number is None:
            return None
        record, _ = self.records.read(number)
        if record.head_branch == branch and record.state == _OPEN:
            return self._to_pull(record, with_conflicts=False)
        return None

    def open_pulls(self) -> list[PullRequest]:
        """Return every open pull request, newest first, without test-merging them.

        Found through the branch index: one ref listing and two record reads per open pull
        request (its first record names it, its latest says it is still open), whatever the
        number of merged and closed ones.
        """
        found: list[PullRequest] = []
        for branch, number in self.records.open_numbers().items():
            record, _ = self.records.read(number)
            if record.state == _OPEN and record.head_branch == branch:
                found.append(self._to_pull(record, with_conflicts=False))
        return sorted(found, key=lambda pull: pull.number, reverse=True)

    def diff(self, number: int) -> list[FileDiff]:
        """Return the files a pull request changes against where it branched off, with diffs."""
        pull = self.get(number)
        repo = self.repository
        if pull.merge_commit_sha and pull.state is PullState.MERGED:
            parents = repo.commit(pull.merge_commit_sha).parents
            base_tip = parents[0] if parents else pull.base_sha
        else:
            base_tip = repo.branch_sha(pull.base_branch) or pull.base_sha
        base = repo.merge_base(base_tip, pull.head_sha) or pull.base_sha
        return [
            FileDiff(path=change.path, status=change.status, patch=text)
            for change, text in repo.patches(repo.tree_of(base), repo.tree_of(pull.head_sha))
        ]

    def merge(
        self,
        number: int,
        author: Author,
        expected_head: str | None = None,
        check: MergeCheck | None = None,
    ) -> PullRequest:
        """Merge a pull request into the default branch; raise MergeConflict naming paths.

        With `expected_head` (the head its reviewer saw), a branch that moved since is refused.
        `check` sees each merge commit before the default branch moves to it, and may refuse it.
        """
        record, _ = self.records.read(number)
        if record.state != _OPEN:
            raise PullRequestNotOpen(f"pull request #{number} is already {record.state}")
        head_sha = self.repository.branch_sha(record.head_branch) or record.head_sha
        if expected_head is not None and head_sha != expected_head:
            raise PullRequestChanged(
                f"pull request #{number} has new commits since you opened it; look at its "
                "changes again before merging"
            )
        merge_sha = retry_on_race(
            lambda: self._merge_commit(record, head_sha, author, check),
            what=f"merging pull request #{number}",
        )
        try:
            # The change is on the default branch now, so a close that raced us is overridden.
            record = self.records.update(
                number,
                lambda found: replace(
                    found,
                    state=str(PullState.MERGED),
                    merge_commit_sha=merge_sha,
                    merged_by=str(author),
                    head_sha=head_sha,
                ),
                from_states=(_OPEN, str(PullState.CLOSED)),
            )
        except PullRequestNotOpen:
            # Another process merged it first: its record (and its deploy) stands.
            record, _ = self.records.read(number)
            return self._to_pull(record, with_conflicts=False)
        self._finish(record, head_sha, cleanup=True)
        self.hooks.notify(
            {
                "event": "merge",
                "repository": str(self.repository.path),
                "branch": record.base_branch,
                "commit_sha": merge_sha,
                "pull_request": number,
            }
        )
        return self._to_pull(record, with_conflicts=False)

    def _merge_commit(
        self, record: PullRecord, head_sha: str, author: Author, check: MergeCheck | None
    ) -> str:
        """Return the default branch's new tip with `head_sha` merged (once `check` passed on
        it), published with a CAS."""
        repo = self.repository
        base_sha = repo.require_branch(record.base_branch)
        if repo.is_ancestor(head_sha, base_sha):
            return base_sha  # merged already (by a racing process, or a crash after it)
        tree, conflicts = repo.merge_trees(base_sha, head_sha)
        if tree is None:
            raise MergeConflict(record.number, conflicts)
        merge_sha = repo.write_commit(
            tree_oid=tree,
            parents=[base_sha, head_sha],
            message=f"Merge pull request #{record.number} from {record.head_branch}\n\n"
            f"{record.title}\n",
            author=author,
        )
        if check is not None:
            check(base_sha, merge_sha)
        repo.update_ref(HEADS + record.base_branch, merge_sha, base_sha)
        return merge_sha

    def close(self, number: int, author: Author) -> PullRequest:
        """Close a pull request without merging; its head branch is deleted."""
        record, _ = self.records.read(number)
        if record.state != _OPEN:
            raise PullRequestNotOpen(f"pull request #{number} is already {record.state}")
        head_sha = self.repository.branch_sha(record.head_branch) or record.head_sha
        record = self.records.update(
            number,
            lambda found: replace(
                found, state=str(PullState.CLOSED), closed_by=str(author), head_sha=head_sha
            ),
            from_states=(_OPEN,),
        )
        # A closed patch-release pull request leaves its hotfix branch open for another try.
        self._finish(record, head_sha, cleanup=False)
        return self._to_pull(record, with_conflicts=False)

    def _finish(self, record: PullRecord, head_sha: str, *, cleanup: bool) -> None:
        """Remove what a merged or closed pull request leaves: its head branch (only if nobody
        committed to it meanwhile), its index entry, and on a merge its cleanup branches."""
        repo = self.repository
        head_ref = self.records.head_ref(record.number)
        with contextlib.suppress(RefRaced):
            repo.update_ref(head_ref, head_sha, repo.ref_sha(head_ref) or "")
        repo.delete_ref(HEADS + record.head_branch, head_sha)
        self.records.unindex_branch(record.head_branch)
        if not cleanup:
            return
        for branch in record.cleanup_branches:
            tip = repo.branch_sha(branch)
            required = record.cleanup_from.get(branch)
            if tip is not None and (required is None or repo.is_ancestor(required, tip)):
                repo.delete_ref(HEADS + branch, tip)

    # -- instance reports --------------------------------------------------------------------

    def report_instance(self, report: InstanceReport) -> None:
        """Record what an instance serves now, replacing its previous report."""
        self.reports.record(report)

    def instance_reports(self) -> list[InstanceReport]:
        """Return the latest report of every instance, by name."""
        return self.reports.latest()

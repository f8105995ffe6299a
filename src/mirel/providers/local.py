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
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import quote

from mirel.errors import (
    AlreadyProposed,
    BranchExists,
    ConcurrentUpdate,
    MergeConflict,
    PullRequestChanged,
    PullRequestNotOpen,
    RefRaced,
)
from mirel.git.repository import HEADS, Author, GitRepository, retry_on_race
from mirel.providers.base import (
    FileDiff,
    InstanceReport,
    MergeCheck,
    PullRequest,
    PullState,
    pull_diff,
)
from mirel.providers.hooks import DeployHooks
from mirel.providers.pull_records import PullRecord, PullRecords, now
from mirel.providers.reports import InstanceReports

if TYPE_CHECKING:  # httpx is imported where a call is made: a local repository needs none
    import httpx

_OPEN = str(PullState.OPEN)
_CREATE_ATTEMPTS = 50
# How far back along the default branch a merge killed before its record is looked for.
_MERGE_SEARCH = 500

log = logging.getLogger(__name__)


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
        head_sha: str | None = None,
    ) -> PullRequest:
        """Open a pull request of `head_branch` into the default branch and return it.

        With `head_sha`, the branch is new: it is created at that commit in the same reference
        transaction as the pull request, so no crash leaves one without the other. An existing
        branch that has an open pull request gets that one back. `cleanup_branches` maps branches
        to remove when it merges to the commit each must still contain: a hotfix branch closed and
        started again meanwhile is a new line of work and stays.
        """
        repo = self.repository
        if head_sha is not None:
            repo.check_branch_name(head_branch)
        for _ in range(_CREATE_ATTEMPTS):
            tip = head_sha if head_sha is not None else repo.require_branch(head_branch)
            base_branch = repo.default_branch
            base_sha = repo.require_branch(base_branch)
            created = now()
            template = PullRecord(
                number=0,
                title=title,
                description=description,
                author=str(author),
                head_branch=head_branch,
                base_branch=base_branch,
                state=_OPEN,
                created_at=created,
                updated_at=created,
                head_sha=tip,
                base_sha=base_sha,
                cleanup_branches=tuple(sorted(cleanup_branches or {})),
                cleanup_from=dict(cleanup_branches or {}),
            )
            try:
                record = self.records.create(
                    template,
                    new_branch=HEADS + head_branch if head_sha is not None else None,
                )
                return self._to_pull(record, with_conflicts=False)
            except RefRaced as error:
                existing = self._refused(error, head_branch, new=head_sha is not None)
                if existing is not None:
                    return existing
                time.sleep(random.uniform(0.001, 0.01))
        raise ConcurrentUpdate(f"opening a pull request of {head_branch}: try again")

    def _refused(self, error: RefRaced, head_branch: str, *, new: bool) -> PullRequest | None:
        """Say why creating a pull request of `head_branch` lost its race: raise when the
        branch is taken, return the branch's own open pull request when it has one already, and
        return None when trying again may work (a number taken, a leftover index entry settled)."""
        if error.ref == HEADS + head_branch and self.repository.branch_sha(head_branch):
            raise BranchExists(
                f"branch {head_branch!r} already exists; merge or close its pull request "
                "first, or choose another branch name"
            ) from error
        if error.ref != self.records.branch_ref(head_branch):
            return None
        # The index names a pull request of this branch: it is finished if an interrupted merge
        # or close left it, else this branch has its pull request already.
        pending = self.open_pull_for_branch(head_branch)
        if pending is not None and new:
            raise AlreadyProposed(
                pending.number,
                f"branch {head_branch!r} already has pull request #{pending.number}; "
                "merge or close it first",
            ) from error
        return pending

    def get(self, number: int) -> PullRequest:
        """Return one pull request with its current state (conflicts checked when open)."""
        record, _ = self.records.read(number)
        return self._to_pull(self._settled(record), with_conflicts=True)

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
        """Return the open pull request whose head is `branch`, if any (one ref lookup), after
        finishing what an interrupted merge or close left of the one its index names."""
        number = self.records.number_for_branch(branch)
        if number is None:
            return None
        record, _ = self.records.read(number)
        if record.head_branch != branch:
            return None
        record = self._settled(record)
        if record.state == _OPEN:
            return self._to_pull(record, with_conflicts=False)
        return None

    def check_api(self) -> str | None:
        """Nothing to call: the pull requests live in the repository itself."""
        return None

    def release_claim(self, branch: str, tip: str) -> bool:
        """Remove a claim without a pull request, unless its writer's transaction is still
        adding the pull request's index entry (locked with the branch: see
        GitRepository.delete_ref_unguarded_by)."""
        return self.repository.delete_ref_unguarded_by(
            HEADS + branch, tip, self.records.branch_ref(branch)
        )

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
        return pull_diff(self.repository, self.get(number))

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
            self._settled(record)
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
            # Merged already (by a racing process, or by a merge killed before its record).
            return self._merge_of(head_sha, base_sha)
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
        record = self._settled(record)
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

    # -- recovery ----------------------------------------------------------------------------

    def _settled(self, record: PullRecord) -> PullRecord:
        """Return `record` after finishing what an interrupted write left of it.

        A merge killed after the default branch moved leaves an open record whose head is on the
        default branch: it is recorded as merged (with the merge commit that brought it). A merge
        or close killed after its record changed leaves the head branch or its index entry:
        they are removed, as `_finish` would have. Each step is a compare-and-swap, so several
        processes settling at once, or the writer itself, agree.
        """
        repo = self.repository
        if record.state == _OPEN:
            head_sha = repo.branch_sha(record.head_branch) or record.head_sha
            base_sha = repo.branch_sha(record.base_branch)
            if base_sha is None or not repo.is_ancestor(head_sha, base_sha):
                return record
            merge_sha = self._merge_of(head_sha, base_sha)
            merger = repo.commit(merge_sha)
            try:
                record = self.records.update(
                    record.number,
                    lambda found: replace(
                        found,
                        state=str(PullState.MERGED),
                        merge_commit_sha=merge_sha,
                        merged_by=f"{merger.author_name} <{merger.author_email}>",
                        head_sha=head_sha,
                    ),
                    from_states=(_OPEN,),
                )
            except PullRequestNotOpen:
                record, _ = self.records.read(record.number)
            log.warning(
                "pull request #%s was merged by an interrupted merge: recorded now", record.number
            )
            self._finish(record, head_sha, cleanup=True)
            return record
        if self._has_leftovers(record):
            log.warning(
                "pull request #%s is %s but its branch remained: removed now",
                record.number,
                record.state,
            )
            self._finish(record, record.head_sha, cleanup=record.state == str(PullState.MERGED))
        return record

    def _has_leftovers(self, record: PullRecord) -> bool:
        """Return whether a merged or closed pull request still holds its branch or index."""
        return record.state != _OPEN and (
            self.repository.branch_sha(record.head_branch) == record.head_sha
            or self.records.number_for_branch(record.head_branch) == record.number
        )

    def _merge_of(self, head_sha: str, base_sha: str) -> str:
        """Return the commit of the default branch (at `base_sha`) that merged `head_sha`: the
        first along its first parents that has it as a parent, else the tip itself."""
        for commit in self.repository.history(base_sha, limit=_MERGE_SEARCH):
            if head_sha in commit.parents[1:]:
                return commit.sha
        return base_sha

    def repair(self) -> list[str]:
        """Finish every write an interrupted process left, and return what was done.

        Every pull request is looked at (not only the indexed ones, as an older mirel could leave
        an open one unindexed), so this costs one record read per pull request ever made: it is
        the maintenance command, not something a request pays.
        """
        repo = self.repository
        done: list[str] = []
        for number in self.records.numbers():
            record, _ = self.records.read(number)
            head_ref = self.records.head_ref(number)
            if repo.ref_sha(head_ref) is None and _created(repo, head_ref, record.head_sha):
                done.append(f"pull request #{number}: its head commit is kept again")
            leftovers = self._has_leftovers(record)
            settled = self._settled(record)
            if settled.state != record.state:
                done.append(f"pull request #{number}: recorded as {settled.state}")
            elif leftovers:
                done.append(f"pull request #{number}: {settled.state}, its branch removed")
            branch = settled.head_branch
            if (
                settled.state == _OPEN
                and self.records.number_for_branch(branch) is None
                and repo.branch_sha(branch) is not None
                and _created(repo, self.records.branch_ref(branch), self.records.first_meta(number))
            ):
                done.append(f"pull request #{number}: found by its branch {branch} again")
        return done

    # -- instance reports --------------------------------------------------------------------

    def report_instance(self, report: InstanceReport) -> None:
        """Record what an instance serves now, replacing its previous report."""
        self.reports.record(report)

    def instance_reports(self) -> list[InstanceReport]:
        """Return the latest report of every instance, by name."""
        return self.reports.latest()


def _created(repo: GitRepository, ref: str, sha: str) -> bool:
    """Create `ref` unless another repair (or writer) made it first; return whether this did."""
    try:
        repo.create_ref(ref, sha)
    except RefRaced:
        return False
    return True

"""The hosted providers: pull requests live on a git host (GitHub, GitLab, Bitbucket, Azure
Repos, CodeCommit), the repository in a local mirror. One class for every host; what differs is
the host's API adapter (`host_api.PullApi`).

Branches and commits are made in the mirror and pushed (mirel.git.remote); the pull request is
then opened through the host's REST API, and a branch pushed for a pull request that could not be
opened is removed again. Merges go through the API with the head the person saw (the host refuses
one whose branch moved), after the merge gate has checked the merge commit mirel computes from
the mirror. A merge made on the host's own page is seen at the next fetch, like any merge.
Instance reports and deploy hooks are kept as with the local provider.

What a host has no field for (mirel's author of the change, the branches a merge removes) is
kept in a comment at the end of the description, which the hosts render as nothing.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from mirel.errors import (
    AlreadyProposed,
    MergeConflict,
    MirelError,
    PullRequestChanged,
    PullRequestNotOpen,
    PushDeclined,
)
from mirel.git.repository import HEADS, Author, GitRepository
from mirel.providers.base import (
    FileDiff,
    InstanceReport,
    MergeCheck,
    PullRequest,
    PullState,
    pull_diff,
)
from mirel.providers.hooks import DeployHooks
from mirel.providers.host_api import HostedPull, ListedState, PullApi
from mirel.providers.reports import InstanceReports

if TYPE_CHECKING:  # httpx is imported where a call is made: a local repository needs none
    import httpx

log = logging.getLogger(__name__)
# How long a pushed branch may wait for its pull request before another process takes it for a
# write cut short (seconds): far longer than a push and one API call take.
CLAIM_GRACE = 600.0
_T = TypeVar("_T")
_MARKER = re.compile(r"\n*<!-- mirel (\{.*?\}) -->\s*$", re.DOTALL)
# A Markdown link reference definition, which renderers show as nothing, for hosts that print
# HTML comments as text (PullApi.shows_html_comments); base64url, so that no quote or
# parenthesis of the data can end it early.
_LINK_MARKER = re.compile(r"\n*\[//\]: # \(mirel ([A-Za-z0-9_=-]+)\)\s*$")


def _with_marker(
    description: str, author: Author, cleanup: Mapping[str, str], *, markdown: bool = False
) -> str:
    data = json.dumps({"author": str(author), "cleanup": dict(cleanup)}, sort_keys=True)
    if markdown:
        encoded = base64.urlsafe_b64encode(data.encode()).decode()
        return f"{description.rstrip()}\n\n[//]: # (mirel {encoded})\n"
    return f"{description.rstrip()}\n\n<!-- mirel {data} -->\n"


def _read_marker(body: str | None) -> tuple[str, dict[str, Any]]:
    """Return a pull request's description without mirel's comment, and the comment's data."""
    text = body or ""
    found = _MARKER.search(text)
    linked = _LINK_MARKER.search(text) if found is None else None
    if found is None and linked is None:
        return text, {}
    try:
        if found is not None:
            data, start = json.loads(found.group(1)), found.start()
        else:
            assert linked is not None
            data, start = json.loads(base64.urlsafe_b64decode(linked.group(1))), linked.start()
    except ValueError:
        return text, {}
    return text[:start] + "\n", data if isinstance(data, dict) else {}


class HostedProvider:
    """Pull requests on a git host, over a mirror of the repository."""

    def __init__(
        self,
        name: str,
        repository: GitRepository,
        api: PullApi,
        http: httpx.Client | None = None,
    ) -> None:
        self.name = name  # github, gitlab, bitbucket, azure or codecommit
        self.repository = repository
        self.api = api
        self.hooks = DeployHooks(repository.git_dir, http)
        self.reports = InstanceReports(repository)

    # -- urls and values ----------------------------------------------------------------------

    def branch_url(self, branch: str) -> str:
        """Return the branch's page on the host."""
        return self.api.branch_url(branch)

    def _to_pull(self, data: HostedPull, *, with_conflicts: bool) -> PullRequest:
        repo = self.repository
        merge_sha = _full_sha(repo, data.merge_sha) if data.merge_sha else None
        data = replace(
            data,
            head_sha=_full_sha(repo, data.head_sha),
            base_sha=_full_sha(repo, data.base_sha),
            merge_sha=merge_sha,
        )
        description, extra = _read_marker(data.body)
        state = {"merged": PullState.MERGED, "closed": PullState.CLOSED}.get(
            data.state, PullState.OPEN
        )
        conflicts: tuple[str, ...] = ()
        if state is PullState.OPEN and with_conflicts:
            conflicts = tuple(self._conflicts(data.base_branch, data.head_sha))
            if conflicts:
                state = PullState.CONFLICTING
        found = extra.get("cleanup")
        cleanup: dict[str, str] = found if isinstance(found, dict) else {}
        return PullRequest(
            number=data.number,
            title=data.title,
            description=description,
            author=str(extra.get("author") or data.author),
            head_branch=data.head_branch,
            base_branch=data.base_branch,
            state=state,
            created_at=data.created_at,
            updated_at=data.updated_at,
            head_sha=data.head_sha,
            base_sha=data.base_sha,
            url=data.url,
            merge_commit_sha=data.merge_sha if state is PullState.MERGED else None,
            merged_by=data.merged_by,
            cleanup_branches=tuple(sorted(cleanup)),
            conflicts=conflicts,
        )

    def _conflicts(self, base_branch: str, head_sha: str) -> list[str]:
        repo = self.repository
        base_sha = repo.branch_sha(base_branch)
        if base_sha is None or not _known(repo, head_sha):
            return []
        if repo.is_ancestor(head_sha, base_sha):
            return []
        return repo.merge_trees(base_sha, head_sha)[1]

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
        """Push the new branch (with `head_sha`), then open its pull request on the host; a
        branch pushed for a pull request the host refused is removed again."""
        repo = self.repository
        if head_sha is not None:
            repo.create_branch(head_branch, head_sha)
        body = _with_marker(
            description, author, cleanup_branches or {}, markdown=self.api.shows_html_comments
        )
        try:
            data = self.api.open_pull(
                title=title, head=head_branch, base=repo.default_branch, body=body
            )
        except AlreadyProposed as error:
            if head_sha is not None:
                # An open pull request of a branch that was deleted (GitLab, Bitbucket, Azure and
                # CodeCommit keep them): the push just gave it this commit. Take it back.
                repo.delete_ref(HEADS + head_branch, head_sha)
            pending = _quietly(lambda: self.open_pull_for_branch(head_branch))
            if pending is not None and head_sha is None:
                return pending
            number = pending.number if pending is not None else 0
            raise AlreadyProposed(
                number,
                f"branch {head_branch!r} already has pull request #{number}; merge or close "
                "it first",
            ) from error
        except Exception:
            if head_sha is not None:
                # The host may have opened it before the answer was lost: keep the branch then.
                opened = _quietly(lambda: self.open_pull_for_branch(head_branch))
                if opened is not None:
                    return opened
                repo.delete_ref(HEADS + head_branch, head_sha)
            raise
        return self._to_pull(data, with_conflicts=False)

    def get(self, number: int) -> PullRequest:
        """Return one pull request as the host has it (conflicts checked on the mirror)."""
        return self._to_pull(self.api.pull(number), with_conflicts=True)

    def _pages(self, state: ListedState, head: str | None = None) -> Iterator[HostedPull]:
        # Pages are offsets into a list that moves while it is read: a pull request opened
        # meanwhile pushes one already seen onto the next page. Each is given once.
        seen: set[int] = set()
        page = 1
        while True:
            found = self.api.pulls(state, head=head, page=page)
            for pull in found:
                if pull.number not in seen:
                    seen.add(pull.number)
                    yield pull
            if len(found) < self.api.page_size:
                return
            page += 1

    def list_pulls(
        self,
        state: PullState | None = None,
        limit: int | None = None,
        *,
        before: int | None = None,
        conflicts: bool = True,
    ) -> list[PullRequest]:
        """Return at most `limit` pull requests, newest first, optionally of one state."""
        asked: dict[PullState | None, ListedState] = {
            None: "all",
            PullState.OPEN: "open",
            PullState.CONFLICTING: "open",
        }
        pulls: list[PullRequest] = []
        for data in self._pages(asked.get(state, "closed")):
            if limit is not None and len(pulls) >= limit:
                break
            if before is not None and data.number >= before:
                continue
            pull = self._to_pull(data, with_conflicts=conflicts and data.state == "open")
            # OPEN asks for every open one, conflicting or not; CONFLICTING only for those.
            if (
                state is None
                or pull.state is state
                or (state is PullState.OPEN and pull.state is PullState.CONFLICTING)
            ):
                pulls.append(pull)
        return pulls

    def open_pull_for_branch(self, branch: str) -> PullRequest | None:
        """Return the open pull request whose head is `branch`, if any."""
        for data in self.api.pulls("open", head=branch):
            if data.head_branch == branch:
                return self._to_pull(data, with_conflicts=False)
        return None

    def open_pulls(self) -> list[PullRequest]:
        """Return every open pull request, newest first, without test-merging them."""
        return [self._to_pull(data, with_conflicts=False) for data in self._pages("open")]

    def diff(self, number: int) -> list[FileDiff]:
        """Return the files a pull request changes, read from the mirror."""
        _quietly(self.repository.refresh)  # while the host is down, the mirror's commits
        return pull_diff(self.repository, self.get(number))

    def merge(
        self,
        number: int,
        author: Author,
        expected_head: str | None = None,
        check: MergeCheck | None = None,
    ) -> PullRequest:
        """Merge on the host, passing the head that was checked (and, with `expected_head`, the
        one the person saw): the host refuses the merge if the branch moved meanwhile."""
        self.repository.refresh()
        pull = self.get(number)
        if pull.state is PullState.MERGED or pull.state is PullState.CLOSED:
            raise PullRequestNotOpen(f"pull request #{number} is already {pull.state}")
        if expected_head is not None and expected_head != pull.head_sha:
            raise PullRequestChanged(
                f"pull request #{number} has new commits since you opened it; look at its "
                "changes again before merging"
            )
        base = None
        if check is not None:
            base, merge_commit = self._merge_to_check(pull, pull.head_sha, author)
            check(base, merge_commit)
        sha = self._merge_on_host(pull, checked=check is not None)
        return self._after_merge(pull, sha, base)

    def _merge_on_host(self, pull: PullRequest, *, checked: bool) -> str:
        """Ask the host to merge `pull` at its head; return the merge commit's sha."""
        title = f"Merge pull request #{pull.number} from {pull.head_branch}"
        try:
            return self.api.merge(pull.number, sha=pull.head_sha, title=title)
        except MergeConflict as error:
            now = _quietly(lambda: self.api.pull(pull.number))
            if now is not None and now.state != "open":
                message = f"pull request #{pull.number} is already {now.state}"
                raise PullRequestNotOpen(message) from error
            if not checked:
                raise
            # mirel merged the same trees without a conflict: what the host refuses is its own
            # rule (required reviews or checks, a merge method the repository forbids...).
            raise PushDeclined(
                f"{self.api.host} refused to merge pull request #{pull.number}: "
                f"{'; '.join(error.paths)}; nothing was merged"
            ) from error

    def _after_merge(self, pull: PullRequest, sha: str, base: str | None) -> PullRequest:
        """Tidy up after a merge the host made (which must not be reported as failed), and tell
        the deploy hooks of it."""
        merged = replace(pull, state=PullState.MERGED, merge_commit_sha=sha)
        try:
            self.repository.refresh()
            merged = self.get(pull.number)
            self._finish(merged, cleanup=True)
            self._check_base(merged, base)
        except MirelError as error:
            log.warning("pull request #%d merged; tidying up failed: %s", pull.number, error)
        self.hooks.notify(
            {
                "event": "merge",
                "repository": self.repository.location,
                "branch": merged.base_branch,
                "commit_sha": merged.merge_commit_sha or sha,
                "pull_request": pull.number,
            }
        )
        return merged

    def _check_base(self, merged: PullRequest, base: str | None) -> None:
        """Say loudly when the host merged onto another base than the one the gate checked (the
        default branch moved between the check and the merge): the result was never checked."""
        sha = merged.merge_commit_sha
        if base is None or not sha or not _known(self.repository, sha):
            return
        parents = self.repository.commit(sha).parents
        if parents and parents[0] != base:
            log.error(
                "%s merged pull request #%d onto %s, not onto %s where mirel checked it: run "
                "'mirel validate' on the default branch",
                self.api.host,
                merged.number,
                parents[0],
                base,
            )

    def _merge_to_check(self, pull: PullRequest, head: str, author: Author) -> tuple[str, str]:
        """Return the default branch's tip and the merge commit of `head` into it, made in the
        mirror only (the host makes its own, of the same trees), for the merge gate."""
        repo = self.repository
        base = repo.require_branch(pull.base_branch)
        tree, conflicts = repo.merge_trees(base, head)
        if tree is None:
            raise MergeConflict(pull.number, conflicts)
        merge = repo.write_commit(
            tree_oid=tree, parents=[base, head], message=f"{pull.title}\n", author=author
        )
        return base, merge

    def close(self, number: int, author: Author) -> PullRequest:
        """Close a pull request on the host without merging; its head branch is deleted."""
        del author  # the host records the token's user as the one who closed it
        pull = self._to_pull(self.api.close(number), with_conflicts=False)
        if pull.state is not PullState.CLOSED:  # merged meanwhile: some hosts answer 200
            raise PullRequestNotOpen(f"pull request #{number} is already {pull.state}")
        self._finish(pull, cleanup=False)
        return pull

    def _finish(self, pull: PullRequest, *, cleanup: bool) -> None:
        """Remove the head branch of a merged or closed pull request (unless it moved), and on
        a merge the branches it names for cleanup."""
        repo = self.repository
        repo.delete_ref(HEADS + pull.head_branch, pull.head_sha)
        if not cleanup:
            return
        # The list rides in a description anyone who may edit it can change: a branch goes only
        # if it is not the default one and all its commits came in with the merge (nothing of
        # it is lost), whatever the list says.
        for branch in pull.cleanup_branches:
            tip = repo.branch_sha(branch)
            if (
                tip is not None
                and branch != pull.base_branch
                and repo.is_ancestor(tip, pull.head_sha)
            ):
                repo.delete_ref(HEADS + branch, tip)

    def check_api(self) -> str | None:
        """List one page of open pull requests on the host; return its refusal, if any."""
        try:
            self.api.pulls("open", page=1)
        except MirelError as error:
            return f"{self.api.host}'s API: {error.message}"
        return None

    def release_claim(self, branch: str, tip: str) -> bool:
        """Remove a pushed claim without a pull request once it is older than CLAIM_GRACE: its
        writer opens the pull request on the host right after the push, and another process
        cannot see that call in flight, so a younger claim may still be a write under way."""
        if time.time() - self.repository.commit(tip).time < CLAIM_GRACE:
            return False
        return self.repository.delete_ref(HEADS + branch, tip)

    def repair(self) -> list[str]:
        """Nothing to finish on the host, which keeps each pull request whole. A branch pushed
        for a pull request that could not be opened is removed by the write that pushed it; one
        left by a process killed in between stays visible on the host as a branch without a
        pull request, and is released by the next write of the same change once it is older
        than CLAIM_GRACE (release_claim)."""
        return []

    # -- instance reports --------------------------------------------------------------------

    def report_instance(self, report: InstanceReport) -> None:
        """Record what an instance serves now, in the repository (pushed to the host)."""
        self.reports.record(report)

    def instance_reports(self) -> list[InstanceReport]:
        """Return the latest report of every instance, by name."""
        return self.reports.latest()


def _quietly(call: Callable[[], _T]) -> _T | None:
    """Return `call()`, or None when it fails with a MirelError (logged)."""
    try:
        return call()
    except MirelError as error:
        log.warning("hosted provider: %s", error)
        return None


def _full_sha(repo: GitRepository, sha: str) -> str:
    """Return the full sha of a commit the host names by an abbreviated one (Bitbucket gives 12
    hex digits), as the mirror knows it; `sha` itself when it is full, or when the mirror has no
    commit (or several) of that prefix (a head that was not fetched yet)."""
    if len(sha) >= 40 or len(sha) < 7:
        return sha
    try:
        return repo.commit(sha).sha
    except MirelError:
        return sha


def _known(repo: GitRepository, sha: str) -> bool:
    """Return whether the mirror holds commit `sha` (a head the host names that was not fetched
    yet is not test-merged)."""
    try:
        repo.commit(sha)
    except MirelError:
        return False
    return True

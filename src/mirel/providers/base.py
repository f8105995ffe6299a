"""The provider seam: where the repository is hosted and where its pull requests live."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from mirel.git.repository import Author, GitRepository

# The author of the commits mirel writes for itself (pull request records, instance reports).
RECORDS_AUTHOR = Author("mirel", "mirel@localhost")


class PullState(StrEnum):
    """The state of a pull request as users see it."""

    OPEN = "open"
    MERGED = "merged"
    CLOSED = "closed"
    CONFLICTING = "conflicting"  # open, but it cannot merge into the current default branch


@dataclass(frozen=True)
class FileDiff:
    """One changed file of a pull request."""

    path: str
    status: str  # added, removed, changed
    patch: str  # a unified diff for text, a one-line note for binary files


@dataclass(frozen=True)
class PullRequest:
    """A pull request: a branch proposed for merging into the default branch."""

    number: int
    title: str
    description: str
    author: str
    head_branch: str
    base_branch: str
    state: PullState
    created_at: str
    updated_at: str
    head_sha: str
    base_sha: str  # the default branch's tip when the pull request was opened
    url: str
    merge_commit_sha: str | None = None
    merged_by: str | None = None
    closed_by: str | None = None
    # Branches removed with the head branch when this merges or closes (a hotfix branch).
    cleanup_branches: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class InstanceReport:
    """What one instance last said it serves: its manifest, commit and each element's release.

    Instances report after every deploy, so that any instance's pages can show which manifests
    are not yet deployed where (a hosted provider's deployment statuses play this part).
    """

    name: str
    url: str | None
    manifest: str | None
    commit_sha: str | None
    status: str  # the last deployment's status: SUCCESS or ERROR
    reported_at: str
    # uuid -> "X.Y.Z" or "working", for every element the instance serves
    live: Mapping[str, str] = field(default_factory=dict)


# Called with the default branch's tip and the merge commit about to replace it, before the
# branch moves; raises (MergeRefused) to refuse the merge, which then changes nothing.
MergeCheck = Callable[[str, str], None]


class DeployHookRegistry(Protocol):
    """The URLs a provider notifies after each merge into the default branch."""

    def urls(self) -> list[str]:
        """Return the registered URLs."""
        ...

    def add(self, url: str, secret: str | None = None) -> list[str]:
        """Register a URL, each call signed with `secret` when given, and return the URLs."""
        ...

    def remove(self, url: str) -> list[str]:
        """Unregister a URL and return the URLs."""
        ...


class Provider(Protocol):
    """Where pull requests live. `local` first; hosted providers implement the same calls."""

    name: str  # local, or the host's provider name (github, gitlab, ...)

    @property
    def hooks(self) -> DeployHookRegistry:
        """Return the deploy hooks called after each merge."""
        ...

    def branch_url(self, branch: str) -> str:
        """Return where a person can see a branch."""
        ...

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
        """Open a pull request of `head_branch` into the default branch and return it; with
        `head_sha`, the branch is new and made at that commit together with the pull request (a
        provider that cannot do both at once removes a branch left without one in `repair`)."""
        ...

    def get(self, number: int) -> PullRequest:
        """Return one pull request with its current state."""
        ...

    def list_pulls(
        self,
        state: PullState | None = None,
        limit: int | None = None,
        *,
        before: int | None = None,
        conflicts: bool = True,
    ) -> list[PullRequest]:
        """Return at most `limit` pull requests, newest first, optionally of one state, below
        number `before`; `conflicts` says whether to test-merge the open ones."""
        ...

    def open_pull_for_branch(self, branch: str) -> PullRequest | None:
        """Return the open pull request whose head is `branch`, if any, after finishing what an
        interrupted merge or close left of it."""
        ...

    def check_api(self) -> str | None:
        """Call the host's pull request API once; return what is wrong (a refused token, an
        unknown repository, a host that does not answer), or None when it answers."""
        ...

    def release_claim(self, branch: str, tip: str) -> bool:
        """Remove `branch` (still at `tip`), a claim of mirel's seen without an open pull
        request, unless its writer may still be opening that pull request; return whether it
        was removed."""
        ...

    def repair(self) -> list[str]:
        """Finish every write an interrupted process left (a merge or close cut short, a pull
        request its branch cannot find) and return what was done, one line each."""
        ...

    def open_pulls(self) -> list[PullRequest]:
        """Return every open pull request, newest first, without test-merging them; the cost
        grows with the open ones, not with every pull request ever made."""
        ...

    def diff(self, number: int) -> list[FileDiff]:
        """Return the files a pull request changes, with their diffs."""
        ...

    def merge(
        self,
        number: int,
        author: Author,
        expected_head: str | None = None,
        check: MergeCheck | None = None,
    ) -> PullRequest:
        """Merge a pull request into the default branch and return it, merged; with
        `expected_head`, only if its branch is still at that commit; with `check`, only if it
        passes on the very merge commit that would land (checked again if the branch moved)."""
        ...

    def close(self, number: int, author: Author) -> PullRequest:
        """Close a pull request without merging and return it, closed."""
        ...

    def report_instance(self, report: InstanceReport) -> None:
        """Record what an instance serves now (replacing its previous report)."""
        ...

    def instance_reports(self) -> list[InstanceReport]:
        """Return the latest report of every instance, by name."""
        ...


def pull_diff(repo: GitRepository, pull: PullRequest) -> list[FileDiff]:
    """Return the files a pull request changes against where it branched off, with diffs, read
    from the repository (every provider's branches are in it, a host's through its mirror)."""
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

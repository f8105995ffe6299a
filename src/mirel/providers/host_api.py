"""What a git host's pull request API gives mirel, whichever host it is: the `PullApi` protocol
each adapter (github_api, gitlab_api, bitbucket_api, azure_api, codecommit_api) implements over
httpx, and `HostedPull`, one pull request as every host has it.

An adapter is thin: the host's JSON in and out, its failures turned into mirel's errors
(`RemoteUnreachable` for a host that is down, refuses the token or answers something unexpected;
`AlreadyProposed`, `PullRequestChanged`, `MergeConflict`, `PullRequestNotFound` and
`PullRequestNotOpen` for what the person can act on). Secrets only ever go in request headers,
never in a message or a log line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:  # imported by the adapters that call a host: a local repository needs none
    import httpx

HostState = Literal["open", "merged", "closed"]
ListedState = Literal["open", "closed", "all"]


@dataclass(frozen=True)
class HostSettings:
    """Which host keeps the pull requests, and how to reach its API."""

    kind: str = "local"  # local or git: mirel keeps them in the repository; else the host's name
    repository: str | None = None  # the repository on the host: owner/name, group/project, ...
    api_url: str | None = None  # the host's API, when not its public default
    token: str | None = field(default=None, repr=False)  # the API's token (or password, secret)
    username: str | None = None  # for hosts whose API takes a user name with the token
    # Short-lived tokens asked before each call instead of `token`: a GitHub App's installation
    # tokens (github_app.InstallationTokens), which expire hourly.
    token_source: Callable[[], str] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class HostedPull:
    """One pull request (merge request) as its host has it."""

    number: int
    title: str
    body: str | None
    state: HostState
    head_branch: str
    head_sha: str
    base_branch: str
    base_sha: str
    author: str  # the host's account that opened it
    created_at: str  # ISO 8601
    updated_at: str
    url: str  # its page on the host
    merge_sha: str | None = None
    merged_by: str | None = None


class PullApi(Protocol):
    """The pull request calls on one repository of one host."""

    host: str  # the host's name, for messages: "GitHub", "GitLab", ...
    page_size: int  # how many pull requests `pulls` answers at most per page
    # Whether the host prints HTML comments in a description as text (Bitbucket Cloud escapes
    # HTML): mirel's data then rides in a Markdown comment instead.
    shows_html_comments: bool

    def branch_url(self, branch: str) -> str:
        """Return the branch's page on the host."""
        ...

    def open_pull(self, *, title: str, head: str, base: str, body: str) -> HostedPull:
        """Open a pull request of branch `head` into `base`; raise AlreadyProposed when the
        branch has an open one."""
        ...

    def pull(self, number: int) -> HostedPull:
        """Return pull request `number`; raise PullRequestNotFound when there is none."""
        ...

    def pulls(
        self, state: ListedState, *, head: str | None = None, page: int = 1
    ) -> list[HostedPull]:
        """Return one page (from 1) of pull requests, newest first, in `state`, optionally only
        those whose head is branch `head`."""
        ...

    def merge(self, number: int, *, sha: str, title: str) -> str:
        """Merge pull request `number` if its head is still `sha` (PullRequestChanged if not);
        return the merge commit's sha."""
        ...

    def close(self, number: int) -> HostedPull:
        """Close (decline, abandon) pull request `number` without merging it."""
        ...


ApiOpener = Callable[[HostSettings, "httpx.Client | None"], PullApi]
"""How a host's adapter is made from the settings (each `<host>_api.open_api`)."""

"""The few calls of Bitbucket Cloud's REST API (2.0) that mirel makes, over httpx: open, read,
list, merge and decline pull requests. A thin adapter, as github_api is: Bitbucket's JSON in and
out, its failures turned into mirel's errors with messages that say what to do.

Credentials: with MIREL_HOST_USERNAME, HTTP basic authentication with the token as the password
(an Atlassian API token, with the account's email as the user name, or a legacy app password
with the Bitbucket user name); without it, the token is sent as a bearer token (a repository,
project or workspace access token). Either only ever goes in the Authorization header.

Two things Bitbucket does not do as GitHub does:

- Its merge call takes no expected head. The adapter reads the pull request first and refuses
  with PullRequestChanged when its source commit is not the one that was checked, then merges:
  a push landing between that read and the merge (one round trip) would be merged unchecked.
  The merged pull request names the head Bitbucket merged, so such a merge is at least logged.
- It names commits by abbreviated hashes (12 hex digits); the hosted provider expands them
  against the mirror.
"""

from __future__ import annotations

import base64
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from mirel.errors import (
    AlreadyProposed,
    InvalidInput,
    MergeConflict,
    PullRequestChanged,
    PullRequestNotFound,
    PullRequestNotOpen,
    PushDeclined,
    RemoteUnreachable,
)
from mirel.providers.host_answers import error_body, expect_object
from mirel.providers.host_api import HostedPull, HostSettings, HostState, ListedState

log = logging.getLogger(__name__)

API_URL = "https://api.bitbucket.org/2.0"
WEB_URL = "https://bitbucket.org"
PAGE = 50  # the largest page of pull requests Bitbucket gives
MERGE_TYPE = "pullrequest_merge_parameters"  # the body's `type`, as its schema is named
_TIMEOUT = 15.0
_MERGE_WAITS = (0.5, 1.0, 2.0, 4.0)  # seconds between looks at a merge Bitbucket still runs
_STATES: dict[ListedState, tuple[str, ...]] = {
    "open": ("OPEN",),
    "closed": ("MERGED", "DECLINED", "SUPERSEDED"),
    "all": ("OPEN", "MERGED", "DECLINED", "SUPERSEDED"),
}
_MAPPED: dict[str, HostState] = {"MERGED": "merged", "DECLINED": "closed", "SUPERSEDED": "closed"}


@dataclass(frozen=True)
class BitbucketRepository:
    """Which repository (workspace/repo_slug), through which API URL."""

    workspace: str
    slug: str
    api_url: str = API_URL

    @property
    def path(self) -> str:
        return f"/repositories/{quote(self.workspace, safe='')}/{quote(self.slug, safe='')}"

    def __str__(self) -> str:
        return f"{self.workspace}/{self.slug}"


class BitbucketApi:
    """Pull request calls on one Bitbucket Cloud repository, with one set of credentials."""

    host = "Bitbucket"
    page_size = PAGE
    shows_html_comments = True

    def __init__(
        self,
        repository: BitbucketRepository,
        token: str,
        username: str | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.repository = repository
        self._username = username
        if username is None:
            self._authorization = f"Bearer {token}"
        else:
            pair = base64.b64encode(f"{username}:{token}".encode()).decode()
            self._authorization = f"Basic {pair}"
        self._client = client or httpx.Client(timeout=_TIMEOUT)

    def branch_url(self, branch: str) -> str:
        """Return the branch's page on Bitbucket."""
        where = self.repository
        return f"{WEB_URL}/{where.workspace}/{where.slug}/branch/{quote(branch, safe='/')}"

    def _refused(self, answer: httpx.Response) -> RemoteUnreachable:
        what = (
            f"the API token or app password of {self._username} (MIREL_HOST_TOKEN; with an API "
            "token MIREL_HOST_USERNAME is the Atlassian account's email)"
            if self._username is not None
            else "the access token (MIREL_HOST_TOKEN; set MIREL_HOST_USERNAME for an API token "
            "or app password)"
        )
        return RemoteUnreachable(
            f"Bitbucket refused mirel's credentials for {self.repository} "
            f"({answer.status_code}: {_message(answer)}); check {what}: it needs read and write "
            "access to the repository and its pull requests"
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = f"{self.repository.api_url.rstrip('/')}{self.repository.path}/pullrequests{path}"
        try:
            headers = {"Authorization": self._authorization, "Accept": "application/json"}
            answer = self._client.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as error:
            raise RemoteUnreachable(
                f"cannot reach Bitbucket at {self.repository.api_url}: {type(error).__name__}; "
                "nothing was changed, try again once it answers"
            ) from error
        status = answer.status_code
        if status == 429:
            wait = answer.headers.get("retry-after")
            raise RemoteUnreachable(
                f"Bitbucket is rate-limiting mirel's credentials (retry after "
                f"{wait or 'a while'}); nothing was changed, try again then"
            )
        if status in (401, 403):
            raise self._refused(answer)
        if status == 555:  # Bitbucket's "timed out": the call may still finish
            raise RemoteUnreachable(
                f"Bitbucket timed out ({_message(answer)}); it may still finish: look at the "
                "pull request again in a moment"
            )
        if status >= 500:
            raise RemoteUnreachable(
                f"Bitbucket answered {status} ({_message(answer)}); nothing was changed, try "
                "again in a moment"
            )
        return answer

    def open_pull(self, *, title: str, head: str, base: str, body: str) -> HostedPull:
        """Open a pull request of branch `head` into `base`; return Bitbucket's pull request.
        Bitbucket's description does not say that it refuses a second one of the same branches
        (it is known to answer the open one instead, its title and description replaced), so
        the branch's open ones are looked at first."""
        for pending in self.pulls("open", head=head):
            if pending.head_branch == head:
                raise AlreadyProposed(
                    pending.number, f"branch {head!r} already has pull request #{pending.number}"
                )
        answer = self._call(
            "POST",
            "",
            json={
                "type": "pullrequest",
                "title": title,
                "description": body,
                "source": {"branch": {"name": head}},
                "destination": {"branch": {"name": base}},
                "close_source_branch": False,
            },
        )
        if answer.status_code == 400:
            raise InvalidInput(
                f"Bitbucket refused the pull request of {head!r}: {_message(answer)}"
            )
        return _pull(_object(answer, 201))

    def pull(self, number: int) -> HostedPull:
        """Return pull request `number`."""
        answer = self._call("GET", f"/{number}")
        if answer.status_code == 404:
            raise PullRequestNotFound(f"there is no pull request #{number} on Bitbucket")
        return _pull(_object(answer, 200))

    def pulls(
        self, state: ListedState, *, head: str | None = None, page: int = 1
    ) -> list[HostedPull]:
        """Return one page of pull requests (newest first) in `state` (open, closed, all)."""
        params: list[tuple[str, str | int]] = [("state", name) for name in _STATES[state]]
        params += [("sort", "-created_on"), ("pagelen", PAGE), ("page", page)]
        if head is not None:
            quoted = head.replace("\\", "\\\\").replace('"', '\\"')
            params.append(("q", f'source.branch.name="{quoted}"'))
        found = _object(self._call("GET", "", params=params), 200).get("values")
        if not isinstance(found, list):
            raise RemoteUnreachable("Bitbucket answered a page of pull requests without values")
        return [_pull(item) for item in found if isinstance(item, dict)]

    def merge(self, number: int, *, sha: str, title: str) -> str:
        """Merge pull request `number` if its head is still `sha`; return the merge commit (as
        Bitbucket abbreviates it)."""
        current = self.pull(number)
        if current.state != "open":
            raise PullRequestNotOpen(f"pull request #{number} is already {current.state}")
        if not _same_commit(current.head_sha, sha):
            raise PullRequestChanged(
                f"pull request #{number} has new commits since you opened it; look at its "
                "changes again before merging"
            )
        answer = self._call(
            "POST",
            f"/{number}/merge",
            json={
                "type": MERGE_TYPE,
                "merge_strategy": "merge_commit",
                "message": title,
                "close_source_branch": False,
            },
        )
        if answer.status_code == 404:
            raise PullRequestNotFound(f"there is no pull request #{number} on Bitbucket")
        if answer.status_code in (400, 409):
            message = _message(answer)
            if "conflict" in message.lower():
                raise MergeConflict(number, [message])
            raise PushDeclined(
                f"Bitbucket refused to merge pull request #{number}: {message}; meet the "
                "repository's merge checks, or merge it on Bitbucket's page"
            )
        merged = self._merging(number) if answer.status_code == 202 else _pull(_object(answer, 200))
        if not _same_commit(merged.head_sha, sha):
            log.warning(
                "pull request #%d was merged with head %s, not the %s that was checked: a push "
                "landed between the check and the merge",
                number,
                merged.head_sha,
                sha,
            )
        return merged.merge_sha or ""

    def _merging(self, number: int) -> HostedPull:
        """Return the pull request once the merge Bitbucket runs in the background is done."""
        for wait in _MERGE_WAITS:
            time.sleep(wait)
            found = self.pull(number)
            if found.state == "merged":
                return found
        raise RemoteUnreachable(
            f"Bitbucket is still merging pull request #{number}; it shows as merged once done: "
            "look at it again in a moment"
        )

    def close(self, number: int) -> HostedPull:
        """Decline pull request `number` (close it without merging)."""
        answer = self._call("POST", f"/{number}/decline")
        if answer.status_code == 404:
            raise PullRequestNotFound(f"there is no pull request #{number} on Bitbucket")
        if answer.status_code in (400, 409):
            raise PullRequestNotOpen(
                f"Bitbucket cannot decline pull request #{number}: {_message(answer)}"
            )
        return _pull(_object(answer, 200))


def _same_commit(given: str, full: str) -> bool:
    """Return whether an abbreviated hash (7 hex digits at least) and a full one name the same
    commit."""
    short, longer = sorted((given.lower(), full.lower()), key=len)
    return len(short) >= 7 and longer.startswith(short)


def _name(account: Any) -> str | None:
    if not isinstance(account, dict):
        return None
    found = account.get("display_name") or account.get("nickname")
    return str(found) if found else None


def _pull(data: dict[str, Any]) -> HostedPull:
    """Return Bitbucket's pull request as mirel reads it (hashes as Bitbucket abbreviates them)."""
    try:
        # OPEN, and states newer than the published description (DRAFT, QUEUED), are open.
        state = _MAPPED.get(str(data["state"]), "open")
        source, destination = data["source"], data["destination"]
        summary = data.get("summary")
        body = summary.get("raw") if isinstance(summary, dict) else None
        merge_commit = data.get("merge_commit")
        merge_sha = merge_commit.get("hash") if isinstance(merge_commit, dict) else None
        return HostedPull(
            number=int(data["id"]),
            title=str(data["title"]),
            body=body if body is not None else data.get("description"),
            state=state,
            head_branch=str(source["branch"]["name"]),
            head_sha=str(source["commit"]["hash"]),
            base_branch=str(destination["branch"]["name"]),
            base_sha=str(destination["commit"]["hash"]),
            author=_name(data.get("author")) or "",
            created_at=str(data["created_on"]),
            updated_at=str(data["updated_on"]),
            url=str(data["links"]["html"]["href"]),
            merge_sha=str(merge_sha) if merge_sha else None,
            merged_by=_name(data.get("closed_by")) if state == "merged" else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise RemoteUnreachable(
            f"Bitbucket answered a pull request without {error}; is MIREL_HOST_API_URL "
            "Bitbucket's API?"
        ) from error


def open_api(host: HostSettings, http: httpx.Client | None) -> BitbucketApi:
    """Return the adapter of the repository `host` names (workspace/repo_slug, a token, and a
    user name when the token is an app password)."""
    workspace, _, slug = (host.repository or "").partition("/")
    if not workspace or not slug or "/" in slug or not host.token:
        raise InvalidInput(
            "the bitbucket provider needs the repository as workspace/repo_slug "
            "(MIREL_HOST_REPOSITORY) and a token (MIREL_HOST_TOKEN or MIREL_GIT_TOKEN): an "
            "access token, or an API token or app password with its user name in "
            "MIREL_HOST_USERNAME"
        )
    where = BitbucketRepository(workspace, slug, host.api_url or API_URL)
    return BitbucketApi(where, host.token, host.username or None, http)


def _message(answer: httpx.Response) -> str:
    found = error_body(answer)
    error = found.get("error") if found is not None else None
    if not isinstance(error, dict):
        return answer.reason_phrase
    parts = [str(error.get("message") or answer.reason_phrase)]
    if error.get("detail"):
        parts.append(str(error["detail"]))
    return "; ".join(parts)[:300]


def _object(answer: httpx.Response, status: int) -> dict[str, Any]:
    check = "MIREL_HOST_REPOSITORY and the credentials' access to it"
    return expect_object(answer, (status,), host="Bitbucket", describe=_message, check=check)

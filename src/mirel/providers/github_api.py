"""The few calls of GitHub's REST API that mirel makes, over httpx: open, read, list, merge and
close pull requests. A thin adapter: GitHub's JSON in, GitHub's JSON out, and its failures
turned into mirel's errors with messages that say what to do. (An SDK would bring far more than
these five calls, and a second HTTP stack.)

The token is a personal access token, or a GitHub App's installation tokens (github_app),
asked for before each call so that an expiring one is renewed in time; it only ever goes in the
Authorization header, never in a message or a log line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from mirel.errors import (
    AlreadyProposed,
    InvalidInput,
    MergeConflict,
    PullRequestChanged,
    PullRequestNotFound,
    PullRequestNotOpen,
    RemoteUnreachable,
)
from mirel.providers.host_answers import error_body, expect_json, expect_object
from mirel.providers.host_api import HostedPull, HostSettings, HostState, ListedState

API_VERSION = "2022-11-28"
_TIMEOUT = 15.0
PAGE = 100  # GitHub's largest page


@dataclass(frozen=True)
class GitHubRepository:
    """Which repository, on which GitHub (github.com, or an Enterprise server's API URL)."""

    owner: str
    name: str
    api_url: str = "https://api.github.com"

    @property
    def path(self) -> str:
        return f"/repos/{self.owner}/{self.name}"


class GitHubApi:
    """Pull request calls on one repository, authenticated with one token."""

    host = "GitHub"
    page_size = PAGE
    shows_html_comments = False

    def __init__(
        self,
        repository: GitHubRepository,
        token: str | Callable[[], str],
        client: httpx.Client | None = None,
    ) -> None:
        self.repository = repository
        self._token = token
        # Who is refused, for messages: a person's token, or a GitHub App's installation.
        self._who = "the token" if isinstance(token, str) else "the GitHub App"
        self._client = client or httpx.Client(timeout=_TIMEOUT)
        api = repository.api_url
        web = "https://github.com" if "api.github.com" in api else api
        where = f"{repository.owner}/{repository.name}"
        self._web = f"{web.removesuffix('/api/v3').rstrip('/')}/{where}"

    def branch_url(self, branch: str) -> str:
        """Return the branch's page on GitHub."""
        return f"{self._web}/tree/{branch}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.repository.api_url.rstrip('/')}{self.repository.path}{path}"
        token = self._token if isinstance(self._token, str) else self._token()
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }
        try:
            answer = self._client.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as error:
            raise RemoteUnreachable(
                f"cannot reach GitHub at {self.repository.api_url}: {type(error).__name__}; "
                "nothing was changed, try again once it answers"
            ) from error
        limited = answer.status_code == 429 or (
            answer.status_code == 403 and answer.headers.get("x-ratelimit-remaining") == "0"
        )
        if limited:
            wait = answer.headers.get("retry-after") or answer.headers.get("x-ratelimit-reset")
            raise RemoteUnreachable(
                f"GitHub is rate-limiting mirel's token (retry after {wait or 'a while'}); "
                "nothing was changed, try again then"
            )
        if answer.status_code in (401, 403):
            raise RemoteUnreachable(
                f"GitHub refused mirel's token for {self.repository.owner}/"
                f"{self.repository.name} ({answer.status_code}: {_message(answer)}); give "
                f"{self._who} read and write access to the repository's contents and pull "
                "requests"
            )
        if answer.status_code >= 500:
            raise RemoteUnreachable(
                f"GitHub answered {answer.status_code} ({_message(answer)}); nothing was "
                "changed, try again in a moment"
            )
        return answer

    def open_pull(self, *, title: str, head: str, base: str, body: str) -> HostedPull:
        """Open a pull request of branch `head` into `base`; return GitHub's pull request."""
        answer = self._call(
            "POST", "/pulls", json={"title": title, "head": head, "base": base, "body": body}
        )
        if answer.status_code == 422:
            message = _message(answer)
            if "already exists" in message:
                raise AlreadyProposed(0, f"branch {head!r} already has an open pull request")
            raise InvalidInput(f"GitHub refused the pull request of {head!r}: {message}")
        return _pull(_object(answer, 201))

    def pull(self, number: int) -> HostedPull:
        """Return pull request `number`."""
        answer = self._call("GET", f"/pulls/{number}")
        if answer.status_code == 404:
            raise PullRequestNotFound(f"there is no pull request #{number} on GitHub")
        return _pull(_object(answer, 200))

    def pulls(
        self, state: ListedState, *, head: str | None = None, page: int = 1
    ) -> list[HostedPull]:
        """Return one page of pull requests (newest first) in `state` (open, closed, all)."""
        params: dict[str, str | int] = {
            "state": state,
            "sort": "created",
            "direction": "desc",
            "per_page": PAGE,
            "page": page,
        }
        if head is not None:
            params["head"] = f"{self.repository.owner}:{head}"
        found = _json(self._call("GET", "/pulls", params=params), 200)
        if not isinstance(found, list):
            raise RemoteUnreachable("GitHub answered a list of pull requests with something else")
        return [_pull(item) for item in found if isinstance(item, dict)]

    def merge(self, number: int, *, sha: str, title: str) -> str:
        """Merge pull request `number` if its head is still `sha`; return the merge commit."""
        answer = self._call(
            "PUT",
            f"/pulls/{number}/merge",
            json={"sha": sha, "merge_method": "merge", "commit_title": title},
        )
        if answer.status_code == 409:
            raise PullRequestChanged(
                f"pull request #{number} has new commits since you opened it; look at its "
                "changes again before merging"
            )
        if answer.status_code == 405:
            raise MergeConflict(number, [_message(answer)])
        if answer.status_code == 404:
            raise PullRequestNotFound(f"there is no pull request #{number} on GitHub")
        merged = _json(answer, 200)
        return str(merged["sha"])

    def close(self, number: int) -> HostedPull:
        """Close pull request `number` without merging it."""
        answer = self._call("PATCH", f"/pulls/{number}", json={"state": "closed"})
        if answer.status_code == 422:
            raise PullRequestNotOpen(f"GitHub cannot close pull request #{number}")
        return _pull(_object(answer, 200))


def _pull(data: dict[str, Any]) -> HostedPull:
    """Return GitHub's pull request as mirel reads it."""
    try:
        state: HostState = (
            "merged" if data.get("merged_at") else "closed" if data["state"] == "closed" else "open"
        )
        head, base, merged_by = data["head"], data["base"], data.get("merged_by")
        return HostedPull(
            number=int(data["number"]),
            title=str(data["title"]),
            body=data.get("body"),
            state=state,
            head_branch=str(head["ref"]),
            head_sha=str(head["sha"]),
            base_branch=str(base["ref"]),
            base_sha=str(base["sha"]),
            author=str(data["user"]["login"]),
            created_at=str(data["created_at"]),
            updated_at=str(data["updated_at"]),
            url=str(data["html_url"]),
            merge_sha=str(data["merge_commit_sha"]) if data.get("merge_commit_sha") else None,
            merged_by=str(merged_by["login"]) if isinstance(merged_by, dict) else None,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise RemoteUnreachable(
            f"GitHub answered a pull request without {error}; is MIREL_HOST_API_URL GitHub's API?"
        ) from error


def open_api(host: HostSettings, http: httpx.Client | None) -> GitHubApi:
    """Return the adapter of the repository `host` names (owner/name, with a token)."""
    owner, _, name = (host.repository or "").partition("/")
    token = host.token_source or host.token
    if not owner or not name or "/" in name or not token:
        raise InvalidInput(
            "the github provider needs the repository as owner/name (MIREL_HOST_REPOSITORY) "
            "and a token (MIREL_HOST_TOKEN or MIREL_GIT_TOKEN) or a GitHub App "
            "(MIREL_GITHUB_APP_ID, MIREL_GITHUB_APP_INSTALLATION_ID, MIREL_GITHUB_APP_PRIVATE_KEY)"
        )
    where = GitHubRepository(owner, name, host.api_url or "https://api.github.com")
    return GitHubApi(where, token, http)


def _message(answer: httpx.Response) -> str:
    found = error_body(answer)
    if found is None:
        return answer.reason_phrase
    # "Validation Failed" says little: the reasons are in `errors`.
    details = [
        str(error["message"])
        for error in found.get("errors") or []
        if isinstance(error, dict) and error.get("message")
    ]
    text = "; ".join([str(found.get("message") or answer.reason_phrase), *details])
    return text[:300]


_CHECK = "MIREL_HOST_REPOSITORY and the token's access to it"


def _json(answer: httpx.Response, status: int) -> Any:
    return expect_json(answer, (status,), host="GitHub", describe=_message, check=_CHECK)


def _object(answer: httpx.Response, status: int) -> dict[str, Any]:
    return expect_object(answer, (status,), host="GitHub", describe=_message, check=_CHECK)

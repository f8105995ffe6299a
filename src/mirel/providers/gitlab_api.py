"""The few calls of GitLab's REST API (v4) that mirel makes, over httpx: open, read, list, merge
and close merge requests, on gitlab.com or a self-managed instance. A thin adapter: GitLab's JSON
in, GitLab's JSON out, and its failures turned into mirel's errors with messages that say what
to do.

The project is named by its path (`group/subgroup/project`), URL-encoded as GitLab asks. The
token (personal, project or group access token with the `api` scope) only ever goes in the
PRIVATE-TOKEN header, never in a message or a log line.

mirel's "closed" is GitLab's merged or closed (a locked one, a merge under way, is open: its
source branch must not be taken for a leftover while GitLab merges it). GitLab filters on
one state at a time, so those pages are read from GitLab's `state=all` list with the open ones
left out, refilled from the next of GitLab's pages so that each page mirel gets is full until
the last (`HostedProvider` stops at the first short page).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
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
    RemoteUnreachable,
)
from mirel.providers.host_answers import error_body, expect_json, expect_object
from mirel.providers.host_api import HostedPull, HostSettings, HostState, ListedState

DEFAULT_API = "https://gitlab.com/api/v4"
_TIMEOUT = 15.0
PAGE = 100  # GitLab's largest page
_FRESH = 30.0  # seconds for which a listing may read on from where it stopped
_STATES: dict[str, HostState] = {
    "opened": "open",
    "merged": "merged",
    "closed": "closed",
    "locked": "open",
}


@dataclass
class _Walk:
    """How far a listing of merged-or-closed merge requests has read GitLab's pages."""

    head: str | None
    served: int = 0  # the last of mirel's pages answered
    read: int = 0  # the last of GitLab's pages read
    kept: list[HostedPull] = field(default_factory=list)  # read, not yet answered
    done: bool = False  # GitLab's last page was read
    at: float = field(default_factory=time.monotonic)  # when a page was last answered

    def continues(self, head: str | None, page: int) -> bool:
        """Return whether page `page` of `head`'s listing is the next this walk answers."""
        fresh = time.monotonic() - self.at <= _FRESH
        return fresh and self.head == head and self.served == page - 1


class GitLabApi:
    """Merge request calls on one project, authenticated with one token."""

    host = "GitLab"
    page_size = PAGE
    shows_html_comments = False

    def __init__(
        self,
        project: str,
        token: str,
        client: httpx.Client | None = None,
        api_url: str = DEFAULT_API,
    ) -> None:
        self.project = project
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._client = client or httpx.Client(timeout=_TIMEOUT)
        self._base = f"{self.api_url}/projects/{quote(project, safe='')}"
        self._web = f"{self.api_url.removesuffix('/api/v4')}/{project}"
        self._walk: _Walk | None = None
        self._walk_lock = threading.Lock()

    def branch_url(self, branch: str) -> str:
        """Return the branch's page on GitLab."""
        return f"{self._web}/-/tree/{branch}"

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"PRIVATE-TOKEN": self._token, "Accept": "application/json"}
        try:
            answer = self._client.request(method, self._base + path, headers=headers, **kwargs)
        except httpx.HTTPError as error:
            raise RemoteUnreachable(
                f"cannot reach GitLab at {self.api_url}: {type(error).__name__}; nothing was "
                "changed, try again once it answers"
            ) from error
        if answer.status_code == 429:
            wait = answer.headers.get("retry-after") or answer.headers.get("ratelimit-reset")
            raise RemoteUnreachable(
                f"GitLab is rate-limiting mirel's token (retry after {wait or 'a while'}); "
                "nothing was changed, try again then"
            )
        if answer.status_code in (401, 403):
            raise RemoteUnreachable(
                f"GitLab refused mirel's token for {self.project} ({answer.status_code}: "
                f"{_message(answer)}); give it the api scope and at least the Developer role "
                "on the project, and check that it has not expired"
            )
        if answer.status_code >= 500:
            raise RemoteUnreachable(
                f"GitLab answered {answer.status_code} ({_message(answer)}); nothing was "
                "changed, try again in a moment"
            )
        return answer

    def _missing(self, answer: httpx.Response, number: int) -> None:
        """Raise when GitLab answered 404: for the merge request, or for the whole project."""
        if answer.status_code != 404:
            return
        if "project" in _message(answer).lower():
            raise RemoteUnreachable(
                f"GitLab has no project {self.project} that mirel's token can see; check "
                "MIREL_HOST_REPOSITORY (group/subgroup/project) and the token's access to it"
            )
        raise PullRequestNotFound(f"there is no merge request !{number} on GitLab")

    def open_pull(self, *, title: str, head: str, base: str, body: str) -> HostedPull:
        """Open a merge request of branch `head` into `base`; return GitLab's merge request."""
        answer = self._call(
            "POST",
            "/merge_requests",
            json={
                "source_branch": head,
                "target_branch": base,
                "title": title,
                "description": body,
            },
        )
        if answer.status_code == 409:
            # "Another open merge request already exists for this source branch: !7"
            found = re.search(r"!(\d+)", _message(answer))
            raise AlreadyProposed(
                int(found[1]) if found else 0, f"branch {head!r} already has an open merge request"
            )
        if answer.status_code in (400, 422):
            raise InvalidInput(f"GitLab refused the merge request of {head!r}: {_message(answer)}")
        self._missing(answer, 0)
        return self._pull(_object(answer, 201))

    def pull(self, number: int) -> HostedPull:
        """Return merge request `number` (its iid)."""
        answer = self._call("GET", f"/merge_requests/{number}")
        self._missing(answer, number)
        return self._pull(_object(answer, 200))

    def pulls(
        self, state: ListedState, *, head: str | None = None, page: int = 1
    ) -> list[HostedPull]:
        """Return one page of merge requests (newest first) in `state` (open, closed, all)."""
        if state != "closed":
            return self._list("opened" if state == "open" else "all", head, page)
        with self._walk_lock:
            return self._closed_page(head, page)

    def _list(self, state: str, head: str | None, page: int) -> list[HostedPull]:
        params: dict[str, str | int] = {
            "state": state,
            "order_by": "created_at",
            "sort": "desc",
            "per_page": PAGE,
            "page": page,
        }
        if head is not None:
            params["source_branch"] = head
        found = _json(self._call("GET", "/merge_requests", params=params), 200)
        if not isinstance(found, list):
            raise RemoteUnreachable("GitLab answered a list of merge requests with something else")
        return [self._pull(item) for item in found if isinstance(item, dict)]

    def _closed_page(self, head: str | None, page: int) -> list[HostedPull]:
        """Return page `page` of the merged and closed merge requests: GitLab's `state=all`
        pages without the open ones, each full (PAGE) but the last. Reading on from the page
        before is one request per GitLab page; any other page starts again from the first."""
        walk = self._walk
        if walk is None or not walk.continues(head, page):
            walk = _Walk(head)
            for _ in range(page - 1):  # skip to the page asked for
                self._fill(walk)
                del walk.kept[:PAGE]
        self._fill(walk)
        answer, walk.kept = walk.kept[:PAGE], walk.kept[PAGE:]
        walk.served, walk.at = page, time.monotonic()
        self._walk = walk
        return answer

    def _fill(self, walk: _Walk) -> None:
        while len(walk.kept) < PAGE and not walk.done:
            walk.read += 1
            found = self._list("all", walk.head, walk.read)
            walk.kept.extend(pull for pull in found if pull.state != "open")
            walk.done = len(found) < PAGE

    def merge(self, number: int, *, sha: str, title: str) -> str:
        """Merge merge request `number` if its head is still `sha`; return the merge commit (the
        head itself when the project fast-forwards)."""
        answer = self._call(
            "PUT",
            f"/merge_requests/{number}/merge",
            json={"sha": sha, "merge_commit_message": title, "should_remove_source_branch": False},
        )
        if answer.status_code == 409:
            raise PullRequestChanged(
                f"merge request !{number} has new commits since you opened it; look at its "
                "changes again before merging"
            )
        if answer.status_code in (405, 406, 422):
            # GitLab answers 405 for a closed or draft merge request too, not only a conflict.
            if self.pull(number).state != "open":
                raise PullRequestNotOpen(f"merge request !{number} is no longer open on GitLab")
            raise MergeConflict(number, [f"GitLab: {_message(answer)}"])
        self._missing(answer, number)
        merged = self._pull(_object(answer, 200))
        return merged.merge_sha or merged.head_sha

    def close(self, number: int) -> HostedPull:
        """Close merge request `number` without merging it."""
        answer = self._call("PUT", f"/merge_requests/{number}", json={"state_event": "close"})
        self._missing(answer, number)
        closed = self._pull(_object(answer, 200))
        if closed.state != "closed":
            raise PullRequestNotOpen(f"GitLab cannot close merge request !{number}: it is merged")
        return closed

    def _pull(self, data: dict[str, Any]) -> HostedPull:
        """Return GitLab's merge request as mirel reads it. A listed one has no diff_refs (nor
        has one whose diff GitLab is still preparing): its base_sha is then empty."""
        try:
            refs = data.get("diff_refs") or {}
            merger = data.get("merge_user") or data.get("merged_by")
            return HostedPull(
                number=int(data["iid"]),
                title=str(data["title"]),
                body=data.get("description"),
                state=_STATES[str(data["state"])],
                head_branch=str(data["source_branch"]),
                head_sha=str(data["sha"]),
                base_branch=str(data["target_branch"]),
                base_sha=str(refs.get("base_sha") or ""),
                author=str(data["author"]["username"]),
                created_at=str(data["created_at"]),
                updated_at=str(data["updated_at"]),
                url=str(data["web_url"]),
                merge_sha=str(data["merge_commit_sha"]) if data.get("merge_commit_sha") else None,
                merged_by=str(merger["username"]) if isinstance(merger, dict) else None,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise RemoteUnreachable(
                f"GitLab answered a merge request without {error}; is MIREL_HOST_API_URL "
                "GitLab's API (https://HOST/api/v4)?"
            ) from error


def open_api(host: HostSettings, http: httpx.Client | None) -> GitLabApi:
    """Return the adapter of the project `host` names (group/project, with a token)."""
    project = (host.repository or "").strip("/")
    parts = project.split("/")
    if len(parts) < 2 or not all(parts) or not host.token:
        raise InvalidInput(
            "the gitlab provider needs the project's path as group/project or "
            "group/subgroup/project (MIREL_HOST_REPOSITORY) and a token with the api scope "
            "(MIREL_HOST_TOKEN or MIREL_GIT_TOKEN)"
        )
    api = (host.api_url or DEFAULT_API).rstrip("/")
    if not api.endswith("/api/v4"):
        api += "/api/v4"  # a self-managed instance named by its address alone
    return GitLabApi(project, host.token, http, api)


def _message(answer: httpx.Response) -> str:
    """Return what GitLab says is wrong: its `message` (a text, a list, or a field -> reasons
    mapping) or its OAuth-style `error_description`."""
    found = error_body(answer)
    if found is None:
        return answer.reason_phrase
    message = found.get("message") or found.get("error_description") or found.get("error")
    if isinstance(message, list):
        text = "; ".join(str(item) for item in message)
    elif isinstance(message, dict):
        text = "; ".join(
            f"{name} {' '.join(map(str, why)) if isinstance(why, list) else why}"
            for name, why in message.items()
        )
    else:
        text = str(message or answer.reason_phrase)
    return text[:300]


_CHECK = "MIREL_HOST_REPOSITORY and the token's access to it"


def _json(answer: httpx.Response, status: int) -> Any:
    return expect_json(answer, (status,), host="GitLab", describe=_message, check=_CHECK)


def _object(answer: httpx.Response, status: int) -> dict[str, Any]:
    return expect_object(
        answer, (status,), host="GitLab", describe=_message, check=_CHECK, what="a merge request"
    )

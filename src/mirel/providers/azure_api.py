"""The few calls of the Azure DevOps REST API (version 7.1) that mirel makes, over httpx: open,
read, list, complete and abandon pull requests of an Azure Repos repository, on Azure DevOps
Services (dev.azure.com) or an Azure DevOps Server collection. A thin adapter: Azure's JSON in,
Azure's JSON out, and its failures turned into mirel's errors with messages that say what to do.

Three things are Azure's own. A merge ("completion") may finish after the call that asks for it:
the adapter then reads the pull request again a few times until it is completed. The list call
has one status filter, so "closed" (completed or abandoned) is read from `all`, skipping the
active ones. And the list call cuts descriptions to 400 characters, which would lose mirel's
comment at their end: a pull request listed with a description that long is read again whole.

The token is a personal access token, sent with HTTP basic authentication and an empty user
name; it only ever goes in the Authorization header, never in a message or a log line.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

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
from mirel.providers.host_answers import error_body, expect_object
from mirel.providers.host_api import HostedPull, HostSettings, HostState, ListedState

API_VERSION = "7.1"
DEFAULT_API = "https://dev.azure.com"
_TIMEOUT = 15.0
PAGE = 100
HEADS = "refs/heads/"
LISTED_DESCRIPTION = 400  # the list call cuts descriptions to this many characters
_STATES: dict[str, HostState] = {"active": "open", "completed": "merged", "abandoned": "closed"}
# 404s that say the repository or project is missing (or hidden), not the pull request.
_WRONG_PLACE = ("TF401019", "TF200016", "GitRepositoryNotFoundException", "ProjectDoesNotExist")


@dataclass(frozen=True)
class AzureRepository:
    """Which repository, in which project and organization (or Azure DevOps Server
    collection), behind which API URL."""

    organization: str | None  # None: `api_url` is the collection's URL itself
    project: str
    name: str
    api_url: str = DEFAULT_API

    @property
    def collection_url(self) -> str:
        """The organization's (collection's) URL: the root of its API and of its pages."""
        api = self.api_url.rstrip("/")
        last = unquote(urlsplit(api).path.rstrip("/").rpartition("/")[2])
        if self.organization is None or last.lower() == self.organization.lower():
            return api
        return f"{api}/{quote(self.organization, safe='')}"

    @property
    def path(self) -> str:
        project, name = quote(self.project, safe=""), quote(self.name, safe="")
        return f"/{project}/_apis/git/repositories/{name}"

    @property
    def web_url(self) -> str:
        project, name = quote(self.project, safe=""), quote(self.name, safe="")
        return f"{self.collection_url}/{project}/_git/{name}"

    def __str__(self) -> str:
        return "/".join(part for part in (self.organization, self.project, self.name) if part)


class AzureApi:
    """Pull request calls on one Azure Repos repository, authenticated with one token.

    `merge_polls` and `merge_wait` bound how long a merge the host queued is waited for."""

    host = "Azure DevOps"
    shows_html_comments = False

    def __init__(
        self,
        repository: AzureRepository,
        token: str,
        client: httpx.Client | None = None,
        *,
        page_size: int = PAGE,
        merge_polls: int = 15,
        merge_wait: float = 1.0,
    ) -> None:
        self.repository = repository
        self.page_size = page_size
        self.merge_polls = merge_polls
        self.merge_wait = merge_wait
        self._authorization = "Basic " + base64.b64encode(f":{token}".encode()).decode()
        self._client = client or httpx.Client(timeout=_TIMEOUT)
        # Where in the `all` list each page of closed pull requests starts, by (head, page).
        self._closed_from: dict[tuple[str | None, int], int] = {}

    def branch_url(self, branch: str) -> str:
        """Return the branch's page on Azure DevOps."""
        return f"{self.repository.web_url}?version=GB{quote(branch, safe='/')}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        where = self.repository
        url = f"{where.collection_url}{where.path}{path}"
        params = {**kwargs.pop("params", {}), "api-version": API_VERSION}
        headers = {"Authorization": self._authorization, "Accept": "application/json"}
        try:
            answer = self._client.request(method, url, params=params, headers=headers, **kwargs)
        except httpx.HTTPError as error:
            raise RemoteUnreachable(
                f"cannot reach Azure DevOps at {where.api_url}: {type(error).__name__}; "
                "nothing was changed, try again once it answers"
            ) from error
        if answer.status_code == 429:
            wait = answer.headers.get("retry-after")
            raise RemoteUnreachable(
                f"Azure DevOps is rate-limiting mirel's token (retry after "
                f"{wait + ' s' if wait else 'a while'}); nothing was changed, try again then"
            )
        # A token the service does not take may also get 203 and a sign-in page.
        if answer.status_code in (203, 401, 403):
            raise RemoteUnreachable(
                f"Azure DevOps refused mirel's token for {where} ({answer.status_code}: "
                f"{_message(answer)}); give the personal access token the Code (Read & write) "
                "scope in that organization, and check that it has not expired"
            )
        if answer.status_code >= 500:
            raise RemoteUnreachable(
                f"Azure DevOps answered {answer.status_code} ({_message(answer)}); nothing was "
                "changed, try again in a moment"
            )
        return answer

    def _pull(self, data: dict[str, Any]) -> HostedPull:
        return _pull(data, self.repository.web_url)

    def open_pull(self, *, title: str, head: str, base: str, body: str) -> HostedPull:
        """Open a pull request of branch `head` into `base`; return Azure's pull request."""
        request = {
            "sourceRefName": HEADS + head,
            "targetRefName": HEADS + base,
            "title": title,
            "description": body,
        }
        answer = self._call("POST", "/pullrequests", json=request)
        if answer.status_code == 409 and _says(answer, "TF401179", "GitPullRequestExists"):
            raise AlreadyProposed(0, f"branch {head!r} already has an active pull request")
        if answer.status_code in (400, 409):
            raise InvalidInput(
                f"Azure DevOps refused the pull request of {head!r}: {_message(answer)}"
            )
        return self._pull(_object(answer, 201, 200))  # 201 from the service, 200 as described

    def pull(self, number: int) -> HostedPull:
        """Return pull request `number`."""
        answer = self._call("GET", f"/pullrequests/{number}")
        self._not_found(answer, number)
        return self._pull(_object(answer, 200))

    def _not_found(self, answer: httpx.Response, number: int) -> None:
        if answer.status_code == 404 and not _says(answer, *_WRONG_PLACE):
            raise PullRequestNotFound(f"there is no pull request #{number} on Azure DevOps")

    def pulls(
        self, state: ListedState, *, head: str | None = None, page: int = 1
    ) -> list[HostedPull]:
        """Return one page of pull requests (newest first) in `state` (open, closed, all)."""
        if state == "closed":
            found = self._closed_page(head, page)
        else:
            status = "active" if state == "open" else "all"
            found = self._listed(status, head, (page - 1) * self.page_size)
        return [self._whole(pull) for pull in found]

    def _listed(self, status: str, head: str | None, skip: int) -> list[HostedPull]:
        params: dict[str, str | int] = {
            "searchCriteria.status": status,
            "$top": self.page_size,
            "$skip": skip,
        }
        if head is not None:
            params["searchCriteria.sourceRefName"] = HEADS + head
        found = _object(self._call("GET", "/pullrequests", params=params), 200).get("value")
        if not isinstance(found, list):
            raise RemoteUnreachable("Azure DevOps answered a list of pull requests without one")
        return [self._pull(item) for item in found if isinstance(item, dict)]

    def _closed_page(self, head: str | None, page: int) -> list[HostedPull]:
        """Return page `page` of the completed and abandoned pull requests: Azure filters by one
        status only, so the `all` list is read with the active ones left out."""
        skip = 0 if page == 1 else self._closed_from.get((head, page))
        if skip is None:
            if len(self._closed_page(head, page - 1)) < self.page_size:
                return []
            skip = self._closed_from[(head, page)]
        kept: list[HostedPull] = []
        while True:
            found = self._listed("all", head, skip)
            for offset, pull in enumerate(found):
                if pull.state == "open":
                    continue
                kept.append(pull)
                if len(kept) == self.page_size:
                    self._closed_from[(head, page + 1)] = skip + offset + 1
                    return kept
            skip += len(found)
            if len(found) < self.page_size:
                return kept

    def _whole(self, pull: HostedPull) -> HostedPull:
        """Return a listed pull request with its whole description (the list cuts it)."""
        if pull.body is None or len(pull.body) < LISTED_DESCRIPTION:
            return pull
        return self.pull(pull.number)

    def merge(self, number: int, *, sha: str, title: str) -> str:
        """Complete pull request `number` with a merge commit if its head is still `sha`;
        return the merge commit."""
        request = {
            "status": "completed",
            "lastMergeSourceCommit": {"commitId": sha},
            "completionOptions": {
                "mergeStrategy": "noFastForward",
                "deleteSourceBranch": False,
                "mergeCommitMessage": title,
            },
        }
        answer = self._call("PATCH", f"/pullrequests/{number}", json=request)
        if answer.status_code == 409:
            if self.pull(number).state != "open":  # the other refusal Azure answers with 409
                raise PullRequestNotOpen(f"pull request #{number} is no longer active")
            raise PullRequestChanged(
                f"pull request #{number} has new commits since you opened it; look at its "
                "changes again before merging"
            )
        self._not_found(answer, number)
        return self._wait_for_merge(number, _object(answer, 200))

    def _wait_for_merge(self, number: int, data: dict[str, Any]) -> str:
        """Return the merge commit once Azure has completed the pull request it was asked to
        complete (`data` is its answer), reading it again a bounded number of times."""
        for _ in range(self.merge_polls):
            merged = self._completed(number, data)
            if merged is not None:
                return merged
            time.sleep(self.merge_wait)
            try:
                data = _object(self._call("GET", f"/pullrequests/{number}"), 200)
            except RemoteUnreachable as error:
                raise RemoteUnreachable(
                    f"Azure DevOps took the merge of pull request #{number}, then could not be "
                    f"read ({error}); look at the pull request there before merging again"
                ) from error
        merged = self._completed(number, data)
        if merged is not None:
            return merged
        raise RemoteUnreachable(
            f"Azure DevOps queued the merge of pull request #{number} but has not completed it "
            f"after {self.merge_polls * self.merge_wait:g} s; it may still complete on the "
            "host: look at the pull request there before merging again"
        )

    def _completed(self, number: int, data: dict[str, Any]) -> str | None:
        """Return the merge commit of a completed pull request, None while its merge is
        pending; raise if it cannot complete."""
        pull = self._pull(data)
        if pull.state == "merged":
            if pull.merge_sha is None:
                raise RemoteUnreachable(
                    f"Azure DevOps completed pull request #{number} without a merge commit"
                )
            return pull.merge_sha
        if pull.state == "closed":
            raise PullRequestNotOpen(f"pull request #{number} was abandoned on Azure DevOps")
        status = data.get("mergeStatus")
        why = str(data.get("mergeFailureMessage") or "")
        if status == "conflicts":
            raise MergeConflict(number, [why or "the files Azure DevOps found in conflict"])
        if status in ("rejectedByPolicy", "failure"):
            raise RemoteUnreachable(
                f"Azure DevOps did not complete pull request #{number} ({status}"
                f"{': ' + why if why else ''}); nothing was merged: meet the branch's policies, "
                "or complete it on Azure DevOps"
            )
        return None

    def close(self, number: int) -> HostedPull:
        """Abandon pull request `number` without merging it."""
        answer = self._call("PATCH", f"/pullrequests/{number}", json={"status": "abandoned"})
        self._not_found(answer, number)
        if answer.status_code in (400, 409):
            raise PullRequestNotOpen(
                f"Azure DevOps cannot abandon pull request #{number}: {_message(answer)}"
            )
        return self._pull(_object(answer, 200))


def _pull(data: dict[str, Any], web: str) -> HostedPull:
    """Return Azure's pull request as mirel reads it; `web` is the repository's page."""
    try:
        status = str(data["status"])
        if status not in _STATES:
            raise ValueError(f"a status mirel knows (it is {status!r})")
        state = _STATES[status]
        number = int(data["pullRequestId"])
        merged = state == "merged"
        closed_by = data.get("closedBy")
        return HostedPull(
            number=number,
            title=str(data["title"]),
            body=data.get("description"),
            state=state,
            head_branch=str(data["sourceRefName"]).removeprefix(HEADS),
            head_sha=str(data["lastMergeSourceCommit"]["commitId"]),
            base_branch=str(data["targetRefName"]).removeprefix(HEADS),
            base_sha=str(data["lastMergeTargetCommit"]["commitId"]),
            author=str(data["createdBy"]["uniqueName"]),
            created_at=str(data["creationDate"]),
            updated_at=str(data.get("closedDate") or data["creationDate"]),
            url=f"{web}/pullrequest/{number}",
            merge_sha=str(data["lastMergeCommit"]["commitId"]) if merged else None,
            merged_by=(
                str(closed_by["uniqueName"])
                if merged and isinstance(closed_by, dict) and closed_by.get("uniqueName")
                else None
            ),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise RemoteUnreachable(
            f"Azure DevOps answered a pull request without {error}; is MIREL_HOST_API_URL "
            "the Azure DevOps organization's or collection's URL?"
        ) from error


def _repository(host: HostSettings) -> AzureRepository:
    """Return the repository `host` names: organization/project/repository, as written or as
    read from a clone URL (organization/project/_git/repository, v3/organization/project/
    repository), or project/repository under the collection MIREL_HOST_API_URL names."""
    # Read from a clone URL, a project's name may be percent-encoded ("My%20Project").
    parts = [unquote(part) for part in (host.repository or "").strip("/").split("/")]
    if len(parts) == 4 and parts[2] == "_git":
        del parts[2]
    elif len(parts) == 4 and parts[0] == "v3":  # an SSH clone URL's path
        del parts[0]
    elif len(parts) == 3 and parts[1] == "_git" and host.api_url:
        del parts[1]
    api = host.api_url or DEFAULT_API
    if len(parts) == 3 and all(parts):
        return AzureRepository(parts[0], parts[1], parts[2], api)
    if len(parts) == 2 and all(parts) and host.api_url:
        return AzureRepository(None, parts[0], parts[1], api)
    raise InvalidInput(
        "the azure provider needs the repository as organization/project/repository "
        "(MIREL_HOST_REPOSITORY; project/repository when MIREL_HOST_API_URL is the "
        "collection's URL) and a personal access token (MIREL_HOST_TOKEN or MIREL_GIT_TOKEN)"
    )


def open_api(host: HostSettings, http: httpx.Client | None) -> AzureApi:
    """Return the adapter of the repository `host` names, with its personal access token."""
    where = _repository(host)
    if not host.token:
        raise InvalidInput(
            f"the azure provider needs a personal access token for {where} "
            "(MIREL_HOST_TOKEN or MIREL_GIT_TOKEN)"
        )
    return AzureApi(where, host.token, http)


def _message(answer: httpx.Response) -> str:
    found = error_body(answer)
    if found is None or not found.get("message"):
        return answer.reason_phrase
    return str(found["message"])[:300]


def _says(answer: httpx.Response, *marks: str) -> bool:
    """Return whether Azure's error names one of `marks` (a TF code, an exception's type)."""
    found = error_body(answer)
    if found is None:
        return False
    text = f"{found.get('message') or ''} {found.get('typeKey') or ''}"
    return any(mark in text for mark in marks)


def _object(answer: httpx.Response, *statuses: int) -> dict[str, Any]:
    check = "MIREL_HOST_REPOSITORY and the token's access to it"
    return expect_object(answer, statuses, host="Azure DevOps", describe=_message, check=check)

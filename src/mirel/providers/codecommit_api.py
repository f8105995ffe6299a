"""The few calls of AWS CodeCommit's API that mirel makes, over httpx: open, read, list, merge
and close pull requests. CodeCommit speaks AWS's JSON 1.1 protocol: every call is a POST of a
JSON body to the regional endpoint, the operation named in `X-Amz-Target`, signed with AWS
Signature Version 4 (aws_sigv4; no SDK: botocore would bring a whole SDK for one signature).

The credentials are an IAM access key: its id in MIREL_HOST_USERNAME, its secret in
MIREL_HOST_TOKEN (the git HTTPS credentials are separate: the git token). The secret only ever
goes into the signature, never in a header, a message or a log line.

What is peculiar to CodeCommit:
- Pull request ids are unique per account and region, not per repository: a pull request of
  another repository is answered as not found.
- A branch may have several open pull requests: mirel looks for an open one of the branch
  before it opens another (AlreadyProposed).
- ListPullRequests answers ids only, in no promised order, with a continuation token: `pulls`
  reads every id of the state, sorts them newest first (ids are increasing numbers) and reads
  the pull requests of the page asked for, one GetPullRequest each. Page numbers are not mapped
  onto continuation tokens: those come in CodeCommit's order, not newest first, and would have
  to be kept between calls.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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
from mirel.providers import aws_sigv4
from mirel.providers.host_api import HostedPull, HostSettings, HostState, ListedState

TARGET_PREFIX = "CodeCommit_20150413"
SERVICE = "codecommit"
CONTENT_TYPE = "application/x-amz-json-1.1"
DEFAULT_REGION = "us-east-1"
DEFAULT_API = f"https://codecommit.{DEFAULT_REGION}.amazonaws.com"
PAGE = 25  # pull requests per page: each is one GetPullRequest call
LIST_PAGE = 100  # ids per ListPullRequests call
_TIMEOUT = 15.0
_HEADS = "refs/heads/"
_NAME = re.compile(r"^[\w.-]{1,100}$")
_REGION = re.compile(
    r"(?:^|\.)codecommit(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\."
    r"(?:vpce\.)?amazonaws\.com(?:\.cn)?$"
)
# The refusals of the signature or of the key itself (AWS's common errors).
_SIGNATURE = {
    "InvalidSignatureException",
    "IncompleteSignature",
    "IncompleteSignatureException",
    "SignatureDoesNotMatch",
    "RequestExpired",
}
_KEY = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "MissingAuthenticationToken",
    "MissingAuthenticationTokenException",
    "ExpiredTokenException",
}
_DENIED = {"AccessDeniedException", "AccessDenied", "NotAuthorized"}
_THROTTLED = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
}
_NOT_FOUND = {
    "PullRequestDoesNotExistException",
    "InvalidPullRequestIdException",
    "RepositoryNotAssociatedWithPullRequestException",
}


def region_of(api_url: str) -> str:
    """Return the region of a CodeCommit endpoint (`https://codecommit.eu-west-1.amazonaws.com`,
    a FIPS or VPC endpoint); us-east-1 for any other URL (a proxy, a simulator)."""
    found = _REGION.search(httpx.URL(api_url).host)
    return found[1] if found else DEFAULT_REGION


@dataclass(frozen=True)
class CodeCommitRepository:
    """Which repository, behind which endpoint, in which region."""

    name: str
    api_url: str = DEFAULT_API
    region: str = DEFAULT_REGION

    @property
    def console(self) -> str:
        """Return the repository's page in the AWS console."""
        return (
            f"https://{self.region}.console.aws.amazon.com/codesuite/codecommit/repositories/"
            f"{self.name}"
        )


@dataclass(frozen=True)
class _Answer:
    """CodeCommit's answer to one call: its JSON, or the error it names."""

    status: int
    data: dict[str, Any]
    error: str | None  # the error's shape name (without a namespace), None on success
    message: str


class CodeCommitApi:
    """Pull request calls on one repository, signed with one access key."""

    host = "CodeCommit"
    shows_html_comments = False
    page_size = PAGE

    def __init__(
        self,
        repository: CodeCommitRepository,
        credentials: aws_sigv4.Credentials,
        client: httpx.Client | None = None,
    ) -> None:
        self.repository = repository
        self._credentials = credentials
        self._client = client or httpx.Client(timeout=_TIMEOUT)

    def branch_url(self, branch: str) -> str:
        """Return the branch's page in the AWS console."""
        return f"{self.repository.console}/browse/refs/heads/{branch}"

    def _send(self, operation: str, payload: dict[str, Any]) -> httpx.Response:
        url = httpx.URL(self.repository.api_url)
        body = json.dumps(payload).encode()
        headers = {
            "Host": url.netloc.decode("ascii"),
            "X-Amz-Date": aws_sigv4.amz_date(),
            "X-Amz-Target": f"{TARGET_PREFIX}.{operation}",
            "Content-Type": CONTENT_TYPE,
        }
        headers["Authorization"] = aws_sigv4.authorization(
            self._credentials,
            method="POST",
            path=url.path,
            query=url.query.decode("ascii"),
            headers=headers,
            body=body,
            region=self.repository.region,
            service=SERVICE,
        )
        try:
            return self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise RemoteUnreachable(
                f"cannot reach CodeCommit at {self.repository.api_url}: "
                f"{type(error).__name__}; nothing was changed, try again once it answers"
            ) from error

    def _call(self, operation: str, payload: dict[str, Any]) -> _Answer:
        """Make one call; raise RemoteUnreachable for what only the person running mirel can
        fix (the key, its permissions, the region) or what passes (throttling, an outage)."""
        answer = _read(self._send(operation, payload))
        if answer.error is None:
            return answer
        what = f"{answer.error}: {answer.message}"
        if answer.error in _SIGNATURE:
            raise RemoteUnreachable(
                f"CodeCommit refused the signature of mirel's requests ({what}); check that "
                "MIREL_HOST_TOKEN is the secret access key of the access key id in "
                f"MIREL_HOST_USERNAME, that the repository is in region {self.repository.region} "
                "(MIREL_HOST_API_URL names it), and that this machine's clock is right"
            )
        if answer.error in _KEY or (answer.status == 403 and answer.error not in _DENIED):
            raise RemoteUnreachable(
                f"CodeCommit does not accept mirel's access key ({what}); check that "
                "MIREL_HOST_USERNAME is an active IAM access key id and MIREL_HOST_TOKEN its "
                "secret access key"
            )
        if answer.error in _DENIED:
            raise RemoteUnreachable(
                f"CodeCommit refused {operation} on {self.repository.name} ({what}); allow the "
                "access key's IAM user codecommit:CreatePullRequest, GetPullRequest, "
                "ListPullRequests, MergePullRequestByThreeWay and UpdatePullRequestStatus on "
                "the repository"
            )
        if answer.error in _THROTTLED or answer.status == 429:
            raise RemoteUnreachable(
                f"CodeCommit is throttling mirel's access key ({what}); nothing was changed, "
                "try again in a moment"
            )
        if answer.status >= 500:
            raise RemoteUnreachable(
                f"CodeCommit answered {answer.status} ({what}); nothing was changed, try again "
                "in a moment"
            )
        if answer.error == "RepositoryDoesNotExistException":
            raise RemoteUnreachable(
                f"CodeCommit has no repository {self.repository.name!r} in region "
                f"{self.repository.region}; check MIREL_HOST_REPOSITORY and the region in "
                "MIREL_HOST_API_URL"
            )
        return answer

    def _unexpected(self, answer: _Answer) -> RemoteUnreachable:
        return RemoteUnreachable(
            f"CodeCommit answered {answer.status} ({answer.error}: {answer.message}); check "
            "MIREL_HOST_REPOSITORY and MIREL_HOST_API_URL"
        )

    def open_pull(self, *, title: str, head: str, base: str, body: str) -> HostedPull:
        """Open a pull request of branch `head` into `base`, unless the branch has an open one
        (CodeCommit would open a second)."""
        pending = self.pulls("open", head=head)
        if pending:
            number = pending[0].number
            raise AlreadyProposed(number, f"branch {head!r} already has pull request #{number}")
        target = {
            "repositoryName": self.repository.name,
            "sourceReference": head,
            "destinationReference": base,
        }
        payload = {
            "title": title,
            "description": body,
            "targets": [target],
            "clientRequestToken": str(uuid.uuid4()),  # CodeCommit's idempotency token
        }
        answer = self._call("CreatePullRequest", payload)
        if answer.error is not None:
            if answer.error in ("ReferenceDoesNotExistException", "InvalidReferenceNameException"):
                raise InvalidInput(
                    f"CodeCommit has no branch {head!r} or {base!r} in {self.repository.name} "
                    f"({answer.message}); check that MIREL_HOST_REPOSITORY names the repository "
                    "MIREL_REPO pushes to"
                )
            if answer.error.startswith(("Invalid", "Title", "SourceAndDestination", "Maximum")):
                raise InvalidInput(
                    f"CodeCommit refused the pull request of {head!r} ({answer.error}: "
                    f"{answer.message})"
                )
            raise self._unexpected(answer)
        return self._pull(answer.data.get("pullRequest"))

    def _get(self, number: int) -> HostedPull:
        answer = self._call("GetPullRequest", {"pullRequestId": str(number)})
        if answer.error in _NOT_FOUND:
            raise PullRequestNotFound(f"there is no pull request #{number} on CodeCommit")
        if answer.error is not None:
            raise self._unexpected(answer)
        return self._pull(answer.data.get("pullRequest"))

    def pull(self, number: int) -> HostedPull:
        """Return pull request `number` of this repository (the ids are the account's)."""
        found = self._get(number)
        if found.number < 0:
            raise PullRequestNotFound(
                f"there is no pull request #{number} in {self.repository.name} on CodeCommit"
            )
        return found

    def _ids(self, state: ListedState) -> list[int]:
        """Return the ids of every pull request of the repository in `state`, newest first."""
        payload: dict[str, Any] = {"repositoryName": self.repository.name, "maxResults": LIST_PAGE}
        if state != "all":
            payload["pullRequestStatus"] = state.upper()
        ids: set[int] = set()
        while True:
            answer = self._call("ListPullRequests", payload)
            if answer.error is not None:
                raise self._unexpected(answer)
            found = answer.data.get("pullRequestIds")
            if not isinstance(found, list):
                raise RemoteUnreachable("CodeCommit answered a list of pull requests without ids")
            try:
                ids.update(int(item) for item in found)
            except (TypeError, ValueError) as error:
                raise RemoteUnreachable(
                    f"CodeCommit answered a pull request id that is not a number: {error}"
                ) from error
            token = answer.data.get("nextToken")
            if not token:
                return sorted(ids, reverse=True)
            payload["nextToken"] = token

    def pulls(
        self, state: ListedState, *, head: str | None = None, page: int = 1
    ) -> list[HostedPull]:
        """Return one page of pull requests (newest first) in `state` (open, closed, all); with
        `head`, every pull request of the state is read to find the branch's (CodeCommit cannot
        filter by branch)."""
        ids = self._ids(state)
        start, end = (page - 1) * PAGE, page * PAGE
        if head is None:
            return [self.pull(number) for number in ids[start:end]]
        pulls = [self.pull(number) for number in ids]
        return [pull for pull in pulls if pull.head_branch == head][start:end]

    def merge(self, number: int, *, sha: str, title: str) -> str:
        """Merge pull request `number` (a merge commit) if its head is still `sha`; return the
        merge commit."""
        payload = {
            "pullRequestId": str(number),
            "repositoryName": self.repository.name,
            "sourceCommitId": sha,
            "commitMessage": title,
        }
        answer = self._call("MergePullRequestByThreeWay", payload)
        if answer.error == "TipOfSourceReferenceIsDifferentException":
            raise PullRequestChanged(
                f"pull request #{number} has new commits since you opened it; look at its "
                "changes again before merging"
            )
        if answer.error == "ManualMergeRequiredException":
            # Which files, CodeCommit tells only through another call; mirel's merge gate
            # names them from the mirror before it gets here.
            raise MergeConflict(number, ["files CodeCommit cannot merge automatically"])
        if answer.error == "PullRequestAlreadyClosedException":
            raise PullRequestNotOpen(f"pull request #{number} is already closed on CodeCommit")
        if answer.error == "PullRequestApprovalRulesNotSatisfiedException":
            raise PushDeclined(
                f"CodeCommit will not merge pull request #{number} before its approval rules "
                "are satisfied; have it approved on CodeCommit, then merge it"
            )
        if answer.error == "ConcurrentReferenceUpdateException":
            raise RemoteUnreachable(
                f"the base branch of pull request #{number} moved while CodeCommit merged it; "
                "nothing was merged, try again"
            )
        if answer.error in _NOT_FOUND:
            raise PullRequestNotFound(f"there is no pull request #{number} on CodeCommit")
        if answer.error is not None:
            raise self._unexpected(answer)
        merged = self._pull(answer.data.get("pullRequest"))
        if merged.merge_sha is None:
            raise RemoteUnreachable(f"CodeCommit merged pull request #{number} without a commit")
        return merged.merge_sha

    def close(self, number: int) -> HostedPull:
        """Close pull request `number` of this repository without merging it."""
        self.pull(number)  # the id could be another repository's
        payload = {"pullRequestId": str(number), "pullRequestStatus": "CLOSED"}
        answer = self._call("UpdatePullRequestStatus", payload)
        if answer.error == "InvalidPullRequestStatusUpdateException":
            raise PullRequestNotOpen(f"CodeCommit cannot close pull request #{number}")
        if answer.error in _NOT_FOUND:
            raise PullRequestNotFound(f"there is no pull request #{number} on CodeCommit")
        if answer.error is not None:
            raise self._unexpected(answer)
        return self._pull(answer.data.get("pullRequest"))

    def _pull(self, data: Any) -> HostedPull:
        """Return CodeCommit's pull request as mirel reads it; one of another repository gets
        the number -1 (the ids are the account's: `pull` answers it as not found)."""
        try:
            found = _pull(data, self.repository)
        except (KeyError, TypeError, ValueError, IndexError, OverflowError) as error:
            raise RemoteUnreachable(
                f"CodeCommit answered a pull request without {error}; is MIREL_HOST_API_URL "
                "CodeCommit's API?"
            ) from error
        return found


def _stamp(value: Any) -> str:
    """Return an epoch-seconds timestamp (AWS JSON's) as ISO 8601 UTC."""
    return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _last(arn: Any) -> str:
    """Return the last part of an ARN: the user (or the role session) it names."""
    return str(arn).rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def _pull(data: dict[str, Any], repository: CodeCommitRepository) -> HostedPull:
    target = data["pullRequestTargets"][0]
    merged = target.get("mergeMetadata") or {}
    state: HostState = (
        "open"
        if data["pullRequestStatus"] == "OPEN"
        else "merged"
        if merged.get("isMerged")
        else "closed"
    )
    number = int(data["pullRequestId"])
    return HostedPull(
        number=number if target["repositoryName"] == repository.name else -1,
        title=str(data.get("title") or ""),
        body=data.get("description"),
        state=state,
        head_branch=str(target["sourceReference"]).removeprefix(_HEADS),
        head_sha=str(target["sourceCommit"]),
        base_branch=str(target["destinationReference"]).removeprefix(_HEADS),
        base_sha=str(target["destinationCommit"]),
        author=_last(data["authorArn"]),
        created_at=_stamp(data["creationDate"]),
        updated_at=_stamp(data.get("lastActivityDate") or data["creationDate"]),
        url=f"{repository.console}/pull-requests/{number}",
        merge_sha=str(merged["mergeCommitId"]) if merged.get("mergeCommitId") else None,
        merged_by=_last(merged["mergedBy"]) if merged.get("mergedBy") else None,
    )


def _read(response: httpx.Response) -> _Answer:
    """Return the JSON of an answer, and the error it names (AWS JSON 1.1: `__type`, maybe
    `namespace#Name:extra`, or the X-Amzn-ErrorType header)."""
    try:
        data = response.json() if response.content else {}
    except ValueError:
        data = None
    if not isinstance(data, dict):
        if response.status_code < 300:
            raise RemoteUnreachable("CodeCommit answered something that is not a JSON object")
        data = {}
    if response.status_code < 300:
        return _Answer(response.status_code, data, None, "")
    kind = str(
        response.headers.get("x-amzn-errortype") or data.get("__type") or data.get("code") or ""
    )
    kind = re.split(r"[,:]", kind)[0].rsplit("#", 1)[-1] or f"HTTP {response.status_code}"
    message = str(data.get("message") or data.get("Message") or response.reason_phrase)
    return _Answer(response.status_code, data, kind, message[:300])


def open_api(host: HostSettings, http: httpx.Client | None) -> CodeCommitApi:
    """Return the adapter of the repository `host` names (its name, with an access key)."""
    name = (host.repository or "").removeprefix("v1/repos/")  # read from a clone URL
    if not _NAME.match(name) or not host.username or not host.token:
        raise InvalidInput(
            "the codecommit provider needs the repository's name (MIREL_HOST_REPOSITORY), "
            "an IAM access key id (MIREL_HOST_USERNAME) and its secret access key "
            "(MIREL_HOST_TOKEN)"
        )
    api = host.api_url or DEFAULT_API
    where = CodeCommitRepository(name, api, region_of(api))
    return CodeCommitApi(where, aws_sigv4.Credentials(host.username, host.token), http)

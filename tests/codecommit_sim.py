"""An AWS CodeCommit simulator for the tests: the pull request operations mirel calls, over real
HTTP on loopback in AWS's JSON 1.1 protocol (POST /, `X-Amz-Target: CodeCommit_20150413.<Op>`),
on the very bare repositories the loopback git server (git_server.py) serves.

Every request's Signature Version 4 is checked for real: recomputed here, independently of
mirel's signer, with the one secret access key the simulator knows, and refused as CodeCommit
refuses it (400, `{"__type": "InvalidSignatureException", ...}`). Every request body it takes
and every answer it gives is checked against CodeCommit's published model in
specs/codecommit-pullrequests.json, and every error it answers must be one the operation
declares (each violation is kept in `violations`). Merges are real, with libgit2.

Like CodeCommit: pull request ids are the account's (one counter for every repository), a
branch may have several open pull requests, ListPullRequests answers ids in no numeric order
with a continuation token, and a pull request whose commits reached its base by a push is shown
merged. `merge_on_page` is a person pressing "Merge" in the AWS console.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import hashlib
import hmac
import json
import re
import time
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema_rs
import pygit2

from hosts import JsonHandler, LoopbackSimulator
from mirel.providers import HostSettings
from mirel.providers.webhook_schemes import sign

SPEC = json.loads((Path(__file__).parent / "specs" / "codecommit-pullrequests.json").read_text())
PREFIX = "CodeCommit_20150413."
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key id
REGION = "us-east-1"
ACCOUNT = "123456789012"
BOT = f"arn:aws:iam::{ACCOUNT}:user/mirel-bot"
PERSON = f"arn:aws:iam::{ACCOUNT}:user/alice"
NAMESPACE = "com.amazonaws.codecommit#"
# Errors every AWS operation may answer, besides those its model declares.
COMMON = {
    "InvalidSignatureException",
    "IncompleteSignatureException",
    "MissingAuthenticationTokenException",
    "UnrecognizedClientException",
    "AccessDeniedException",
    "ThrottlingException",
    "InternalFailure",
    "ServiceUnavailable",
    "SerializationException",
    "UnknownOperationException",
}
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/,\s]+)/(?P<scope>\d{8}/[^/,\s]+/[^/,\s]+/"
    r"aws4_request), ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?Signature=(?P<proof>[0-9a-f]{64})"
)
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details."
)


def _validator(section: str, name: str) -> Any:
    return jsonschema_rs.validator_for({**SPEC, "$ref": f"#/{section}/{name}"})


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def expected_signature(
    secret: str, request: str, amz_date: str, scope: str
) -> str:  # the simulator's own SigV4, not mirel's
    text = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, _sha256(request.encode())])
    key = f"AWS4{secret}".encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


class Refused(Exception):
    """An error answer of the simulated service: its status, error shape name and message."""

    def __init__(self, name: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.name, self.message, self.status = name, message, status


class CodeCommitSimulator(LoopbackSimulator):
    """Serves https://codecommit.us-east-1.amazonaws.com's pull request operations for the
    repositories under `root` (a hosts.SimulatedHost); `token` is the secret access key."""

    kind = "codecommit"

    def __init__(self, root: Path, token: str) -> None:
        super().__init__(root, token)
        self.secret = token
        self.pulls: dict[int, dict[str, Any]] = {}
        # (status, error name, message) answered, one per request, before anything else.
        self.faults: list[tuple[int, str, str]] = []
        self.clock_skew = 0.0  # seconds added to the simulator's clock

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)

    def check(self, section: str, name: str, value: Any) -> None:
        """Keep a violation when `value` breaks CodeCommit's model of shape `name`."""
        for error in _validator(section, name).iter_errors(value):
            self.violations.append(f"{name}: {error.message} at {list(error.instance_path)}")

    # -- the signature ----------------------------------------------------------------------

    def verify(self, method: str, target: str, headers: Any, body: bytes) -> None:
        """Refuse a request whose Signature Version 4 is missing, malformed, stale, of another
        key, region or service, or not the one the known secret gives."""
        found = _AUTH.fullmatch(headers.get("Authorization") or "")
        if not headers.get("Authorization"):
            raise Refused("MissingAuthenticationTokenException", "Missing Authentication Token")
        if found is None:
            raise Refused("IncompleteSignatureException", "Authorization header is malformed")
        if found["key"] != ACCESS_KEY_ID:
            raise Refused(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        date = headers.get("X-Amz-Date") or ""
        day, region, service, _ = found["scope"].split("/")
        signed = found["signed"].split(";")
        if "host" not in signed or "x-amz-date" not in signed or signed != sorted(signed):
            raise Refused("IncompleteSignatureException", "Host and X-Amz-Date must be signed")
        if "x-amz-target" not in signed:
            self.violations.append("X-Amz-Target is not signed")
        if region != REGION or service != "codecommit" or day != date[:8]:
            raise Refused("InvalidSignatureException", f"Credential should be scoped to {REGION}")
        try:
            sent = calendar.timegm(time.strptime(date, "%Y%m%dT%H%M%SZ"))
        except ValueError as error:
            raise Refused("IncompleteSignatureException", "X-Amz-Date is malformed") from error
        if abs(time.time() + self.clock_skew - sent) > 300:
            raise Refused("InvalidSignatureException", f"Signature expired: {date} is too old")
        path, _, query = target.partition("?")
        lines = "".join(
            f"{name}:{' '.join(','.join(headers.get_all(name) or []).split())}\n" for name in signed
        )
        request = "\n".join([method, path, query, lines, found["signed"], _sha256(body)])
        expected = expected_signature(self.secret, request, date, found["scope"])
        if not hmac.compare_digest(expected, found["proof"]):
            raise Refused("InvalidSignatureException", _MISMATCH)

    # -- the repository ---------------------------------------------------------------------

    def _git(self, name: str) -> pygit2.Repository:
        path = self.root / f"{name}.git"
        if not path.is_dir():
            raise Refused("RepositoryDoesNotExistException", f"{name} does not exist")
        return pygit2.Repository(str(path))

    def _tip(self, git: pygit2.Repository, ref: str) -> str | None:
        found = git.references.get(ref)
        return str(found.target) if found is not None else None

    # -- pull requests ----------------------------------------------------------------------

    def _find(self, body: dict[str, Any]) -> dict[str, Any]:
        text = str(body.get("pullRequestId") or "")
        if not text.isdigit():
            raise Refused("InvalidPullRequestIdException", f"{text!r} is not a pull request id")
        if int(text) not in self.pulls:
            raise Refused("PullRequestDoesNotExistException", f"pull request {text} not found")
        return self.view(int(text))

    def view(self, number: int) -> dict[str, Any]:
        """Return pull request `number` as CodeCommit shows it now (its branches followed)."""
        pull = self.pulls[number]
        target = pull["pullRequestTargets"][0]
        if pull["pullRequestStatus"] == "OPEN":
            git = self._git(target["repositoryName"])
            head = self._tip(git, target["sourceReference"]) or target["sourceCommit"]
            base = self._tip(git, target["destinationReference"]) or target["destinationCommit"]
            merge_base = git.merge_base(head, base)
            target.update(sourceCommit=head, destinationCommit=base)
            if merge_base is not None:
                target["mergeBase"] = str(merge_base)
            if head != base and git.descendant_of(base, head):
                # Its commits reached the base by a push: CodeCommit marks it merged.
                self._mark_merged(pull, base, BOT)
        return pull

    def _mark_merged(self, pull: dict[str, Any], merge_sha: str, by: str) -> None:
        pull.update(pullRequestStatus="CLOSED", lastActivityDate=time.time())
        pull["pullRequestTargets"][0]["mergeMetadata"] = {
            "isMerged": True,
            "mergedBy": by,
            "mergeCommitId": merge_sha,
            "mergeOption": "THREE_WAY_MERGE",
        }

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        token = body.get("clientRequestToken")
        for number, pull in self.pulls.items():
            if token and pull["clientRequestToken"] == token:
                return {"pullRequest": self.view(number)}  # the idempotent retry
        if len(body["targets"]) != 1:
            raise Refused("MultipleRepositoriesInPullRequestException", "one target only")
        target = body["targets"][0]
        git = self._git(target["repositoryName"])
        refs = [target["sourceReference"], target.get("destinationReference") or "main"]
        source, destination = (
            ref if ref.startswith("refs/") else f"refs/heads/{ref}" for ref in refs
        )
        head, base = self._tip(git, source), self._tip(git, destination)
        if head is None or base is None:
            raise Refused("ReferenceDoesNotExistException", "The reference does not exist")
        if source == destination:
            raise Refused("SourceAndDestinationAreSameException", "source is the destination")
        number = max(self.pulls, default=0) + 1
        stamp = time.time()
        self.pulls[number] = {
            "pullRequestId": str(number),
            "title": body["title"],
            "description": body.get("description", ""),
            "lastActivityDate": stamp,
            "creationDate": stamp,
            "pullRequestStatus": "OPEN",
            "authorArn": BOT,
            "pullRequestTargets": [
                {
                    "repositoryName": target["repositoryName"],
                    "sourceReference": source,
                    "destinationReference": destination,
                    "destinationCommit": base,
                    "sourceCommit": head,
                    "mergeBase": str(git.merge_base(head, base)),
                    "mergeMetadata": {"isMerged": False},
                }
            ],
            "clientRequestToken": token or str(uuid.uuid4()),
            "revisionId": uuid.uuid4().hex,
            "approvalRules": [],
        }
        return {"pullRequest": self.pulls[number]}

    def list(self, body: dict[str, Any]) -> dict[str, Any]:
        name, status = body["repositoryName"], body.get("pullRequestStatus")
        self._git(name)
        size = body.get("maxResults", 100)
        if not 1 <= size <= 1000:
            raise Refused("InvalidMaxResultsException", f"maxResults {size} is not valid")
        chosen = [
            str(number)
            for number in self.pulls
            if self.pulls[number]["pullRequestTargets"][0]["repositoryName"] == name
            and status in (None, self.view(number)["pullRequestStatus"])
        ]
        chosen.sort()  # CodeCommit promises no order: here "10" comes before "9"
        start = 0
        if body.get("nextToken"):
            try:
                start = int(json.loads(base64.b64decode(body["nextToken"]))["offset"])
            except (ValueError, KeyError, TypeError, binascii.Error) as error:
                raise Refused("InvalidContinuationTokenException", "bad nextToken") from error
        answer: dict[str, Any] = {"pullRequestIds": chosen[start : start + size]}
        if start + size < len(chosen):
            answer["nextToken"] = base64.b64encode(
                json.dumps({"offset": start + size}).encode()
            ).decode()
        return answer

    def merge(self, body: dict[str, Any], by: str = BOT) -> dict[str, Any]:
        """Merge for real: a merge commit of the source into the destination branch."""
        pull = self._find(body)
        target = pull["pullRequestTargets"][0]
        if body["repositoryName"] != target["repositoryName"]:
            raise Refused("RepositoryNotAssociatedWithPullRequestException", "other repository")
        if pull["pullRequestStatus"] != "OPEN":
            raise Refused("PullRequestAlreadyClosedException", "The pull request is closed")
        if body.get("sourceCommitId") not in (None, target["sourceCommit"]):
            raise Refused(
                "TipOfSourceReferenceIsDifferentException",
                "The tip of the source branch does not match the one in your request",
            )
        git = self._git(target["repositoryName"])
        base = pygit2.Oid(hex=target["destinationCommit"])
        head = pygit2.Oid(hex=target["sourceCommit"])
        index = git.merge_commits(base, head)
        if index.conflicts is not None:
            raise Refused("ManualMergeRequiredException", "The pull request needs a manual merge")
        signature = pygit2.Signature(
            body.get("authorName") or by.rsplit("/", 1)[-1],
            body.get("email") or "codecommit@example.com",
        )
        message = body.get("commitMessage") or f"Merge pull request {pull['pullRequestId']}"
        tree = index.write_tree(git)
        merged = git.create_commit(None, signature, signature, f"{message}\n", tree, [base, head])
        git.references[target["destinationReference"]].set_target(merged)
        target["destinationCommit"] = str(merged)
        self._mark_merged(pull, str(merged), by)
        return {"pullRequest": pull}

    def update_status(self, body: dict[str, Any]) -> dict[str, Any]:
        pull = self._find(body)
        if body["pullRequestStatus"] != "CLOSED" or pull["pullRequestStatus"] != "OPEN":
            raise Refused(
                "InvalidPullRequestStatusUpdateException",
                "The only valid update is from OPEN to CLOSED",
            )
        pull.update(pullRequestStatus="CLOSED", lastActivityDate=time.time())
        return {"pullRequest": pull}

    def dispatch(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        calls = {
            "CreatePullRequest": self.create,
            "GetPullRequest": lambda found: {"pullRequest": self._find(found)},
            "ListPullRequests": self.list,
            "MergePullRequestByThreeWay": self.merge,
            "UpdatePullRequestStatus": self.update_status,
        }
        return calls[operation](body)

    # -- hosts.SimulatedHost ----------------------------------------------------------------

    def settings(self, repository: str) -> HostSettings:
        return HostSettings("codecommit", repository, self.api_url, self.secret, ACCESS_KEY_ID)

    def state(self, repository: str, number: int) -> str:
        with self._lock:
            pull = self.view(number)
        assert pull["pullRequestTargets"][0]["repositoryName"] == repository
        if pull["pullRequestStatus"] == "OPEN":
            return "open"
        merged = pull["pullRequestTargets"][0]["mergeMetadata"].get("isMerged")
        return "merged" if merged else "closed"

    def pull_fields(self, repository: str, number: int) -> dict[str, str]:
        with self._lock:
            pull = self.view(number)
        target = pull["pullRequestTargets"][0]
        assert target["repositoryName"] == repository
        return {
            "title": pull["title"],
            "description": pull.get("description") or "",
            "head": target["sourceReference"].removeprefix("refs/heads/"),
            "base": target["destinationReference"].removeprefix("refs/heads/"),
        }

    def merge_on_page(self, repository: str, number: int) -> None:
        """A person merges the pull request in the AWS console."""
        with self._lock:
            self.merge({"pullRequestId": str(number), "repositoryName": repository}, PERSON)

    def webhook_proof(self, body: bytes, secret: str) -> dict[str, str]:
        # CodeCommit has no webhooks (its events go out through SNS or EventBridge): whatever
        # relays them signs with mirel's own scheme.
        return {"X-Mirel-Signature": sign(body, secret)}

    def answer(self, operation: str, handler: BaseHTTPRequestHandler, raw: bytes) -> Any:
        """Return the answer to one request (raise Refused for an error answer)."""
        if self.faults:
            status, name, message = self.faults.pop(0)
            raise Refused(name, message, status)
        if handler.headers.get("Content-Type") != "application/x-amz-json-1.1":
            self.violations.append(f"{operation}: Content-Type {handler.headers['Content-Type']}")
        if urlsplit(handler.path).path != "/":
            self.violations.append(f"{operation}: POST {handler.path}, not /")
        self.verify(handler.command, handler.path, handler.headers, raw)
        if operation not in SPEC["operations"]:
            raise Refused("UnknownOperationException", f"no operation {operation}")
        try:
            body = json.loads(raw)
        except ValueError as error:
            raise Refused("SerializationException", "the body is not JSON") from error
        self.check("requests", SPEC["operations"][operation]["input"], body)
        found = self.dispatch(operation, body)
        self.check("responses", SPEC["operations"][operation]["output"], found)
        return found


def _handler(sim: CodeCommitSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
            request_id = {"x-amzn-RequestId": str(uuid.uuid4())}
            self.send_json(status, body, "application/x-amz-json-1.1", {**request_id, **headers})

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            operation = (self.headers.get("X-Amz-Target") or "").removeprefix(PREFIX)
            sim.calls.append((self.command, operation))
            try:
                with sim._lock:
                    found = sim.answer(operation, self, raw)
            except Refused as refused:
                declared = SPEC["operations"].get(operation, {}).get("errors", [])
                if refused.name not in COMMON and refused.name not in declared:
                    sim.violations.append(f"{operation} cannot answer {refused.name}")
                if refused.name in COMMON:
                    # As AWS does: the type in a header too, with a suffix clients must cut.
                    error = {"__type": refused.name, "message": refused.message}
                    extra = {"x-amzn-ErrorType": f"{refused.name}:http://internal.amazon.com/"}
                else:
                    error = {"__type": NAMESPACE + refused.name, "message": refused.message}
                    extra = {}
                sim.check("responses", "error", error)
                self._send(refused.status, error, extra)
                return
            self._send(200, found, {})

    return Handler

"""An Azure DevOps (Azure Repos) simulator for the tests: the pull request calls mirel makes,
over real HTTP on loopback, on the very bare repositories the loopback git server
(git_server.py) serves.

It implements only what mirel calls (pullrequests: create, get, list, update to complete or
abandon), checks every request body it takes and every answer it gives against the Azure
DevOps description in specs/azure-pullrequests.json (each violation is kept in `violations`,
which tests assert empty), and merges for real with libgit2. `merge_on_page` is a person
pressing "Complete" on the pull request's page.

Switches for what the real service does now and then: `queue_merges` answers a completion
while it is still queued (`active`, mergeStatus `queued`) and completes it after
`queued_reads` reads of the pull request (never, with None); `sign_in_page` answers a refused
token with 203 and an HTML page instead of 401; `failing`, a status (429, 500, 503), answers
every call with it.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jsonschema_rs
import pygit2

from hosts import JsonHandler, LoopbackSimulator
from mirel.providers import HostSettings

SPEC = json.loads((Path(__file__).parent / "specs" / "azure-pullrequests.json").read_text())
HEADS = "refs/heads/"
USER = {
    "id": "d6245f20-2af8-44f4-9451-8107cb2767db",
    "displayName": "mirel bot",
    "uniqueName": "mirel-bot@example.com",
    "url": "https://dev.example.com/_apis/Identities/d6245f20-2af8-44f4-9451-8107cb2767db",
    "imageUrl": "https://dev.example.com/_api/_common/identityImage?id=d6245f20",
}
PAGE_USER = {**USER, "uniqueName": "person@example.com", "displayName": "A Person"}
LISTED_DESCRIPTION = 400  # the service cuts descriptions to this many characters in lists


def _validator(section: str, name: str) -> Any:
    return jsonschema_rs.validator_for({**SPEC, "$ref": f"#/{section}/{name}"})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _error(message: str, key: str) -> dict[str, Any]:
    """Return an error body as the service gives it (a wrapped .NET exception)."""
    return {
        "$id": "1",
        "innerException": None,
        "message": message,
        "typeName": f"Microsoft.TeamFoundation.Git.Server.{key}, Microsoft.TeamFoundation.Git",
        "typeKey": key,
        "errorCode": 0,
        "eventId": 3000,
    }


class AzureSimulator(LoopbackSimulator):
    """Serves https://dev.azure.com's pull request calls for the repositories under `root`
    (a hosts.SimulatedHost); every repository is in project `project` of organization
    `organization`."""

    kind = "azure"

    def __init__(
        self, root: Path, token: str, organization: str = "acme", project: str = "Acme Platform"
    ) -> None:
        super().__init__(root, token)
        self.organization = organization
        self.project = project
        self.pulls: dict[int, dict[str, Any]] = {}
        self.queue_merges = False
        self.queued_reads: int | None = 2
        self.sign_in_page = False
        self.failing: int | None = None
        self._queued: dict[int, int] = {}  # pull request -> reads left before it completes

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)

    # -- the repository ------------------------------------------------------------------------

    def has(self, name: str) -> bool:
        return (self.root / f"{name}.git").is_dir()

    def _branch(self, git: pygit2.Repository, ref: str) -> str | None:
        found = git.references.get(ref)
        return str(found.target) if found is not None else None

    def check(self, what: str, name: str, value: Any) -> None:
        """Keep a violation when `value` breaks Azure's description of `name`."""
        for error in _validator(what, name).iter_errors(value):
            self.violations.append(f"{name}: {error.message} at {list(error.instance_path)}")

    # -- pull requests -------------------------------------------------------------------------

    def _commit(self, name: str, sha: str) -> dict[str, str]:
        return {"commitId": sha, "url": f"{self._rest(name)}/commits/{sha}"}

    def _rest(self, name: str) -> str:
        return f"{self.api_url}/{self.organization}/_apis/git/repositories/{name}"

    def view(self, name: str, number: int) -> dict[str, Any]:
        """Return pull request `number` as Azure shows it now (its head followed, a queued
        merge moved on by one read)."""
        pull = self.pulls[number]
        git = self._git(name)
        if pull["status"] == "active":
            head = self._branch(git, pull["sourceRefName"])
            if head is not None:
                pull["lastMergeSourceCommit"] = self._commit(name, head)
            head = pull["lastMergeSourceCommit"]["commitId"]
            base = self._branch(git, pull["targetRefName"])
            if base is not None:
                pull["lastMergeTargetCommit"] = self._commit(name, base)
            if base and head != base and git.descendant_of(base, head):
                # Its commits reached the target by a push: Azure completes it ("merged
                # externally").
                self._queued.pop(number, None)
                self._mark_completed(name, pull, base, None)
            elif number in self._queued:
                self._move_queue(name, number)
        return pull

    def _move_queue(self, name: str, number: int) -> None:
        left = self._queued[number]
        if left < 0:  # queued for good
            return
        if left > 0:
            self._queued[number] = left - 1
            return
        del self._queued[number]
        self.complete(name, number, USER)

    def _mark_completed(
        self, name: str, pull: dict[str, Any], merge_sha: str, by: dict[str, Any] | None
    ) -> None:
        pull.update(
            status="completed",
            mergeStatus="succeeded",
            closedDate=_now(),
            lastMergeCommit=self._commit(name, merge_sha),
        )
        if by is not None:
            pull["closedBy"] = by

    def create(self, name: str, body: dict[str, Any]) -> tuple[int, Any]:
        git = self._git(name)
        source, target = body.get("sourceRefName", ""), body.get("targetRefName", "")
        head_sha, base_sha = self._branch(git, source), self._branch(git, target)
        if not source.startswith(HEADS) or head_sha is None or base_sha is None:
            return 400, _error(
                "TF401398: The pull request cannot be activated because the source and/or the "
                "target branch no longer exists, or the requested refs are not branches",
                "GitPullRequestCannotBeActivated",
            )
        for pull in self.pulls.values():
            same = (pull["sourceRefName"], pull["targetRefName"]) == (source, target)
            if pull["status"] == "active" and same:
                return 409, _error(
                    "TF401179: An active pull request for the source and target branch "
                    "already exists.",
                    "GitPullRequestExistsException",
                )
        number = max(self.pulls, default=0) + 1
        repository_id = str(uuid.uuid5(uuid.NAMESPACE_URL, name))
        self.pulls[number] = {
            "repository": {
                "id": repository_id,
                "name": name,
                "url": self._rest(name),
                "project": {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, self.project))},
            },
            "pullRequestId": number,
            "codeReviewId": number,
            "status": "active",
            "createdBy": USER,
            "creationDate": _now(),
            "title": body.get("title", ""),
            "description": body.get("description", ""),
            "sourceRefName": source,
            "targetRefName": target,
            "mergeStatus": "succeeded",
            "mergeId": str(uuid.uuid4()),
            "lastMergeSourceCommit": self._commit(name, head_sha),
            "lastMergeTargetCommit": self._commit(name, base_sha),
            "reviewers": [],
            "url": f"{self._rest(name)}/pullRequests/{number}",
            "supportsIterations": True,
            "artifactId": f"vstfs:///Git/PullRequestId/{repository_id}%2f{number}",
            "isDraft": False,
        }
        return 201, self.pulls[number]

    def complete(self, name: str, number: int, by: dict[str, Any]) -> bool:
        """Merge for real: a merge commit on the target branch, as "Complete" makes with the
        merge (no fast-forward) strategy; False, and mergeStatus `conflicts`, on a conflict."""
        pull = self.pulls[number]
        git = self._git(name)
        base_ref = pull["targetRefName"]
        base = git.references[base_ref].target
        head = pygit2.Oid(hex=pull["lastMergeSourceCommit"]["commitId"])
        index = git.merge_commits(base, head)
        if index.conflicts is not None:
            pull.update(mergeStatus="conflicts", mergeFailureMessage="conflicts in the files")
            return False
        signature = pygit2.Signature("Azure DevOps", "noreply@example.com")
        options = pull.get("completionOptions") or {}
        branch = pull["sourceRefName"].removeprefix(HEADS)
        message = options.get("mergeCommitMessage") or f"Merged PR {number}: {branch}"
        tree = index.write_tree(git)
        merged = git.create_commit(None, signature, signature, f"{message}\n", tree, [base, head])
        git.references[base_ref].set_target(merged)
        self._mark_completed(name, pull, str(merged), by)
        return True

    def update(self, name: str, number: int, body: dict[str, Any]) -> tuple[int, Any]:
        pull = self.view(name, number)
        wanted = body.get("status")
        if wanted in ("completed", "abandoned") and pull["status"] != "active":
            return 409, _error(
                f"The pull request cannot be edited due to its state ({pull['status']}).",
                "InvalidArgumentValueException",
            )
        if wanted == "abandoned":
            pull.update(status="abandoned", closedDate=_now(), closedBy=USER)
        elif wanted == "completed":
            given = (body.get("lastMergeSourceCommit") or {}).get("commitId")
            if given != pull["lastMergeSourceCommit"]["commitId"]:
                return 409, _error(
                    "The source branch of the pull request was updated since the commit given "
                    "as lastMergeSourceCommit; look at the pull request again.",
                    "GitPullRequestStaleException",
                )
            pull["completionOptions"] = body.get("completionOptions") or {}
            pull["completionQueueTime"] = _now()
            if self.queue_merges:
                pull["mergeStatus"] = "queued"
                self._queued[number] = -1 if self.queued_reads is None else self.queued_reads
            else:
                self.complete(name, number, USER)
        return 200, pull

    def listed(self, name: str, query: dict[str, list[str]]) -> dict[str, Any]:
        """Return one page of the list, newest first, descriptions cut as the service does."""
        status = query.get("searchCriteria.status", ["active"])[0]
        source = query.get("searchCriteria.sourceRefName", [None])[0]
        top = int(query.get("$top", ["101"])[0])
        skip = int(query.get("$skip", ["0"])[0])
        shown = [self.view(name, number) for number in sorted(self.pulls, reverse=True)]
        chosen = [
            pull
            for pull in shown
            if status in ("all", pull["status"]) and source in (None, pull["sourceRefName"])
        ]
        page = [
            {**pull, "description": pull["description"][:LISTED_DESCRIPTION]}
            for pull in chosen[skip : skip + top]
        ]
        return {"value": page, "count": len(page)}

    # -- hosts.SimulatedHost ---------------------------------------------------------------------

    def settings(self, repository: str) -> HostSettings:
        where = f"{self.organization}/{self.project}/{repository}"
        return HostSettings("azure", where, self.api_url, self.token)

    def state(self, repository: str, number: int) -> str:
        with self._lock:
            pull = self.view(repository, number)
        return {"active": "open", "completed": "merged", "abandoned": "closed"}[pull["status"]]

    def pull_fields(self, repository: str, number: int) -> dict[str, str]:
        with self._lock:
            pull = self.view(repository, number)
        return {
            "title": pull["title"],
            "description": pull["description"],
            "head": pull["sourceRefName"].removeprefix(HEADS),
            "base": pull["targetRefName"].removeprefix(HEADS),
        }

    def webhook_proof(self, body: bytes, secret: str) -> dict[str, str]:
        del body
        return {"Authorization": "Basic " + base64.b64encode(f":{secret}".encode()).decode()}

    def merge_on_page(self, name: str, number: int) -> None:
        """A person completes the pull request on Azure DevOps's own page."""
        with self._lock:
            pull = self.view(name, number)
            assert pull["status"] == "active", pull["status"]
            assert self.complete(name, number, PAGE_USER), "conflicts"


def _handler(sim: AzureSimulator) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f":{sim.token}".encode()).decode()

    class Handler(JsonHandler):
        def _send(self, status: int, data: bytes, kind: str) -> None:
            retry = {"Retry-After": "7"} if status in (429, 503) else {}
            self.send_bytes(status, data, kind, retry)

        def _answer(self, status: int, body: Any, schema: str | None = None) -> None:
            if schema is not None and status < 300:
                sim.check("responses", schema, body)
            self._send(status, json.dumps(body).encode(), "application/json; charset=utf-8")

        def _body(self, schema: str) -> Any:
            found = self.read_json()
            sim.check("requests", schema, found)
            return found or {}

        def _refuse(self) -> None:
            if sim.sign_in_page:
                page = b"<html><body>Sign in to your account</body></html>"
                self._send(203, page, "text/html; charset=utf-8")
            else:
                self._send(401, b"", "text/plain")

        def _route(self) -> tuple[str, list[str], dict[str, list[str]]] | None:
            """Return the repository, the path after `pullrequests` and the query, or answer."""
            parts = urlsplit(self.path)
            sim.calls.append((self.command, parts.path))
            if self.headers.get("Authorization") != expected:
                self._refuse()
                return None
            if sim.failing is not None:
                self._answer(sim.failing, _error("The service is unavailable.", "Unavailable"))
                return None
            query = parse_qs(parts.query)
            if query.get("api-version") != ["7.1"]:
                sim.violations.append(f"{self.command} {parts.path}: api-version is not 7.1")
            segments = [unquote(part) for part in parts.path.strip("/").split("/")]
            where = [sim.organization, sim.project, "_apis", "git", "repositories"]
            if len(segments) < 7 or segments[:5] != where or segments[6] != "pullrequests":
                self._answer(404, _error("The resource cannot be found.", "NotFound"))
                return None
            if not sim.has(segments[5]):
                message = (
                    f"TF401019: The Git repository with name or identifier {segments[5]} does "
                    "not exist or you do not have permissions for the operation you are "
                    "attempting."
                )
                self._answer(404, _error(message, "GitRepositoryNotFoundException"))
                return None
            return segments[5], segments[7:], query

        def _number(self, rest: list[str]) -> int | None:
            number = int(rest[0]) if rest and rest[0].isdigit() else 0
            if number not in sim.pulls:
                message = "TF401180: The requested pull request was not found."
                self._answer(404, _error(message, "GitPullRequestNotFoundException"))
                return None
            return number

        def do_GET(self) -> None:
            found = self._route()
            if found is None:
                return
            name, rest, query = found
            with sim._lock:
                if not rest:
                    self._answer(200, sim.listed(name, query), "pull-request-list")
                    return
                number = self._number(rest)
                if number is not None:
                    self._answer(200, sim.view(name, number), "pull-request")

        def do_POST(self) -> None:
            found = self._route()
            if found is None:
                return
            name, _, _ = found
            body = self._body("pull-request-create")
            with sim._lock:
                status, answer = sim.create(name, body)
            self._answer(status, answer, "pull-request")

        def do_PATCH(self) -> None:
            found = self._route()
            if found is None:
                return
            name, rest, _ = found
            body = self._body("pull-request-update")
            with sim._lock:
                number = self._number(rest)
                if number is None:
                    return
                status, answer = sim.update(name, number, body)
            self._answer(status, answer, "pull-request")

    return Handler

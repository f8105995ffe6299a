"""A GitLab simulator for the tests: the merge request calls mirel makes, over real HTTP on
loopback under /api/v4, on the very bare repositories the loopback git server (git_server.py)
serves.

It implements only what mirel calls (merge requests: create, get, list, update, merge), with the
project named by its URL-encoded path (`acme%2Fplatform%2Fshared`: a subgroup, as GitLab allows),
checks the PRIVATE-TOKEN header, checks every request body and list query it takes and every
answer it gives against GitLab's description in specs/gitlab-merge-requests.json (each
violation is kept in `violations`, which tests assert empty), and merges for real with libgit2.
`merge_on_page` is a person pressing "Merge" on GitLab's page.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jsonschema_rs
import pygit2

from hosts import JsonHandler, LoopbackSimulator
from mirel.providers import HostSettings

SPEC = json.loads((Path(__file__).parent / "specs" / "gitlab-merge-requests.json").read_text())
USER = {
    "id": 1,
    "username": "mirel-bot",
    "name": "mirel bot",
    "state": "active",
    "locked": False,
    "avatar_url": "https://gitlab.example.com/uploads/-/system/user/avatar/1/avatar.png",
    "web_url": "https://gitlab.example.com/mirel-bot",
}
# The fields of the single merge request that the list (MergeRequestBasic) leaves out.
_DETAIL_ONLY = ("diff_refs", "merge_error")


def _validator(section: str, name: str) -> Any:
    return jsonschema_rs.validator_for({**SPEC, "$ref": f"#/{section}/{name}"})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class GitLabSimulator(LoopbackSimulator):
    """Serves https://gitlab.com/api/v4's merge request calls for the repositories under `root`
    as projects of group `namespace` (a hosts.SimulatedHost)."""

    kind = "gitlab"

    def __init__(self, root: Path, token: str, namespace: str = "acme/platform") -> None:
        super().__init__(root, token)
        self.namespace = namespace
        self.pulls: dict[int, dict[str, Any]] = {}
        self.answer_500 = False  # answer every request with 500 (GitLab in trouble)

    @property
    def web_url(self) -> str:
        """The address of GitLab's pages (the API's without /api/v4, as on GitLab)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.web_url}/api/v4"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)

    # -- the repository ------------------------------------------------------------------------

    def project(self, encoded: str) -> str | None:
        """Return the repository a project id (its URL-encoded path) names, if it is one."""
        group, _, name = unquote(encoded).rpartition("/")
        if group != self.namespace or not (self.root / f"{name}.git").is_dir():
            return None
        return name

    def check(self, what: str, name: str, value: Any) -> None:
        """Keep a violation when `value` breaks GitLab's description of `name`."""
        for error in _validator(what, name).iter_errors(value):
            self.violations.append(f"{name}: {error.message} at {list(error.instance_path)}")

    # -- merge requests ------------------------------------------------------------------------

    def view(self, name: str, number: int) -> dict[str, Any]:
        """Return merge request `number` as GitLab shows it now (its head followed)."""
        pull = self.pulls[number]
        if pull["state"] == "opened":
            git = self._git(name)
            head = self._branch(git, pull["source_branch"]) or pull["sha"]
            base = self._branch(git, pull["target_branch"])
            pull["sha"] = head
            if base is not None:
                found = git.merge_base(base, head)
                start = str(found) if found is not None else base
                pull["diff_refs"] = {"base_sha": start, "head_sha": head, "start_sha": base}
            if base and head != base and git.descendant_of(base, head):
                # Its commits reached the target branch by a push: GitLab marks it merged.
                self._mark_merged(pull, None)
        return pull

    def _mark_merged(self, pull: dict[str, Any], merge_sha: str | None) -> None:
        stamp = _now()
        pull.update(
            state="merged",
            merged_at=stamp,
            updated_at=stamp,
            merge_commit_sha=merge_sha,
            merged_by=USER,
            merge_user=USER,
        )

    def create(self, name: str, body: dict[str, Any]) -> tuple[int, Any]:
        git = self._git(name)
        head, base = body["source_branch"], body["target_branch"]
        head_sha, base_sha = self._branch(git, head), self._branch(git, base)
        if head_sha is None or base_sha is None:
            return 422, {"message": ["Source branch does not exist"]}
        for pull in self.pulls.values():
            if pull["state"] == "opened" and pull["source_branch"] == head:
                return 409, {
                    "message": [
                        "Another open merge request already exists for this source branch: "
                        f"!{pull['iid']}"
                    ]
                }
        number = max(self.pulls, default=0) + 1
        stamp = _now()
        self.pulls[number] = {
            "id": 5000 + number,
            "iid": number,
            "project_id": 42,
            "title": body["title"],
            "description": body.get("description"),
            "state": "opened",
            "created_at": stamp,
            "updated_at": stamp,
            "merged_by": None,
            "merge_user": None,
            "merged_at": None,
            "closed_by": None,
            "closed_at": None,
            "target_branch": base,
            "source_branch": head,
            "author": USER,
            "sha": head_sha,
            "merge_commit_sha": None,
            "squash_commit_sha": None,
            "reference": f"!{number}",
            "web_url": f"{self.web_url}/{self.namespace}/{name}/-/merge_requests/{number}",
            "diff_refs": None,
            "merge_error": None,
        }
        return 201, self.view(name, number)

    def merge(
        self, name: str, number: int, sha: str | None, message: str | None
    ) -> tuple[int, Any]:
        """Merge for real: a merge commit on the target branch, as GitLab's merge button makes.
        A conflict is answered 405, as gitlab.com does (its documentation says 406)."""
        pull = self.view(name, number)
        if pull["state"] != "opened":
            return 405, {"message": "405 Method Not Allowed"}
        if sha is not None and sha != pull["sha"]:
            return 409, {"message": f"SHA does not match HEAD of source branch: {pull['sha']}"}
        git = self._git(name)
        base_ref = f"refs/heads/{pull['target_branch']}"
        base = git.references[base_ref].target
        head = pygit2.Oid(hex=pull["sha"])
        index = git.merge_commits(base, head)
        if index.conflicts is not None:
            return 405, {"message": "405 Method Not Allowed"}
        signature = pygit2.Signature("GitLab", "noreply@gitlab.example.com")
        text = message or (
            f"Merge branch '{pull['source_branch']}' into '{pull['target_branch']}'\n\n"
            f"See merge request {self.namespace}/{name}!{number}\n"
        )
        tree = index.write_tree(git)
        merged = git.create_commit(None, signature, signature, text, tree, [base, head])
        git.references[base_ref].set_target(merged)
        self._mark_merged(pull, str(merged))
        return 200, pull

    def update(self, name: str, number: int, body: dict[str, Any]) -> dict[str, Any]:
        pull = self.view(name, number)
        if body.get("state_event") == "close" and pull["state"] == "opened":
            stamp = _now()
            pull.update(state="closed", closed_at=stamp, closed_by=USER, updated_at=stamp)
        return pull

    def listed(self, name: str, query: dict[str, Any]) -> list[dict[str, Any]]:
        """Return one page of the list, newest first, each without the single-MR fields."""
        state, head = query.get("state", "all"), query.get("source_branch")
        page, size = int(query.get("page", 1)), int(query.get("per_page", 20))
        viewed = [self.view(name, number) for number in sorted(self.pulls, reverse=True)]
        chosen = [
            pull
            for pull in viewed
            if state in ("all", pull["state"]) and head in (None, pull["source_branch"])
        ]
        return [
            {key: value for key, value in pull.items() if key not in _DETAIL_ONLY}
            for pull in chosen[(page - 1) * size : page * size]
        ]

    def settings(self, repository: str) -> HostSettings:
        return HostSettings("gitlab", f"{self.namespace}/{repository}", self.api_url, self.token)

    def state(self, repository: str, number: int) -> str:
        with self._lock:
            pull = self.view(repository, number)
        return {"opened": "open", "locked": "closed"}.get(pull["state"], pull["state"])

    def pull_fields(self, repository: str, number: int) -> dict[str, str]:
        with self._lock:
            pull = self.view(repository, number)
        return {
            "title": pull["title"],
            "description": pull["description"] or "",
            "head": pull["source_branch"],
            "base": pull["target_branch"],
        }

    def webhook_proof(self, body: bytes, secret: str) -> dict[str, str]:
        del body  # GitLab sends the secret token itself, not a signature of the body
        return {"X-Gitlab-Token": secret, "X-Gitlab-Event": "Push Hook"}

    def merge_on_page(self, name: str, number: int) -> None:
        """A person merges the merge request on GitLab's own page."""
        with self._lock:
            status, answer = self.merge(name, number, None, None)
        assert status == 200, answer


def _handler(sim: GitLabSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def _answer(self, status: int, body: Any, schema: str | None = None) -> None:
            sim.check("responses", schema if status < 300 and schema else "error", body)
            self.send_json(status, body, "application/json")

        def _body(self, schema: str) -> Any:
            found = self.read_json()
            sim.check("requests", schema, found)
            return found or {}

        def _route(self) -> tuple[str, list[str], dict[str, list[str]]] | None:
            """Return the repository, the path after /merge_requests and the query, or answer
            the request's refusal and return None."""
            parts = urlsplit(self.path)  # still URL-encoded: the project id keeps its %2F
            sim.calls.append((self.command, parts.path))
            if sim.token in self.path:
                sim.violations.append(f"{self.command}: the token is in the URL, not a header")
            if sim.answer_500:
                self._answer(500, {"message": "500 Internal Server Error"})
                return None
            if self.headers.get("PRIVATE-TOKEN") != sim.token:
                self._answer(401, {"message": "401 Unauthorized"})
                return None
            segments = parts.path.strip("/").split("/")
            if segments[:3] != ["api", "v4", "projects"] or len(segments) < 5:
                self._answer(404, {"error": "404 Not Found"})
                return None
            name = sim.project(segments[3])
            if name is None:
                self._answer(404, {"message": "404 Project Not Found"})
                return None
            if segments[4] != "merge_requests":
                self._answer(404, {"error": "404 Not Found"})
                return None
            return name, segments[5:], parse_qs(parts.query)

        def _known(self, rest: list[str]) -> int | None:
            number = int(rest[0]) if rest and rest[0].isdigit() else 0
            if number not in sim.pulls:
                self._answer(404, {"message": "404 Not found"})
                return None
            return number

        def do_GET(self) -> None:
            found = self._route()
            if found is None:
                return
            name, rest, query = found
            with sim._lock:
                if rest:
                    number = self._known(rest)
                    if number is not None:
                        self._answer(200, sim.view(name, number), "merge-request")
                    return
                asked: dict[str, Any] = {key: values[0] for key, values in query.items()}
                for key in ("page", "per_page"):
                    if key in asked:
                        asked[key] = int(asked[key])
                sim.check("queries", "merge-requests-list", asked)
                self._answer(200, sim.listed(name, asked), "merge-request-list")

        def do_POST(self) -> None:
            found = self._route()
            if found is None:
                return
            name, _, _ = found
            body = self._body("merge-requests-create")
            with sim._lock:
                status, answer = sim.create(name, body)
            self._answer(status, answer, "merge-request")

        def do_PUT(self) -> None:
            found = self._route()
            if found is None:
                return
            name, rest, _ = found
            merging = rest[1:] == ["merge"]
            body = self._body("merge-requests-merge" if merging else "merge-requests-update")
            with sim._lock:
                number = self._known(rest)
                if number is None:
                    return
                if merging:
                    status, answer = sim.merge(
                        name, number, body.get("sha"), body.get("merge_commit_message")
                    )
                    self._answer(status, answer, "merge-request")
                    return
                self._answer(200, sim.update(name, number, body), "merge-request")

    return Handler

"""A GitHub simulator for the tests: the pull request calls mirel makes, over real HTTP on
loopback, on the very bare repositories the loopback git server (git_server.py) serves.

It implements only what mirel calls (pulls: create, get, list, update, merge; and a GitHub
App's installation tokens), checks every request body it takes and every answer it gives
against the GitHub description in specs/github-pulls.json (each violation is kept in
`violations`, which tests assert empty), and merges for real with libgit2. `merge_on_page` is a
person pressing "Merge" on GitHub's page.

`install_app` registers a GitHub App's installation: POST /app/installations/{id}/access_tokens
then checks the request's JWT (its RS256 signature with the app's public key, `iss`, `iat` and
`exp`, on the simulator's `clock`) and answers an installation token that expires
`token_lifetime` seconds later; the pull calls take it until then, and so does the loopback git
server when its `authorize` is this simulator's `git_access`, as GitHub's git does.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema_rs
import pygit2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from hosts import JsonHandler, LoopbackSimulator
from mirel.providers import HostSettings
from mirel.providers.webhook_schemes import sign

SPEC = json.loads((Path(__file__).parent / "specs" / "github-pulls.json").read_text())
USER = {
    "login": "mirel-bot",
    "id": 1,
    "node_id": "U_1",
    "avatar_url": "https://avatars.example.com/u/1",
    "url": "https://api.example.com/users/mirel-bot",
    "html_url": "https://github.example.com/mirel-bot",
    "type": "User",
    "site_admin": False,
}


def _validator(section: str, name: str) -> Any:
    return jsonschema_rs.validator_for({**SPEC, "$ref": f"#/{section}/{name}"})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class InstalledApp:
    """A GitHub App installed on the simulated account."""

    app_id: str
    installation_id: int
    public_key: rsa.RSAPublicKey
    token_lifetime: float = 3600.0  # GitHub's: an hour


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class GitHubSimulator(LoopbackSimulator):
    """Serves https://api.github.com's pull request calls for the repositories under `root`
    (a hosts.SimulatedHost)."""

    kind = "github"

    def __init__(self, root: Path, token: str, owner: str = "acme") -> None:
        super().__init__(root, token)
        self.owner = owner
        self.pulls: dict[int, dict[str, Any]] = {}
        self.apps: dict[int, InstalledApp] = {}  # by installation id
        self.issued: dict[str, float] = {}  # installation token -> when it expires
        self.clock: Callable[[], float] = time.time

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)

    # -- GitHub Apps ---------------------------------------------------------------------------

    def install_app(
        self,
        app_id: str,
        installation_id: int,
        public_key: rsa.RSAPublicKey,
        token_lifetime: float = 3600.0,
    ) -> None:
        """Install a GitHub App whose JWTs `public_key` verifies."""
        self.apps[installation_id] = InstalledApp(
            app_id, installation_id, public_key, token_lifetime
        )

    def token_valid(self, token: str) -> bool:
        """Return whether the pull calls take `token`: the simulator's own, or an installation
        token that has not expired."""
        if token == self.token:
            return True
        expires = self.issued.get(token)
        return expires is not None and self.clock() < expires

    def git_access(self, user: str, token: str) -> str | None:
        """What the git server allows an installation token (GitHub's git takes one with the
        user name x-access-token): "write" until it expires."""
        valid = user == "x-access-token" and token in self.issued and self.token_valid(token)
        return "write" if valid else None

    def _jwt_refusal(self, app: InstalledApp, authorization: str) -> str | None:
        """Return why GitHub refuses the JWT in `authorization` for `app`, or None."""
        parts = authorization.removeprefix("Bearer ").split(".")
        if not authorization.startswith("Bearer ") or len(parts) != 3:
            return "A JSON web token could not be decoded"
        try:
            header, claims = (json.loads(_unb64url(part)) for part in parts[:2])
            signature = _unb64url(parts[2])
        except (ValueError, binascii.Error):
            return "A JSON web token could not be decoded"
        if header.get("alg") != "RS256":
            return "A JSON web token could not be decoded"
        try:
            app.public_key.verify(
                signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            return "A JSON web token could not be decoded"
        now = self.clock()
        iat, exp = claims.get("iat"), claims.get("exp")
        if str(claims.get("iss")) != app.app_id:
            return "'Issuer' claim ('iss') must be the app's id"
        if not isinstance(iat, int) or not isinstance(exp, int) or iat > now + 1:
            return "'Issued at' claim ('iat') must be an Integer representing a time in the past"
        if exp <= now or exp > now + 600 or exp <= iat:
            return "'Expiration time' claim ('exp') is too far in the future or in the past"
        return None

    def access_token(self, installation_id: int, authorization: str) -> tuple[int, Any]:
        """Answer POST /app/installations/{installation_id}/access_tokens."""
        app = self.apps.get(installation_id)
        if app is None:
            return 404, {"message": "Not Found"}
        refusal = self._jwt_refusal(app, authorization)
        if refusal is not None:
            return 401, {"message": refusal}
        token = f"ghs_{secrets.token_urlsafe(27)}"
        expires = self.clock() + app.token_lifetime
        self.issued[token] = expires
        stamp = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return 201, {
            "token": token,
            "expires_at": stamp,
            "permissions": {"contents": "write", "pull_requests": "write", "metadata": "read"},
            "repository_selection": "selected",
        }

    # -- the repository ------------------------------------------------------------------------

    def check(self, what: str, name: str, value: Any) -> None:
        """Keep a violation when `value` breaks GitHub's description of `name`."""
        for error in _validator(what, name).iter_errors(value):
            self.violations.append(f"{name}: {error.message} at {list(error.instance_path)}")

    # -- pull requests -------------------------------------------------------------------------

    def _ref(self, name: str, branch: str, sha: str) -> dict[str, Any]:
        return {
            "label": f"{self.owner}:{branch}",
            "ref": branch,
            "sha": sha,
            "user": USER,
            "repo": {"name": name, "full_name": f"{self.owner}/{name}"},
        }

    def view(self, name: str, number: int) -> dict[str, Any]:
        """Return pull request `number` as GitHub shows it now (its head followed)."""
        pull = self.pulls[number]
        git = self._git(name)
        if pull["state"] == "open":
            head = self._branch(git, pull["head"]["ref"]) or pull["head"]["sha"]
            pull["head"]["sha"] = head
            base = self._branch(git, pull["base"]["ref"])
            if base and head != base and git.descendant_of(base, head):
                # Its commits reached the base by a push: GitHub marks it merged.
                self._mark_merged(pull, base)
        return pull

    def _mark_merged(self, pull: dict[str, Any], merge_sha: str) -> None:
        stamp = _now()
        pull.update(
            state="closed",
            merged=True,
            merged_at=stamp,
            closed_at=stamp,
            updated_at=stamp,
            merge_commit_sha=merge_sha,
            merged_by=USER,
            mergeable=None,
            mergeable_state="unknown",
        )

    def create(self, name: str, body: dict[str, Any]) -> tuple[int, Any]:
        git = self._git(name)
        head, base = body["head"].removeprefix(f"{self.owner}:"), body["base"]
        head_sha, base_sha = self._branch(git, head), self._branch(git, base)
        if head_sha is None or base_sha is None:
            return 422, {"message": "Validation Failed", "errors": [{"field": "head"}]}
        for pull in self.pulls.values():
            if pull["state"] == "open" and pull["head"]["ref"] == head:
                return 422, {
                    "message": "Validation Failed",
                    "errors": [
                        {"message": f"A pull request already exists for {self.owner}:{head}."}
                    ],
                }
        number = max(self.pulls, default=0) + 1
        web = f"https://github.example.com/{self.owner}/{name}/pull/{number}"
        stamp = _now()
        self.pulls[number] = {
            "url": f"{self.api_url}/repos/{self.owner}/{name}/pulls/{number}",
            "id": 1000 + number,
            "node_id": f"PR_{number}",
            "html_url": web,
            "diff_url": f"{web}.diff",
            "patch_url": f"{web}.patch",
            "number": number,
            "state": "open",
            "locked": False,
            "title": body.get("title", ""),
            "user": USER,
            "body": body.get("body"),
            "created_at": stamp,
            "updated_at": stamp,
            "closed_at": None,
            "merged_at": None,
            "merge_commit_sha": None,
            "head": self._ref(name, head, head_sha),
            "base": self._ref(name, base, base_sha),
            "draft": False,
            "merged": False,
            "mergeable": True,
            "mergeable_state": "clean",
            "merged_by": None,
            "comments": 0,
            "commits": 1,
            "additions": 0,
            "deletions": 0,
            "changed_files": 0,
        }
        return 201, self.pulls[number]

    def merge(self, name: str, number: int, sha: str | None) -> tuple[int, Any]:
        """Merge for real: a merge commit on the base branch, as GitHub's merge button makes."""
        pull = self.view(name, number)
        if pull["state"] != "open":
            return 405, {"message": "Pull Request is not mergeable"}
        if sha is not None and sha != pull["head"]["sha"]:
            return 409, {"message": "Head branch was modified. Review and try the merge again."}
        git = self._git(name)
        base_ref = f"refs/heads/{pull['base']['ref']}"
        base = git.references[base_ref].target
        head = pygit2.Oid(hex=pull["head"]["sha"])
        index = git.merge_commits(base, head)
        if index.conflicts is not None:
            return 405, {"message": "Pull Request is not mergeable"}
        signature = pygit2.Signature("GitHub", "noreply@github.com")
        message = f"Merge pull request #{number} from {self.owner}/{pull['head']['ref']}\n"
        tree = index.write_tree(git)
        merged = git.create_commit(None, signature, signature, message, tree, [base, head])
        git.references[base_ref].set_target(merged)
        self._mark_merged(pull, str(merged))
        return 200, {
            "sha": str(merged),
            "merged": True,
            "message": "Pull Request successfully merged",
        }

    def settings(self, repository: str) -> HostSettings:
        return HostSettings("github", f"{self.owner}/{repository}", self.api_url, self.token)

    def state(self, repository: str, number: int) -> str:
        with self._lock:
            pull = self.view(repository, number)
        return "merged" if pull["merged"] else str(pull["state"])

    def pull_fields(self, repository: str, number: int) -> dict[str, str]:
        with self._lock:
            pull = self.view(repository, number)
        return {
            "title": pull["title"],
            "description": pull["body"] or "",
            "head": pull["head"]["ref"],
            "base": pull["base"]["ref"],
        }

    def webhook_proof(self, body: bytes, secret: str) -> dict[str, str]:
        return {"X-Hub-Signature-256": sign(body, secret), "X-GitHub-Event": "push"}

    def merge_on_page(self, name: str, number: int) -> None:
        """A person merges the pull request on GitHub's own page."""
        with self._lock:
            status, answer = self.merge(name, number, None)
        assert status == 200, answer


def _handler(sim: GitHubSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def _answer(self, status: int, body: Any, schema: str | None = None) -> None:
            if schema is not None and status < 300:
                sim.check("responses", schema, body)
            self.send_json(status, body)

        def _body(self, schema: str) -> Any:
            found = self.read_json()
            sim.check("requests", schema, found)
            return found or {}

        def _route(self) -> tuple[str, list[str], dict[str, list[str]]] | None:
            parts = urlsplit(self.path)
            sim.calls.append((self.command, parts.path))
            given = self.headers.get("Authorization") or ""
            if not given.startswith("Bearer ") or not sim.token_valid(given[7:]):
                self._answer(401, {"message": "Bad credentials"})
                return None
            if self.headers.get("X-GitHub-Api-Version") != "2022-11-28":
                sim.violations.append(f"{self.command} {parts.path}: no X-GitHub-Api-Version")
            segments = parts.path.strip("/").split("/")
            if len(segments) < 4 or segments[:2] != ["repos", sim.owner] or segments[3] != "pulls":
                self._answer(404, {"message": "Not Found"})
                return None
            return segments[2], segments[4:], parse_qs(parts.query)

        def do_GET(self) -> None:
            found = self._route()
            if found is None:
                return
            name, rest, query = found
            with sim._lock:
                if rest:
                    number = int(rest[0])
                    if number not in sim.pulls:
                        self._answer(404, {"message": "Not Found"})
                        return
                    self._answer(200, sim.view(name, number), "pull-request")
                    return
                state = query.get("state", ["open"])[0]
                head = query.get("head", [None])[0]
                page = int(query.get("page", ["1"])[0])
                size = int(query.get("per_page", ["30"])[0])
                chosen = [
                    sim.view(name, number)
                    for number in sorted(sim.pulls, reverse=True)
                    if state in ("all", sim.view(name, number)["state"])
                    and (head is None or f"{sim.owner}:{sim.pulls[number]['head']['ref']}" == head)
                ]
                self._answer(200, chosen[(page - 1) * size : page * size], "pull-request-list")

        def _access_token(self) -> None:
            parts = urlsplit(self.path)
            sim.calls.append((self.command, parts.path))
            if self.headers.get("X-GitHub-Api-Version") != "2022-11-28":
                sim.violations.append(f"{self.command} {parts.path}: no X-GitHub-Api-Version")
            segments = parts.path.strip("/").split("/")
            if len(segments) != 4 or segments[3] != "access_tokens" or not segments[2].isdigit():
                self._answer(404, {"message": "Not Found"})
                return
            self._body("apps-create-installation-access-token")
            with sim._lock:
                status, answer = sim.access_token(
                    int(segments[2]), self.headers.get("Authorization") or ""
                )
            self._answer(status, answer, "installation-token")

        def do_POST(self) -> None:
            if self.path.startswith("/app/installations/"):
                self._access_token()
                return
            found = self._route()
            if found is None:
                return
            name, _, _ = found
            body = self._body("pulls-create")
            with sim._lock:
                status, answer = sim.create(name, body)
            self._answer(status, answer, "pull-request")

        def do_PATCH(self) -> None:
            found = self._route()
            if found is None:
                return
            name, rest, _ = found
            body = self._body("pulls-update")
            with sim._lock:
                pull = sim.view(name, int(rest[0]))
                if body.get("state") == "closed" and pull["state"] == "open":
                    stamp = _now()
                    pull.update(state="closed", closed_at=stamp, updated_at=stamp)
                self._answer(200, pull, "pull-request")

        def do_PUT(self) -> None:
            found = self._route()
            if found is None:
                return
            name, rest, _ = found
            body = self._body("pulls-merge")
            with sim._lock:
                status, answer = sim.merge(name, int(rest[0]), body.get("sha"))
            self._answer(status, answer, "pull-request-merge-result")

    return Handler

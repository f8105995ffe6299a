"""A Bitbucket Cloud simulator for the tests: the pull request calls mirel makes, over real HTTP
on loopback (under /2.0, as api.bitbucket.org serves them), on the very bare repositories the
loopback git server (git_server.py) serves.

It implements only what mirel calls (pullrequests: create, get, list, merge, decline), checks
every request body it takes and every answer it gives against Bitbucket's published description
in specs/bitbucket-pullrequests.json (each violation is kept in `violations`, which tests assert
empty), and merges for real with libgit2. Like Bitbucket it names commits by 12-hex-digit
abbreviations, caps a page at 50, and accepts basic authentication (a user name and app password)
or a bearer access token. `merge_on_page` is a person pressing "Merge" on Bitbucket's page;
`slow_merges` makes a merge answer 202 (still running) as a long one does, and `failing` makes
every call answer one status (a host in trouble); `merge_checks` refuses merges as a
repository's merge checks do.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema_rs
import pygit2

from hosts import JsonHandler, LoopbackSimulator
from mirel.providers import HostSettings
from mirel.providers.webhook_schemes import sign

SPEC = json.loads((Path(__file__).parent / "specs" / "bitbucket-pullrequests.json").read_text())
WEB = "https://bitbucket.example.com"
USER = {
    "type": "user",
    "display_name": "Mirel Bot",
    "nickname": "mirel-bot",
    "uuid": "{6f3c1d7a-0000-4000-8000-000000000001}",
    "account_id": "557058:mirel-bot",
    "links": {
        "self": {"href": "https://api.bitbucket.example.com/2.0/users/mirel-bot"},
        "html": {"href": f"{WEB}/mirel-bot/"},
        "avatar": {"href": "https://avatars.example.com/mirel-bot.png"},
    },
}
MAX_PAGE = 50
_LINKS = ("self", "html", "commits", "approve", "diff", "diffstat", "comments", "activity")


def _validator(section: str, name: str) -> Any:
    return jsonschema_rs.validator_for({**SPEC, "$ref": f"#/{section}/{name}"})


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _error(message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"message": message}}


class BitbucketSimulator(LoopbackSimulator):
    """Serves api.bitbucket.org/2.0's pull request calls for the repositories under `root`
    (a hosts.SimulatedHost)."""

    kind = "bitbucket"

    def __init__(
        self, root: Path, token: str, workspace: str = "acme", username: str = "mirel-bot"
    ) -> None:
        super().__init__(root, token)
        self.workspace = workspace
        self.username = username
        self.pulls: dict[int, dict[str, Any]] = {}
        self.slow_merges = False
        self.failing: int | None = None  # a status every call answers (a host in trouble)
        self.merge_checks: str | None = None  # why merges are refused (approvals missing, ...)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/2.0"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)

    def authorized(self, header: str | None) -> bool:
        """Return whether `header` carries the app password (with the user name) or the token."""
        pair = base64.b64encode(f"{self.username}:{self.token}".encode()).decode()
        return header in (f"Bearer {self.token}", f"Basic {pair}")

    # -- the repository ------------------------------------------------------------------------

    def check(self, what: str, name: str, value: Any) -> None:
        """Keep a violation when `value` breaks Bitbucket's description of `name`."""
        for error in _validator(what, name).iter_errors(value):
            self.violations.append(f"{name}: {error.message} at {list(error.instance_path)}")

    # -- pull requests -------------------------------------------------------------------------

    def _endpoint(self, name: str, branch: str, sha: str) -> dict[str, Any]:
        return {
            "branch": {"name": branch, "merge_strategies": ["merge_commit"]},
            "commit": {"hash": sha[:12]},
            "repository": {
                "type": "repository",
                "full_name": f"{self.workspace}/{name}",
                "name": name,
                "uuid": "{6f3c1d7a-0000-4000-8000-0000000000aa}",
            },
        }

    def view(self, name: str, number: int) -> dict[str, Any]:
        """Return pull request `number` as Bitbucket shows it now (its head followed)."""
        pull = self.pulls[number]
        git = self._git(name)
        if pull["state"] == "OPEN":
            source, destination = pull["source"], pull["destination"]
            head = self._branch(git, source["branch"]["name"])
            if head is not None:
                source["commit"]["hash"] = head[:12]
            base = self._branch(git, destination["branch"]["name"])
            if base is not None:
                destination["commit"]["hash"] = base[:12]
            head = head or str(git[source["commit"]["hash"]].id)
            if base and head != base and git.descendant_of(base, head):
                # Its commits reached the destination by a push: Bitbucket marks it merged.
                self._close(pull, "MERGED", base)
        return pull

    def _close(self, pull: dict[str, Any], state: str, merge_sha: str | None = None) -> None:
        pull.update(state=state, closed_by=USER, updated_on=_now())
        if merge_sha is not None:
            pull["merge_commit"] = {"hash": merge_sha[:12]}

    def create(self, name: str, body: dict[str, Any]) -> tuple[int, Any]:
        git = self._git(name)
        head = body.get("source", {}).get("branch", {}).get("name")
        base = body.get("destination", {}).get("branch", {}).get("name") or "main"
        head_sha, base_sha = self._branch(git, head or ""), self._branch(git, base)
        if head_sha is None or base_sha is None:
            return 400, _error("source: branch not found")
        for number, pull in self.pulls.items():
            if pull["state"] == "OPEN" and pull["source"]["branch"]["name"] == head:
                # No refusal: Bitbucket answers the open one, its text replaced.
                self._describe(pull, body.get("title", ""), body.get("description") or "")
                return 200, self.view(name, number)
        number = max(self.pulls, default=0) + 1
        path = f"{self.workspace}/{name}/pull-requests/{number}"
        api = f"{self.api_url}/repositories/{self.workspace}/{name}/pullrequests/{number}"
        links = {key: {"href": f"{api}/{key}"} for key in _LINKS}
        links.update(self={"href": api}, html={"href": f"{WEB}/{path}"})
        links.update(merge={"href": f"{api}/merge"}, decline={"href": f"{api}/decline"})
        stamp = _now()
        self.pulls[number] = {
            "type": "pullrequest",
            "id": number,
            "state": "OPEN",
            "author": USER,
            "source": self._endpoint(name, head, head_sha),
            "destination": self._endpoint(name, base, base_sha),
            "close_source_branch": bool(body.get("close_source_branch")),
            "comment_count": 0,
            "task_count": 0,
            "reason": "",
            "created_on": stamp,
            "updated_on": stamp,
            "reviewers": [],
            "participants": [],
            "links": links,
        }
        self._describe(self.pulls[number], body.get("title", ""), body.get("description") or "")
        return 201, self.pulls[number]

    def _describe(self, pull: dict[str, Any], title: str, description: str) -> None:
        pull.update(title=title, description=description, updated_on=_now())
        html = "<p>" + description.replace("&", "&amp;").replace("<", "&lt;") + "</p>"
        pull["summary"] = {"raw": description, "markup": "markdown", "html": html}

    def listing(self, name: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        states = query.get("state", ["OPEN"])
        page = int(query.get("page", ["1"])[0])
        size = int(query.get("pagelen", ["10"])[0])
        if not 1 <= size <= MAX_PAGE:
            return 400, _error(f"Invalid pagelen: the largest is {MAX_PAGE}")
        head: str | None = None
        for q in query.get("q", []):
            prefix = 'source.branch.name="'
            if not (q.startswith(prefix) and q.endswith('"')):
                return 400, _error(f"Invalid query: {q}")
            head = q[len(prefix) : -1].replace('\\"', '"').replace("\\\\", "\\")
        if query.get("sort", ["-created_on"]) != ["-created_on"]:
            return 400, _error("the simulator sorts by -created_on only")
        pulls = [self.view(name, number) for number in self.pulls]
        chosen = sorted(
            (
                p
                for p in pulls
                if p["state"] in states and head in (None, p["source"]["branch"]["name"])
            ),
            key=lambda p: (p["created_on"], p["id"]),
            reverse=True,
        )
        answer: dict[str, Any] = {
            "values": chosen[(page - 1) * size : page * size],
            "page": page,
            "pagelen": size,
            "size": len(chosen),
        }
        if page * size < len(chosen):
            where = f"{self.api_url}/repositories/{self.workspace}/{name}/pullrequests"
            answer["next"] = f"{where}?page={page + 1}&pagelen={size}"
        return 200, answer

    def merge(self, name: str, number: int, message: str | None) -> tuple[int, Any]:
        """Merge for real: a merge commit on the destination branch, as Bitbucket's merge
        button makes with the "merge commit" strategy."""
        pull = self.view(name, number)
        if pull["state"] != "OPEN":
            return 400, _error("You can't merge a pull request that is not open.")
        if self.merge_checks is not None:
            return 400, _error(self.merge_checks)
        git = self._git(name)
        base_ref = f"refs/heads/{pull['destination']['branch']['name']}"
        base = git.references[base_ref].target
        head = git[pull["source"]["commit"]["hash"]].id
        index = git.merge_commits(base, head)
        if index.conflicts is not None:
            return 400, _error("You can't merge until you resolve all merge conflicts.")
        signature = pygit2.Signature("Bitbucket", "noreply@bitbucket.example.com")
        branch = pull["source"]["branch"]["name"]
        text = message or f"Merged in {branch} (pull request #{number})\n\n{pull['title']}"
        tree = index.write_tree(git)
        merged = git.create_commit(None, signature, signature, f"{text}\n", tree, [base, head])
        git.references[base_ref].set_target(merged)
        self._close(pull, "MERGED", str(merged))
        return 200, pull

    def decline(self, name: str, number: int) -> tuple[int, Any]:
        pull = self.view(name, number)
        if pull["state"] != "OPEN":
            return 400, _error("You can't decline a pull request that is not open.")
        self._close(pull, "DECLINED")
        return 200, pull

    def settings(self, repository: str) -> HostSettings:
        return HostSettings(
            "bitbucket", f"{self.workspace}/{repository}", self.api_url, self.token, self.username
        )

    def state(self, repository: str, number: int) -> str:
        with self._lock:
            pull = self.view(repository, number)
        return {"OPEN": "open", "MERGED": "merged"}.get(pull["state"], "closed")

    def pull_fields(self, repository: str, number: int) -> dict[str, str]:
        with self._lock:
            pull = self.view(repository, number)
        return {
            "title": pull["title"],
            "description": pull["summary"]["raw"],
            "head": pull["source"]["branch"]["name"],
            "base": pull["destination"]["branch"]["name"],
        }

    def webhook_proof(self, body: bytes, secret: str) -> dict[str, str]:
        return {"X-Hub-Signature": sign(body, secret), "X-Event-Key": "repo:push"}

    def merge_on_page(self, name: str, number: int) -> None:
        """A person merges the pull request on Bitbucket's own page."""
        with self._lock:
            status, answer = self.merge(name, number, None)
        assert status == 200, answer


def _handler(sim: BitbucketSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def _answer(self, status: int, body: Any, schema: str = "pullrequest") -> None:
            if status == 202:
                # Still merging: no body, where to look in Location.
                self.send_response(status)
                self.send_header("Location", f"{sim.api_url}/tasks/merge")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            sim.check("responses", schema if status < 300 else "error", body)
            self.send_json(status, body)

        def _body(self, schema: str | None) -> Any:
            found = self.read_json()
            if schema is None:
                if found is not None:
                    sim.violations.append(f"{self.command} {self.path}: a body where none goes")
                return {}
            sim.check("requests", schema, found)
            return found or {}

        def _route(self) -> tuple[str, list[str], dict[str, list[str]]] | None:
            parts = urlsplit(self.path)
            sim.calls.append((self.command, parts.path))
            if sim.failing is not None:
                self._answer(sim.failing, _error("Something went wrong"))
                return None
            if not sim.authorized(self.headers.get("Authorization")):
                self._answer(401, _error("Invalid credentials"))
                return None
            segments = parts.path.strip("/").split("/")
            known = segments[:3] == ["2.0", "repositories", sim.workspace]
            if len(segments) < 5 or not known or segments[4] != "pullrequests":
                self._answer(404, _error("Resource not found"))
                return None
            if not (sim.root / f"{segments[3]}.git").is_dir():
                self._answer(404, _error("Repository not found"))
                return None
            rest = segments[5:]
            if rest and (not rest[0].isdigit() or int(rest[0]) not in sim.pulls):
                self._answer(404, _error("Pull request not found"))
                return None
            return segments[3], rest, parse_qs(parts.query)

        def do_GET(self) -> None:
            found = self._route()
            if found is None:
                return
            name, rest, query = found
            with sim._lock:
                if rest:
                    self._answer(200, sim.view(name, int(rest[0])))
                    return
                status, answer = sim.listing(name, query)
            self._answer(status, answer, "paginated_pullrequests")

        def do_POST(self) -> None:
            found = self._route()
            if found is None:
                return
            name, rest, _ = found
            with sim._lock:
                if not rest:
                    status, answer = sim.create(name, self._body("pullrequest-create"))
                elif rest[1:] == ["merge"]:
                    body = self._body("pullrequest-merge")
                    if body.get("merge_strategy", "merge_commit") != "merge_commit":
                        sim.violations.append(f"merge: strategy {body['merge_strategy']!r}")
                    status, answer = sim.merge(name, int(rest[0]), body.get("message"))
                    if status == 200 and sim.slow_merges:
                        status = 202
                elif rest[1:] == ["decline"]:
                    self._body(None)
                    status, answer = sim.decline(name, int(rest[0]))
                else:
                    status, answer = 404, _error("Resource not found")
            self._answer(status, answer)

    return Handler

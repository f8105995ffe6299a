"""The simulated git hosts of the tests, one per hosted provider, all behind one interface so
that the same fixtures, contract suite and seed flow run against each (tests/remote).

A simulator serves the host's pull request API over real HTTP on loopback, for the bare
repositories under the loopback git server's root (git_server.py), merges for real with
libgit2, and checks every request body it takes and every answer it gives against the host's
published description (a subset kept in tests/specs/), keeping each violation in `violations`,
which the fixtures assert empty.
"""

from __future__ import annotations

import json
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

import pygit2

from mirel.providers import HostSettings


class RecordingServer(ThreadingHTTPServer):
    """A simulator's HTTP server that keeps a failure of its own handler as a violation: the
    dropped connection would otherwise look like a host that does not answer, which several
    tests expect, and the simulator's bug would pass unseen."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        violations: list[str],
    ) -> None:
        super().__init__(address, handler)
        self.violations = violations

    def handle_error(self, request: Any, client_address: Any) -> None:
        del request, client_address
        self.violations.append(f"the simulator failed: {traceback.format_exc(limit=3)}")


class JsonHandler(BaseHTTPRequestHandler):
    """What every simulator's request handler shares: it logs nothing, and reads and writes
    JSON bodies."""

    def log_message(self, format: str, *args: object) -> None:
        del format, args

    def send_bytes(
        self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)  # an int: hosts answer codes HTTPStatus lacks (Bitbucket's 555)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def send_json(
        self,
        status: int,
        body: Any,
        content_type: str = "application/json; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_bytes(status, json.dumps(body).encode(), content_type, headers)

    def read_json(self) -> Any:
        """Return the request's JSON body, None when it has none."""
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        return json.loads(raw) if raw else None


class LoopbackSimulator:
    """What every simulator shares: its credential, what it recorded, its HTTP server on a free
    port of 127.0.0.1, and the bare repositories `<name>.git` under `root` it reads."""

    def __init__(self, root: Path, token: str) -> None:
        self.root = root
        self.token = token
        self.port = 0
        self.violations: list[str] = []
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()  # one request at a time touches the simulated host
        self._server: ThreadingHTTPServer | None = None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        """Return the request handler serving this host's calls."""
        raise NotImplementedError

    def start(self) -> None:
        server = RecordingServer(("127.0.0.1", self.port), self._handler_class(), self.violations)
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _git(self, name: str) -> pygit2.Repository:
        return pygit2.Repository(str(self.root / f"{name}.git"))

    def _branch(self, git: pygit2.Repository, branch: str) -> str | None:
        found = git.references.get(f"refs/heads/{branch}")
        return str(found.target) if found is not None else None


class SimulatedHost(Protocol):
    """What the tests need of a host's simulator."""

    kind: str  # the provider's name: github, gitlab, ...
    violations: list[str]  # requests and answers that broke the host's description
    calls: list[tuple[str, str]]  # (method, path) of every request, in order

    @property
    def api_url(self) -> str:
        """The URL mirel's adapter is given as MIREL_HOST_API_URL."""
        ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def settings(self, repository: str) -> HostSettings:
        """Return the settings that point mirel's adapter at `repository` (a bare repository
        `<repository>.git` under the root) on this simulator, with its valid credentials."""
        ...

    def state(self, repository: str, number: int) -> str:
        """Return open, merged or closed: pull request `number` as the host has it now."""
        ...

    def pull_fields(self, repository: str, number: int) -> dict[str, str]:
        """Return the pull request's title, description, head and base (branch names) as the
        host stores them."""
        ...

    def merge_on_page(self, repository: str, number: int) -> None:
        """A person merges the pull request on the host's own web page."""
        ...

    def webhook_proof(self, body: bytes, secret: str) -> dict[str, str]:
        """Return the headers with which the host proves a webhook delivery of `body`."""
        ...


# Provider name -> the simulator's class, made as Simulator(root, token) where `root` holds
# the bare repositories and `token` is the one credential the simulator accepts.
def simulators() -> dict[str, Any]:
    from azure_sim import AzureSimulator
    from bitbucket_sim import BitbucketSimulator
    from codecommit_sim import CodeCommitSimulator
    from github_sim import GitHubSimulator
    from gitlab_sim import GitLabSimulator

    return {
        "azure": AzureSimulator,
        "bitbucket": BitbucketSimulator,
        "codecommit": CodeCommitSimulator,
        "github": GitHubSimulator,
        "gitlab": GitLabSimulator,
    }


def hosted_kinds() -> list[str]:
    """Return the names of the hosted providers that have a simulator."""
    return sorted(simulators())


def open_simulator(kind: str, root: Path, token: str) -> SimulatedHost:
    simulator: SimulatedHost = simulators()[kind](root, token)
    return simulator

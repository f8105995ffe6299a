"""A real git server on loopback for the tests of remote repositories: `git http-backend` (it
ships with git) behind a small threaded HTTP server that asks for a token.

Clients sign in with HTTP basic authentication, any user name and the token as the password, as
on the hosts (GitHub takes `x-access-token:<token>`). A token may be read-only: it fetches, and
its pushes are refused with 403. `authorize`, when set, is asked about the credentials `tokens`
does not hold (the GitHub simulator's short-lived installation tokens). `stop()` closes the
port, so the remote stops answering, and `start()` opens it again on the same port.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit


class GitHttpServer:
    """Serves every bare repository under `root` at http://127.0.0.1:PORT/<name>.git."""

    def __init__(self, root: Path, tokens: dict[str, str]) -> None:
        self.root = root
        self.tokens = tokens  # token -> "write" or "read"
        # (user, token) -> "write", "read" or None, for the tokens not in `tokens`.
        self.authorize: Callable[[str, str], str | None] | None = None
        self.port = 0
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request served
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, name: str) -> str:
        """Return the URL of the repository `name` (without `.git`)."""
        return f"http://127.0.0.1:{self.port}/{name}.git"

    def start(self) -> None:
        """Listen (again, on the same port when it listened before) and serve in a thread."""
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop answering: the port is closed until `start()`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def access(self, authorization: str | None) -> str | None:
        """Return what the request's credentials allow: "write", "read" or None."""
        if not authorization or not authorization.startswith("Basic "):
            return None
        try:
            user, _, token = base64.b64decode(authorization[6:]).decode().partition(":")
        except ValueError:
            return None
        found = self.tokens.get(token)
        if found is None and self.authorize is not None:
            return self.authorize(user, token)
        return found


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """Return the request body, declared by Content-Length or sent chunked (as libgit2 does)."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                handler.rfile.readline()
                return body
            body += handler.rfile.read(size)
            handler.rfile.readline()
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))


def _handler(server: GitHttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            del format, args  # quiet: the tests read `server.requests`

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            server.requests.append((self.command, parts.path))
            pushing = "git-receive-pack" in parts.path or "service=git-receive-pack" in parts.query
            allowed = server.access(self.headers.get("Authorization"))
            if allowed is None:
                self.send_response(HTTPStatus.UNAUTHORIZED)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if pushing and allowed != "write":
                self.send_response(HTTPStatus.FORBIDDEN)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = _read_body(self) if self.command == "POST" else b""
            env = {
                **os.environ,
                "GIT_PROJECT_ROOT": str(server.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "PATH_INFO": parts.path,
                "QUERY_STRING": parts.query,
                "REQUEST_METHOD": self.command,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_USER": "tester",  # receive-pack serves authenticated users only
                "REMOTE_ADDR": "127.0.0.1",
                "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            }
            done = subprocess.run(
                ["git", "http-backend"], input=body, capture_output=True, env=env, timeout=120
            )
            head, _, payload = done.stdout.partition(b"\r\n\r\n")
            if not payload and b"\n\n" in head:
                head, _, payload = done.stdout.partition(b"\n\n")
            status = HTTPStatus.OK
            headers: list[tuple[str, str]] = []
            for line in head.decode("latin-1").splitlines():
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = HTTPStatus(int(value.split()[0]))
                elif name:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler

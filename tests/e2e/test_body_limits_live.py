"""A real `mirel serve` process under hostile bodies (issue 11, item 1): 400 MB sent with or
without a Content-Length, anonymous or with a token, leave the server's peak memory within its
limit plus 50 MB, and each is answered 413."""

from __future__ import annotations

import select
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from e2e_support import start_server, stop

from mirel.db.engine import open_database
from mirel.hub.demo import build_demo
from mirel.instance.accounts.tokens import SCOPES, create_token

pytestmark = pytest.mark.slow

MB = 1_000_000
HOSTILE = 400 * MB
CHUNK = b"x" * MB


def peak_rss(pid: int) -> int:
    """Return the peak resident memory of a process so far, in bytes (Linux's VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


def send_hostile(url: str, path: str, *, declared: bool, token: str | None) -> int:
    """Send a 400 MB body to `path` and return the status the server answers, reading the
    answer as soon as it comes (the server may stop reading the body long before its end)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as connection:
        head = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc}", "Content-Type: application/json"]
        head.append(f"Content-Length: {HOSTILE}" if declared else "Transfer-Encoding: chunked")
        if token:
            head.append(f"Authorization: Bearer {token}")
        connection.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        answer = b""
        for _ in range(HOSTILE // MB):
            readable, _, _ = select.select([connection], [], [], 0)
            if readable:
                break
            try:
                if declared:
                    connection.sendall(CHUNK)
                else:
                    connection.sendall(f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
        while b"\r\n" not in answer:
            data = connection.recv(65536)
            if not data:
                break
            answer += data
    return int(answer.split(b" ", 2)[1])


def test_hostile_bodies_cost_the_server_no_memory(tmp_path: Path) -> None:
    hub = build_demo(tmp_path / "demo")
    database_url = f"sqlite:///{tmp_path / 'prod.db'}"
    with open_database(database_url) as database:
        token = create_token(database.sessions, "e2e", list(SCOPES))
    process, output, url = start_server(hub.repo.path, database_url, extra=("--poll-interval", "0"))
    try:
        commits = "/api/v2/source_control/branches/x/commits"
        send_hostile(url, "/api/v2/instance", declared=True, token=None)  # warm up
        before = peak_rss(process.pid)
        cases = [
            (commits, True, None),
            (commits, False, None),
            (commits, True, token),
            (commits, False, token),
            ("/api/v2/source_control/manifests/_batch", False, token),
        ]
        for path, declared, sent_token in cases:
            status = send_hostile(url, path, declared=declared, token=sent_token)
            assert status == 413, (path, declared, sent_token, status)
        # A form without its CSRF token is refused before its body is read at all.
        assert send_hostile(url, "/login", declared=False, token=None) == 403
        grown = peak_rss(process.pid) - before
        # The largest limit (64 MiB, the commit routes) plus 50 MB.
        assert grown < 64 * 1024 * 1024 + 50 * MB, f"the server grew by {grown / MB:.0f} MB"
        assert process.poll() is None
    finally:
        stop(process, output)
    assert "Traceback" not in output.text()

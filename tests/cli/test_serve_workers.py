"""`mirel serve --workers N`, for real: N processes answer on one port over one database, one of
them polls, SIGTERM stops them all, and a worker that dies takes the others down with it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mirel.db.engine import open_database
from mirel.hub.demo import build_demo
from mirel.instance.accounts.tokens import SCOPES, create_token

pytestmark = pytest.mark.slow

WORKER_HEADER = "X-Mirel-Worker-Pid"


@dataclass
class Served:
    """A running `mirel serve --workers 2` and what it was given."""

    process: subprocess.Popen[bytes]
    url: str
    token: str
    log: Path

    def worker_pids(self) -> set[int]:
        """Return the processes that answered /healthz, asked on fresh connections at once."""
        seen: set[int] = set()
        deadline = time.monotonic() + 60
        with ThreadPoolExecutor(8) as pool:
            while len(seen) < 2 and time.monotonic() < deadline:
                answers = pool.map(lambda _: httpx.get(f"{self.url}/healthz"), range(16))
                seen |= {int(answer.headers[WORKER_HEADER]) for answer in answers}
        return seen


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _parent_of(pid: int) -> int:
    # /proc/PID/stat: "pid (name) state ppid ...", the name in parentheses may hold spaces.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1])


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _wait(condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    hub = build_demo(tmp_path / "demo")
    database_url = f"sqlite:///{tmp_path / 'workers.db'}"
    with open_database(database_url) as database:
        token = create_token(database.sessions, "workers test", list(SCOPES))
    port = _free_port()
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("MIREL_")},
        "MIREL_REPO": str(hub.repo.path),
        "MIREL_DATABASE_URL": database_url,
        "MIREL_PORT": str(port),
        "MIREL_MANIFEST": "prod",
        "MIREL_POLL_INTERVAL": "0.5",
        "MIREL_WORKERS": "2",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "mirel", "serve"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait(answers)
        yield Served(process, url, token, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_two_workers_answer_one_polls_and_sigterm_stops_them_all(served: Served) -> None:
    workers = served.worker_pids()
    assert len(workers) == 2
    assert {_parent_of(pid) for pid in workers} == {served.process.pid}

    # Both answered, so both ran their application's start-up: exactly one started a poller,
    # and its deploys serve the demo to every worker (they share the database).
    assert served.log.read_text().count("poller started") == 1
    headers = {"Authorization": f"Bearer {served.token}"}

    def deployed() -> bool:
        answer = httpx.get(f"{served.url}/api/v2/elements", headers=headers)
        return answer.status_code == 200 and bool(answer.json()["data"]["elements"])

    _wait(deployed)
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=60) == 0, served.log.read_text()
    assert all(_gone(pid) for pid in workers)
    assert served.log.read_text().count("poller started") == 1


def test_a_worker_that_dies_stops_the_others_and_the_server_fails(served: Served) -> None:
    first, second = sorted(served.worker_pids())
    os.kill(first, signal.SIGKILL)
    assert served.process.wait(timeout=60) == 1
    assert _gone(second)
    assert f"(pid {first}) ended by itself (killed by SIGKILL)" in served.log.read_text()


def test_workers_that_cannot_start_say_why_in_one_line(tmp_path: Path) -> None:
    hub = build_demo(tmp_path / "demo")
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("MIREL_")},
        "MIREL_REPO": str(hub.repo.path),
        "MIREL_DATABASE_URL": f"sqlite:///{tmp_path / 'no' / 'such' / 'folder.db'}",
        "MIREL_PORT": str(_free_port()),
    }
    done = subprocess.run(
        [sys.executable, "-m", "mirel", "serve", "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "error: cannot open the database" in done.stderr
    assert "Traceback" not in done.stderr

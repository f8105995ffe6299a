"""Merge-to-live across three real instances that share only a remote repository's URL.

    python benchmarks/merge_to_live.py                   # 20 merges by webhook, 20 by polling
    python benchmarks/merge_to_live.py --merges 5 --json

A loopback git server (git http-backend behind a token: the tests' tests/git_server.py) holds
the repository. Three `mirel serve` processes (dev, staging, prod) each keep their own mirror and
SQLite database, and all publish prod. Each merge pins billing to the other of two releases on
the host itself (no instance takes part); the clock runs from the merge until all three serve
it. On the webhook path the host then sends each instance a signed GitHub push webhook, as
GitHub does on a push; on the polling path there is no webhook and the instances poll every
--poll-interval seconds. It prints p50, p99 and the largest time of each path, in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from git_server import GitHttpServer  # noqa: E402  (the tests' loopback git server)
from mirel.db.engine import open_database  # noqa: E402
from mirel.git.repository import Author  # noqa: E402
from mirel.hub import Hub  # noqa: E402
from mirel.instance.accounts.tokens import SCOPES, create_token  # noqa: E402
from mirel.providers.webhook_schemes import sign  # noqa: E402

AUTHOR = Author("Bench", "bench@example.com")
NAMES = ("dev", "staging", "prod")
GIT_TOKEN = "merge-to-live-token"
SECRET = "merge-to-live-webhook-secret"


def _merged(hub: Hub, change: Any) -> None:
    hub.pulls.merge(change.pull_request.number, AUTHOR)


def _seed(hub: Hub) -> str:
    """Add billing with releases 1.0.0 and 1.1.0, prod pinning 1.0.0; return billing's uuid."""
    from mirel.core.kinds import APP

    _merged(hub, hub.elements.add(APP, "billing", {"main.rsx": b"v1"}, AUTHOR))
    _merged(hub, hub.releases.create("billing", AUTHOR, version="1.0.0"))
    _merged(hub, hub.elements.push("billing", {"main.rsx": b"v2"}, AUTHOR))
    _merged(hub, hub.releases.create("billing", AUTHOR, version="1.1.0"))
    _merged(hub, hub.manifests.set_pin("prod", "billing", "1.0.0", AUTHOR))
    return hub.catalog.element("billing").uuid


class Server:
    """One `mirel serve` over its own mirror and database."""

    def __init__(self, host: GitHttpServer, folder: Path, name: str, poll: float) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{folder / name}.db"
        with open_database(database_url) as database:
            self.token = create_token(database.sessions, "bench", list(SCOPES))
        with socket_port() as port:
            self.url = f"http://127.0.0.1:{port}"
        env = {
            **{key: value for key, value in os.environ.items() if not key.startswith("MIREL_")},
            "MIREL_REPO": host.url("shared"),
            "MIREL_MIRROR": str(folder / name / "mirror.git"),
            "MIREL_GIT_TOKEN": GIT_TOKEN,
            "MIREL_DATABASE_URL": database_url,
            "MIREL_PORT": str(port),
            "MIREL_MANIFEST": "prod",
            "MIREL_NAME": name,
            "MIREL_POLL_INTERVAL": str(poll),
            "MIREL_WEBHOOK_SECRET": SECRET,
            "MIREL_LOG_LEVEL": "warning",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mirel", "serve"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.client = httpx.Client(
            base_url=f"{self.url}/api/v2",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"{name} did not start")

    def serves(self, element: str) -> str | None:
        answer = self.client.get(f"/elements/{element}")
        return answer.json()["data"]["live_release"] if answer.status_code == 200 else None

    def webhook(self) -> None:
        body = json.dumps({"ref": "refs/heads/main"}).encode()
        headers = {
            "X-Hub-Signature-256": sign(body, SECRET),
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "Content-Type": "application/json",
        }
        self.client.post("/webhooks/github", content=body, headers=headers)

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


@contextmanager
def socket_port() -> Iterator[int]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield port


def measure(
    origin: Hub, servers: list[Server], element: str, merges: int, *, webhook: bool
) -> list[float]:
    """Return the merge-to-live seconds of `merges` merges on the host."""
    times: list[float] = []
    for _ in range(merges):
        current = servers[0].serves(element)
        wanted = "1.1.0" if current == "1.0.0" else "1.0.0"
        change = origin.manifests.set_pin("prod", "billing", wanted, AUTHOR)
        started = time.monotonic()
        _merged(origin, change)
        if webhook:
            for server in servers:
                server.webhook()
        waiting = list(servers)
        while waiting:
            waiting = [server for server in waiting if server.serves(element) != wanted]
            if time.monotonic() - started > 60:
                raise RuntimeError("a merge did not go live within 60 s")
            if waiting:
                time.sleep(0.01)
        times.append(time.monotonic() - started)
    return times


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50": statistics.median(ordered), "p99": p99, "max": ordered[-1]}


def run(args: argparse.Namespace, work: Path) -> dict[str, dict[str, float]]:
    root = work / "host"
    root.mkdir(parents=True)
    host = GitHttpServer(root, {GIT_TOKEN: "write"})
    host.start()
    origin = Hub.init(root / "shared.git", AUTHOR)
    element = _seed(origin)
    results: dict[str, dict[str, float]] = {}
    try:
        for path, poll in (("webhook", 0.0), ("polling", args.poll_interval)):
            servers = [Server(host, work / path, name, poll) for name in NAMES]
            try:
                for server in servers:
                    server.webhook()  # the first deploy
                deadline = time.monotonic() + 60
                while any(s.serves(element) is None for s in servers):
                    if time.monotonic() > deadline:
                        raise RuntimeError("the instances did not deploy")
                    time.sleep(0.05)
                times = measure(origin, servers, element, args.merges, webhook=path == "webhook")
                results[path] = summary(times)
            finally:
                for server in servers:
                    server.stop()
    finally:
        host.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--merges", type=int, default=20)
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix=f"mirel-m2l-{secrets.token_hex(3)}-") as folder:
        results = run(args, Path(folder))
    if args.json:
        print(json.dumps({"merges": args.merges, "results": results}, indent=2))
        return 0
    print(f"merge-to-live over {args.merges} merges, three instances (seconds)")
    print("| path | p50 | p99 | max |\n|---|---:|---:|---:|")
    for path, figures in results.items():
        label = path if path == "webhook" else f"polling every {args.poll_interval} s"
        print(f"| {label} | {figures['p50']:.3f} | {figures['p99']:.3f} | {figures['max']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

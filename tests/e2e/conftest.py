"""Fixtures of the end-to-end tests: real server processes on loopback, always stopped afterwards.

- `fleet`: `mirel up` in a temporary folder (three `mirel serve` processes under it);
- `server`: one `mirel serve` over a demo repository, with an admin token.

Every process is started in a `try` whose `finally` stops it (SIGTERM, then SIGKILL after a
while), so a failing test leaves nothing listening.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import Fleet, Server, free_ports, start_fleet, start_server, stop

from mirel.hub.demo import build_demo
from support import main


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    """Return a running `mirel up` in a temporary folder; stop it afterwards."""
    running = start_fleet(tmp_path / "up", free_ports(3))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Server]:
    """Return a running `mirel serve` publishing `prod` of a demo repository, polling off."""
    hub = build_demo(tmp_path / "demo")
    database_url = f"sqlite:///{tmp_path / 'prod.db'}"
    capsys.readouterr()
    assert (
        main(["token", "create", "--db", database_url, "--scope", "all", "--name", "e2e", "--json"])
        == 0
    )
    token = json.loads(capsys.readouterr().out)["token"]
    process, output, url = start_server(hub.repo.path, database_url, extra=("--poll-interval", "0"))
    running = Server(url, hub.repo.path, database_url, token, process, output)
    try:
        yield running
    finally:
        running.close_clients()
        stop(process, output)

"""Three real `mirel serve` processes that share only a remote repository's URL (issue 10): each
has its own mirror folder and database; a merge made on the host reaches all three by polling;
while the host is down their pages and reads go on and a write fails in one line; once it is
back, the same write works. The host is `git http-backend` on loopback, behind a token."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e_support import Api, Output, free_ports, start_server, stop, wait_until

from git_server import GitHttpServer
from mirel.db.engine import open_database
from mirel.hub import Hub
from mirel.instance.accounts.tokens import SCOPES, create_token
from support import AUTHOR, add_element, merge, release

pytestmark = pytest.mark.slow

TOKEN = "host-token-for-the-fleet"
NAMES = ("dev", "staging", "prod")


@pytest.fixture
def host(tmp_path: Path) -> Iterator[GitHttpServer]:
    root = tmp_path / "host"
    root.mkdir()
    server = GitHttpServer(root, {TOKEN: "write"})
    server.start()
    try:
        yield server
    finally:
        server.stop()


def start_instance(
    host: GitHttpServer, folder: Path, name: str
) -> tuple[Api, subprocess.Popen[str], Output]:
    """Start `mirel serve` over its own mirror and database; return its API and process."""
    database_url = f"sqlite:///{folder / name}.db"
    with open_database(database_url) as database:
        token = create_token(database.sessions, "fleet", list(SCOPES))
    env = {
        "MIREL_REPO": host.url("shared"),
        "MIREL_MIRROR": str(folder / name / "mirror.git"),
        "MIREL_GIT_TOKEN": TOKEN,
        "MIREL_DATABASE_URL": database_url,
        "MIREL_PORT": str(free_ports(1)),
        "MIREL_MANIFEST": "prod",
        "MIREL_NAME": name,
        "MIREL_POLL_INTERVAL": "0.2",
    }
    process, output, url = start_server(None, None, env=env)
    return Api(url, token), process, output


def test_a_fleet_on_a_remote_goes_live_by_polling_and_rides_out_a_host_outage(
    host: GitHttpServer, tmp_path: Path
) -> None:
    origin = Hub.init(host.root / "shared.git", AUTHOR)
    uuid = add_element(origin, "app", "billing", {"main.rsx": b"v1"})
    release(origin, "billing", "1.0.0")
    merge(origin, origin.manifests.set_pin("prod", "billing", "1.0.0", AUTHOR))
    fleet = [start_instance(host, tmp_path, name) for name in NAMES]
    try:
        for api, _, _ in fleet:
            wait_until(
                lambda api=api: api.get(f"/elements/{uuid}")["live_release"] == "1.0.0",
                30,
                "the first deploy",
            )
        # A release and its pin, merged on the host: no instance takes part.
        merge(origin, origin.elements.push("billing", {"main.rsx": b"v2"}, AUTHOR))
        release(origin, "billing", "1.1.0")
        merged_at = time.monotonic()
        merge(origin, origin.manifests.set_pin("prod", "billing", "1.1.0", AUTHOR))
        for api, _, _ in fleet:
            wait_until(
                lambda api=api: api.get(f"/elements/{uuid}")["live_release"] == "1.1.0",
                30,
                "the merge goes live by polling",
            )
        assert time.monotonic() - merged_at < 30
        api = fleet[2][0]
        assert api.get("/instance")["repository"] == host.url("shared")
        host.stop()
        try:
            # Reads and pages go on from the mirror.
            assert api.get(f"/elements/{uuid}")["live_release"] == "1.1.0"
            assert api.get("/source_control/manifests/prod")["manifest"]["name"] == "prod"
            assert httpx.get(f"{api.url}/login").status_code == 200
            refused = api.client.put(
                f"/source_control/manifests/prod/{uuid}", json={"release": "1.0.0"}
            )
            assert refused.status_code == 503, refused.text
            message = refused.json()["message"]
            assert host.url("shared") in message
            assert "nothing was changed" in message
            assert TOKEN not in message
        finally:
            host.start()
        # Once the host answers again, the same write works.
        change = api.put(f"/source_control/manifests/prod/{uuid}", {"release": "1.0.0"})
        assert change["pull_request"]["number"] >= 1
        assert origin.provider.get(change["pull_request"]["number"]).state == "open"
    finally:
        for api, process, output in fleet:
            api.close()
            stop(process, output)
    for _, _, output in fleet:
        assert TOKEN not in output.text()
        assert "Traceback" not in output.text()

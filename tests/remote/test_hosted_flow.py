"""The seed flow against every simulated host (issue 10, acceptance 1): add an element, create a
release, pin it in a manifest, merge each change through the host's API, and an instance on its
own mirror deploys it; the host holds each pull request with its title, description, head and
base. (test_contract.py holds the calls every adapter must answer alike.)"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from git_server import GitHttpServer
from hosts import SimulatedHost
from mirel.core.kinds import APP
from mirel.hub import Hub
from mirel.instance import Instance
from mirel.providers.base import PullState
from mirel.settings import Settings
from remote_support import WRITE_TOKEN, MirrorHub
from support import AUTHOR, merge, release


def test_the_seed_flow_runs_with_its_pull_requests_on_the_host(
    simulated: SimulatedHost,
    simulated_hub: MirrorHub,
    origin: Hub,
    git_server: GitHttpServer,
    tmp_path: Path,
) -> None:
    hub = simulated_hub("writer")
    change = hub.elements.add(APP, "billing", {"main.rsx": b"v1"}, AUTHOR)
    assert change.pull_request is not None
    on_host = simulated.pull_fields("shared", change.pull_request.number)
    assert on_host["title"] == change.pull_request.title
    assert change.pull_request.description.strip() in on_host["description"]
    assert (on_host["head"], on_host["base"]) == (change.pull_request.head_branch, "main")
    assert change.pull_request.author == str(AUTHOR)
    merge(hub, change)
    assert simulated.state("shared", change.pull_request.number) == "merged"
    release(hub, "billing", "1.0.0")
    pinned = hub.manifests.set_pin("prod", "billing", "1.0.0", AUTHOR)
    merge(hub, pinned)
    assert origin.head() == hub.head()
    assert origin.repo.branches_under("mirel/") == {}
    assert {pull.state for pull in hub.provider.list_pulls()} == {PullState.MERGED}

    host = simulated.settings("shared")
    settings = Settings(
        name="prod",
        repo=git_server.url("shared"),
        mirror=str(tmp_path / "prod-mirror.git"),
        git_token=SecretStr(WRITE_TOKEN),
        provider=host.kind,  # type: ignore[arg-type]
        host_repository=host.repository,
        host_api_url=host.api_url,
        host_token=SecretStr(host.token) if host.token else None,
        host_username=host.username,
        database_url=f"sqlite:///{tmp_path / 'prod.db'}",
        manifest="prod",
        poll_interval=0,
    )
    with Instance(settings) as instance:
        deployment = instance.deployer.deploy("poller")
        assert deployment.status == "SUCCESS", deployment.log
        uuid = instance.hub.catalog.element("billing").uuid
        assert instance.live.element(uuid).live_release == "1.0.0"
        # A new release, pinned and merged on the host's own page, goes live at the next deploy.
        release(hub, "billing", "1.1.0")
        moved = hub.manifests.set_pin("prod", "billing", "1.1.0", AUTHOR)
        assert moved.pull_request is not None
        assert [pull.number for pull in instance.hub.provider.open_pulls()] == [
            moved.pull_request.number
        ]
        simulated.merge_on_page("shared", moved.pull_request.number)
        deployment = instance.deployer.deploy("webhook")
        assert deployment.status == "SUCCESS", deployment.log
        assert instance.live.element(uuid).live_release == "1.1.0"

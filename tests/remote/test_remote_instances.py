"""Instances on separate machines share only the remote's URL (issue 10): each has its own
mirror folder and database; a merge made on the host itself reaches every one of them at its
next deploy (poll, webhook or API), since a deploy fetches first; while the remote is down they
keep serving and deploying what their mirror holds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from git_server import GitHttpServer
from mirel.hub import Hub
from mirel.instance import Instance
from mirel.settings import Settings
from remote_support import WRITE_TOKEN
from support import AUTHOR, add_element, merge, release

NAMES = ("dev", "staging", "prod")


@pytest.fixture
def instances(git_server: GitHttpServer, origin: Hub, tmp_path: Path) -> Iterator[list[Instance]]:
    """Return three instances over their own mirrors of the shared repository, all publishing
    prod, where billing 1.0.0 is pinned."""
    add_element(origin, "app", "billing", {"main.rsx": b"v1"})
    release(origin, "billing", "1.0.0")
    merge(origin, origin.manifests.set_pin("prod", "billing", "1.0.0", AUTHOR))
    made = [
        Instance(
            Settings(
                name=name,
                repo=git_server.url("shared"),
                mirror=str(tmp_path / name / "mirror.git"),
                git_token=SecretStr(WRITE_TOKEN),
                database_url=f"sqlite:///{tmp_path / name}.db",
                manifest="prod",
                poll_interval=0,
            )
        )
        for name in NAMES
    ]
    try:
        yield made
    finally:
        for instance in made:
            instance.close()


def live_release(instance: Instance, origin: Hub) -> str | None:
    return instance.live.element(origin.catalog.element("billing").uuid).live_release


def test_a_merge_on_the_host_goes_live_on_every_instance_at_its_next_deploy(
    instances: list[Instance], origin: Hub
) -> None:
    for instance in instances:
        assert instance.deployer.deploy("poller").status == "SUCCESS"
        assert live_release(instance, origin) == "1.0.0"
        assert instance.info().repository == instances[0].settings.repo
    # On the host: a release and a pin merged without any mirel instance taking part.
    merge(origin, origin.elements.push("billing", {"main.rsx": b"v2"}, AUTHOR))
    release(origin, "billing", "1.1.0")
    merge(origin, origin.manifests.set_pin("prod", "billing", "1.1.0", AUTHOR))
    for instance in instances:
        deployment = instance.deployer.deploy("poller")
        assert deployment.status == "SUCCESS", deployment.log
        assert deployment.commit_sha == origin.head()
        assert live_release(instance, origin) == "1.1.0"
    # Each instance's report went to the remote, where every other one reads it.
    reports = {report.name: report for report in origin.provider.instance_reports()}
    assert set(reports) == set(NAMES)
    assert {report.commit_sha for report in reports.values()} == {origin.head()}


def test_while_the_remote_is_down_instances_serve_and_deploy_from_their_mirror(
    instances: list[Instance], origin: Hub, git_server: GitHttpServer
) -> None:
    prod = instances[2]
    assert prod.deployer.deploy("poller").status == "SUCCESS"
    git_server.stop()
    try:
        # Nothing new can be fetched: the deploy finds the head it deployed, and says so.
        again = prod.deployer.deploy("poller", force=True)
        assert again.status == "SUCCESS", again.log
        assert live_release(prod, origin) == "1.0.0"
        assert [element.name for element in prod.hub.catalog.elements()] == ["billing"]
    finally:
        git_server.start()

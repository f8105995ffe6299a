"""Fixtures of the remote-repository tests: a real git server on loopback holding one shared
repository, and hubs that work on their own mirrors of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from git_server import GitHttpServer
from github_sim import GitHubSimulator
from hosts import SimulatedHost, hosted_kinds
from mirel.git.remote import open_repository
from mirel.hub import Hub
from remote_support import (
    READ_TOKEN,
    WRITE_TOKEN,
    MirrorHub,
    running_simulator,
    simulated_hub_maker,
)
from support import AUTHOR


@pytest.fixture
def git_server(tmp_path: Path) -> Iterator[GitHttpServer]:
    """Return a running git server over HTTP with a write token and a read-only one."""
    root = tmp_path / "server"
    root.mkdir()
    server = GitHttpServer(root, {WRITE_TOKEN: "write", READ_TOKEN: "read"})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def origin(git_server: GitHttpServer) -> Hub:
    """Return the hub of the shared repository, opened directly on the server's disk."""
    return Hub.init(git_server.root / "shared.git", AUTHOR)


@pytest.fixture
def mirror_hub(git_server: GitHttpServer, origin: Hub, tmp_path: Path) -> MirrorHub:
    """Return a maker of hubs over their own mirror of the shared repository, as separate
    mirel processes (or machines) would have."""
    del origin

    def make(name: str, token: str = WRITE_TOKEN) -> Hub:
        repository = open_repository(
            git_server.url("shared"), mirror=tmp_path / "mirrors" / name, token=token
        )
        return Hub.open(repository)

    return make


@pytest.fixture(params=hosted_kinds())
def simulated(request: pytest.FixtureRequest, origin: Hub) -> Iterator[SimulatedHost]:
    """Return each host's simulator in turn (one test per hosted provider)."""
    del origin
    with running_simulator(request.param, request.getfixturevalue("git_server")) as simulator:
        yield simulator


@pytest.fixture
def simulated_hub(simulated: SimulatedHost, git_server: GitHttpServer, tmp_path: Path) -> MirrorHub:
    """Return a maker of hubs whose pull requests live on the `simulated` host."""
    return simulated_hub_maker(simulated, git_server, tmp_path / "mirrors")


@pytest.fixture
def github(git_server: GitHttpServer, origin: Hub) -> Iterator[GitHubSimulator]:
    """Return the GitHub simulator (acme/shared is the shared repository)."""
    del origin
    with running_simulator("github", git_server) as simulator:
        assert isinstance(simulator, GitHubSimulator)
        yield simulator


@pytest.fixture
def github_hub(git_server: GitHttpServer, github: GitHubSimulator, tmp_path: Path) -> MirrorHub:
    """Return a maker of hubs over their own mirror whose pull requests live on the simulator."""
    return simulated_hub_maker(github, git_server, tmp_path / "mirrors")

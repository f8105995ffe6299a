"""Fixtures of the remote-repository tests: a real git server on loopback holding one shared
repository, and hubs that work on their own mirrors of it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from git_server import GitHttpServer
from github_sim import GitHubSimulator
from hosts import SimulatedHost, hosted_kinds, open_simulator
from mirel.git.remote import open_repository
from mirel.hub import Hub
from support import AUTHOR

WRITE_TOKEN = "s3cret-write-token"
READ_TOKEN = "s3cret-read-token"

MirrorHub = Callable[..., Hub]


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


@contextlib.contextmanager
def running_simulator(kind: str, git_server: GitHttpServer) -> Iterator[SimulatedHost]:
    """Run the simulator of host `kind` over the git server's repositories (the shared one is
    `shared`); fail the test if any body it handled broke the host's description."""
    simulator = open_simulator(kind, git_server.root, WRITE_TOKEN)
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()
    assert simulator.violations == []


def simulated_hub_maker(
    simulator: SimulatedHost, git_server: GitHttpServer, mirrors: Path
) -> MirrorHub:
    """Return a maker of hubs over their own mirror whose pull requests live on `simulator`."""

    def make(name: str) -> Hub:
        repository = open_repository(
            git_server.url("shared"), mirror=mirrors / name, token=WRITE_TOKEN
        )
        return Hub.open(repository, host=simulator.settings("shared"))

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

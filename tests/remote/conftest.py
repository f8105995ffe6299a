"""Fixtures of the remote-repository tests: a real git server on loopback holding one shared
repository, and hubs that work on their own mirrors of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from git_server import GitHttpServer
from github_sim import GitHubSimulator
from mirel.git.remote import open_repository
from mirel.hub import Hub
from mirel.providers import HostSettings
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


@pytest.fixture
def github(git_server: GitHttpServer, origin: Hub) -> Iterator[GitHubSimulator]:
    """Return a GitHub simulator over the git server's repositories (the shared one is
    acme/shared); the test fails if any body it handled broke GitHub's description."""
    del origin
    simulator = GitHubSimulator(git_server.root, WRITE_TOKEN)
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()
    assert simulator.violations == []


@pytest.fixture
def github_hub(git_server: GitHttpServer, github: GitHubSimulator, tmp_path: Path) -> MirrorHub:
    """Return a maker of hubs over their own mirror whose pull requests live on the simulator."""

    def make(name: str) -> Hub:
        repository = open_repository(
            git_server.url("shared"), mirror=tmp_path / "mirrors" / name, token=WRITE_TOKEN
        )
        host = HostSettings("github", "acme/shared", github.api_url, WRITE_TOKEN)
        return Hub.open(repository, host=host)

    return make

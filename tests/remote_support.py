"""What the remote-repository tests share beside their fixtures (tests/remote/conftest.py): the
git server's tokens, and the simulators of the hosts run around a test. A module of its own, so
that tests import it by a name no other folder's conftest.py shares."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from git_server import GitHttpServer
from hosts import SimulatedHost, open_simulator
from mirel.git.remote import open_repository
from mirel.hub import Hub

WRITE_TOKEN = "s3cret-write-token"
READ_TOKEN = "s3cret-read-token"

MirrorHub = Callable[..., Hub]


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

"""A repository over SSH (issue 10): a mirror fetched and pushed with a key, the seed flow's
writes landing on the server, a key the server does not know refused in one line naming
MIREL_GIT_SSH_KEY, and reads going on from the mirror once the server stops."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pygit2
import pytest

from git_server import GitHttpServer
from mirel.core.kinds import APP
from mirel.errors import RemoteUnreachable
from mirel.git.remote import open_repository
from mirel.hub import Hub
from ssh_server import GitSshServer, _keygen, reason_missing
from support import AUTHOR, merge, release


@pytest.fixture
def ssh_server(git_server: GitHttpServer, tmp_path: Path) -> Iterator[GitSshServer]:
    """Return sshd serving the git server's repositories, or skip saying why it cannot run
    (CI sets MIREL_REQUIRE_SSH=1, which turns the skip into a failure)."""
    reason = reason_missing()
    if reason is not None:
        if os.environ.get("MIREL_REQUIRE_SSH"):
            pytest.fail(f"MIREL_REQUIRE_SSH is set but {reason}")
        pytest.skip(reason)
    server = GitSshServer(git_server.root, tmp_path / "ssh")
    server.start()
    # libgit2 checks host keys against ~/.ssh/known_hosts, under the home it was given.
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "known_hosts").write_text(server.known_hosts_line())
    before = pygit2.settings.homedir
    pygit2.settings.homedir = str(home)
    try:
        yield server
    finally:
        pygit2.settings.homedir = before
        server.stop()


def test_the_seed_flow_over_ssh_lands_on_the_server(
    ssh_server: GitSshServer, origin: Hub, tmp_path: Path
) -> None:
    repository = open_repository(
        ssh_server.url("shared"), mirror=tmp_path / "mirror.git", ssh_key=ssh_server.client_key
    )
    hub = Hub.open(repository)
    change = hub.elements.add(APP, "billing", {"main.rsx": b"v1"}, AUTHOR)
    merge(hub, change)
    release(hub, "billing", "1.0.0")
    merge(hub, hub.manifests.set_pin("prod", "billing", "1.0.0", AUTHOR))
    assert origin.head() == hub.head()
    pin = origin.catalog.manifest("prod").find(origin.catalog.element("billing").uuid)
    assert pin is not None
    assert pin[1].release == "1.0.0"
    # The server stops: reads go on from the mirror, a write is refused in one line.
    ssh_server.stop()
    reopened = Hub.open(
        open_repository(
            ssh_server.url("shared"),
            mirror=tmp_path / "mirror.git",
            ssh_key=ssh_server.client_key,
        )
    )
    assert reopened.catalog.element("billing").name == "billing"
    with pytest.raises(RemoteUnreachable, match="nothing was changed"):
        reopened.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)


def test_a_key_the_server_does_not_know_is_refused_naming_the_setting(
    ssh_server: GitSshServer, origin: Hub, tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger_key"
    _keygen(stranger)
    with pytest.raises(RemoteUnreachable) as refused:
        open_repository(ssh_server.url("shared"), mirror=tmp_path / "m.git", ssh_key=stranger)
    assert "MIREL_GIT_SSH_KEY" in str(refused.value)
    assert "\n" not in str(refused.value)
    del origin


def test_a_server_whose_host_key_is_unknown_is_refused(
    ssh_server: GitSshServer, origin: Hub, tmp_path: Path
) -> None:
    # Another machine answering at that address (or a key that changed) could be anyone's.
    known = Path(pygit2.settings.homedir) / ".ssh" / "known_hosts"
    known.write_text(known.read_text().replace("[127.0.0.1]", "[127.0.0.2]"))
    with pytest.raises(RemoteUnreachable) as refused:
        open_repository(
            ssh_server.url("shared"), mirror=tmp_path / "m.git", ssh_key=ssh_server.client_key
        )
    assert "known_hosts" in str(refused.value)
    assert "ssh-keyscan" in str(refused.value)
    del origin

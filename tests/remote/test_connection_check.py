"""`test_connection` does for real what a change would do (issue 10, acceptance 5): it fetches,
writes a probe reference to the remote and removes it, and calls the host's API, and names what
fails: a token that may read but not push, credentials refused, a repository that is not there,
a host that does not answer, a host API that refuses its token. No secret is in any message."""

from __future__ import annotations

import shutil
from pathlib import Path

from git_server import GitHttpServer
from github_sim import GitHubSimulator
from mirel.git.remote import open_repository
from mirel.hub import Hub
from mirel.hub.connection_check import PROBE_PREFIX
from mirel.providers import HostSettings
from remote_support import READ_TOKEN, WRITE_TOKEN, MirrorHub


def test_a_token_that_may_push_connects_and_leaves_no_probe(
    mirror_hub: MirrorHub, origin: Hub
) -> None:
    found = mirror_hub("one").catalog.check_connection()
    assert found.connected, found.message
    assert found.commit_sha == origin.head()
    assert origin.repo.refs_under(PROBE_PREFIX) == {}


def test_a_read_only_token_is_named_as_one(mirror_hub: MirrorHub, origin: Hub) -> None:
    found = mirror_hub("reader", token=READ_TOKEN).catalog.check_connection()
    assert not found.connected
    assert "can read" in found.message
    assert "but not write" in found.message
    assert READ_TOKEN not in found.message
    assert origin.repo.refs_under(PROBE_PREFIX) == {}


def test_refused_credentials_a_missing_repository_and_a_silent_host_are_named(
    git_server: GitHttpServer, origin: Hub, tmp_path: Path
) -> None:
    mirror = tmp_path / "mirror.git"
    Hub.open(open_repository(git_server.url("shared"), mirror=mirror, token=WRITE_TOKEN))

    def check(token: str) -> str:
        repository = open_repository(git_server.url("shared"), mirror=mirror, token=token)
        found = Hub.open(repository).catalog.check_connection()
        assert not found.connected
        assert token not in found.message
        return found.message

    assert "refused mirel's credentials" in check("not-a-token-of-this-server")
    shutil.move(git_server.root / "shared.git", tmp_path / "moved.git")
    assert "no repository at" in check(WRITE_TOKEN)
    shutil.move(tmp_path / "moved.git", git_server.root / "shared.git")
    git_server.stop()
    assert "cannot fetch" in check(WRITE_TOKEN)
    del origin


def test_a_host_api_that_refuses_its_token_is_named(
    git_server: GitHttpServer, github: GitHubSimulator, tmp_path: Path
) -> None:
    repository = open_repository(
        git_server.url("shared"), mirror=tmp_path / "m.git", token=WRITE_TOKEN
    )
    host = HostSettings("github", "acme/shared", github.api_url, "a-token-github-refuses")
    found = Hub.open(repository, host=host).catalog.check_connection()
    assert not found.connected
    assert found.message.startswith("GitHub's API:")
    assert "a-token-github-refuses" not in found.message
    good = Hub.open(repository, host=github.settings("shared")).catalog.check_connection()
    assert good.connected, good.message

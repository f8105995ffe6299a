"""The bitbucket provider against the Bitbucket Cloud simulator and the loopback git server
(issue 10): what is Bitbucket's own (test_contract.py holds what every adapter must do). The
refusals a user reads when the credentials or the host fail, pages of 50, a merge refused before
Bitbucket is asked when the head moved (its merge call takes no expected head), abbreviated
hashes made whole from the mirror, a second pull request of a branch refused rather than
written over the first, a merge Bitbucket refuses (its merge checks), both kinds of
credentials, and a merge Bitbucket finishes in the background. Every body the simulator
handled is checked against Bitbucket's published description (the `bitbucket` fixture fails
the test otherwise)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pygit2
import pytest

from bitbucket_sim import BitbucketSimulator
from git_server import GitHttpServer
from mirel.core.kinds import APP
from mirel.errors import (
    AlreadyProposed,
    InvalidInput,
    PullRequestChanged,
    PushDeclined,
    RemoteUnreachable,
)
from mirel.git.remote import open_repository
from mirel.hub import Hub
from mirel.providers import HostSettings
from mirel.providers.base import PullState
from mirel.providers.bitbucket_api import PAGE, open_api
from remote_support import WRITE_TOKEN, MirrorHub, running_simulator, simulated_hub_maker
from support import AUTHOR, merge


@pytest.fixture
def bitbucket(git_server: GitHttpServer, origin: Hub) -> Iterator[BitbucketSimulator]:
    """Return the Bitbucket simulator (acme/shared is the shared repository)."""
    del origin
    with running_simulator("bitbucket", git_server) as simulator:
        assert isinstance(simulator, BitbucketSimulator)
        yield simulator


@pytest.fixture
def bitbucket_hub(
    git_server: GitHttpServer, bitbucket: BitbucketSimulator, tmp_path: Path
) -> MirrorHub:
    """Return a maker of hubs over their own mirror whose pull requests live on Bitbucket."""
    return simulated_hub_maker(bitbucket, git_server, tmp_path / "mirrors")


@pytest.mark.parametrize("username", ["mirel-bot", None])
def test_a_refused_token_is_one_clear_line_without_the_token(
    bitbucket: BitbucketSimulator, username: str | None
) -> None:
    settings = replace(bitbucket.settings("shared"), token="wr0ng-s3cret", username=username)
    with pytest.raises(RemoteUnreachable) as refused:
        open_api(settings, None).pulls("open")
    message = str(refused.value)
    assert "wr0ng-s3cret" not in message
    assert WRITE_TOKEN not in message
    assert "\n" not in message
    assert message.startswith("Bitbucket refused mirel's credentials for acme/shared (401")
    assert "MIREL_HOST_TOKEN" in message
    assert "MIREL_HOST_USERNAME" in message
    assert ("API token or app password of mirel-bot" in message) is (username is not None)


def test_a_host_that_does_not_answer_is_named(bitbucket: BitbucketSimulator) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    down = replace(bitbucket.settings("shared"), api_url=f"http://127.0.0.1:{port}/2.0")
    with pytest.raises(RemoteUnreachable, match=r"cannot reach Bitbucket at http://127\.0\.0\.1"):
        open_api(down, None).pull(1)


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (500, r"Bitbucket answered 500 \(Something went wrong\); nothing was changed"),
        (555, r"Bitbucket timed out \(Something went wrong\); it may still finish"),
        (429, "Bitbucket is rate-limiting mirel's credentials"),
    ],
)
def test_a_host_in_trouble_is_reported_and_the_pushed_branch_removed(
    bitbucket_hub: MirrorHub, bitbucket: BitbucketSimulator, origin: Hub, status: int, said: str
) -> None:
    hub = bitbucket_hub("one")
    bitbucket.failing = status
    with pytest.raises(RemoteUnreachable, match=said):
        hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert origin.repo.branches_under("mirel/") == {}
    bitbucket.failing = None
    assert hub.provider.open_pulls() == []


def test_open_pulls_reads_every_page(
    bitbucket_hub: MirrorHub, bitbucket: BitbucketSimulator, git_server: GitHttpServer
) -> None:
    git = pygit2.Repository(str(git_server.root / "shared.git"))
    main = git.references["refs/heads/main"].target
    signature = pygit2.Signature("Someone", "someone@example.com")
    tree = git.TreeBuilder(git[main].peel(pygit2.Tree)).write()
    work = git.create_commit(None, signature, signature, "Work\n", tree, [main])
    api = open_api(bitbucket.settings("shared"), None)
    count = PAGE + 5
    for index in range(count):
        git.references.create(f"refs/heads/feature-{index}", work)
        api.open_pull(title=f"Feature {index}", head=f"feature-{index}", base="main", body="")
    hub = bitbucket_hub("one")
    assert [pull.number for pull in hub.provider.open_pulls()] == list(range(count, 0, -1))
    listed = [path for method, path in bitbucket.calls if method == "GET"]
    assert listed[-2:] == ["/2.0/repositories/acme/shared/pullrequests"] * 2
    assert len(hub.provider.list_pulls(PullState.OPEN, limit=3)) == 3


def test_a_merge_is_refused_before_bitbucket_is_asked_when_the_head_moved(
    bitbucket_hub: MirrorHub, bitbucket: BitbucketSimulator, origin: Hub
) -> None:
    hub = bitbucket_hub("one")
    change = hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert change.pull_request is not None
    number, seen = change.pull_request.number, change.pull_request.head_sha
    hub.branches.commit(change.pull_request.head_branch, {"apps/crm/b": b"y"}, "More\n", AUTHOR)
    before = origin.head()
    with pytest.raises(PullRequestChanged):
        hub.provider.merge(number, AUTHOR, expected_head=seen)
    # Bitbucket's merge takes no expected head: the refusal is the adapter's, made first.
    assert ("POST", f"/2.0/repositories/acme/shared/pullrequests/{number}/merge") not in (
        bitbucket.calls
    )
    assert bitbucket.state("shared", number) == "open"
    assert origin.head() == before


def test_abbreviated_hashes_are_made_whole_from_the_mirror(
    bitbucket_hub: MirrorHub, bitbucket: BitbucketSimulator, origin: Hub
) -> None:
    hub = bitbucket_hub("one")
    change = hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert change.pull_request is not None
    number, branch = change.pull_request.number, change.pull_request.head_branch
    assert len(bitbucket.pulls[number]["source"]["commit"]["hash"]) == 12
    found = hub.provider.get(number)
    assert found.head_sha == origin.repo.branch_sha(branch)
    assert found.base_sha == origin.repo.branch_sha("main")
    assert found.url == f"https://bitbucket.example.com/acme/shared/pull-requests/{number}"
    # The head branch is removed with the full head as its expected value, and the merge
    # commit is named in full.
    merged = hub.provider.merge(number, AUTHOR, expected_head=found.head_sha)
    assert merged.merge_commit_sha == origin.head()
    assert merged.merged_by == "Mirel Bot"
    assert origin.repo.branch_sha(branch) is None


def test_a_second_pull_request_of_a_branch_is_refused_not_written_over_the_first(
    bitbucket_hub: MirrorHub, bitbucket: BitbucketSimulator
) -> None:
    hub = bitbucket_hub("one")
    change = hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert change.pull_request is not None
    number, title = change.pull_request.number, change.pull_request.title
    api = open_api(bitbucket.settings("shared"), None)
    with pytest.raises(AlreadyProposed) as refused:
        api.open_pull(title="Other", head=change.pull_request.head_branch, base="main", body="x")
    assert refused.value.number == number
    assert bitbucket.pull_fields("shared", number)["title"] == title


def test_an_access_token_goes_as_a_bearer_token(
    bitbucket: BitbucketSimulator, git_server: GitHttpServer, origin: Hub, tmp_path: Path
) -> None:
    repository = open_repository(
        git_server.url("shared"), mirror=tmp_path / "mirror", token=WRITE_TOKEN
    )
    hub = Hub.open(repository, host=replace(bitbucket.settings("shared"), username=None))
    change = hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert change.pull_request is not None
    merge(hub, change)
    assert bitbucket.state("shared", change.pull_request.number) == "merged"
    assert origin.head() == hub.head()


def test_a_merge_bitbucket_finishes_in_the_background_is_waited_for(
    bitbucket_hub: MirrorHub, bitbucket: BitbucketSimulator, origin: Hub
) -> None:
    hub = bitbucket_hub("one")
    change = hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert change.pull_request is not None
    bitbucket.slow_merges = True
    merged = hub.provider.merge(change.pull_request.number, AUTHOR)
    assert merged.state is PullState.MERGED
    assert merged.merge_commit_sha == origin.head()


def test_a_merge_bitbucket_refuses_quotes_its_reason_and_leaves_it_open(
    bitbucket_hub: MirrorHub, bitbucket: BitbucketSimulator, origin: Hub
) -> None:
    hub = bitbucket_hub("one")
    change = hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert change.pull_request is not None
    before = origin.head()
    bitbucket.merge_checks = "You need 1 approval to merge this pull request."
    with pytest.raises(PushDeclined, match="refused to merge pull request #1: You need 1 approval"):
        hub.provider.merge(change.pull_request.number, AUTHOR)
    assert bitbucket.state("shared", change.pull_request.number) == "open"
    assert origin.head() == before
    assert origin.repo.branch_sha(change.pull_request.head_branch) is not None


def test_the_settings_name_what_is_missing_and_links_lead_to_bitbucket() -> None:
    with pytest.raises(InvalidInput, match=r"workspace/repo_slug \(MIREL_HOST_REPOSITORY\)"):
        open_api(HostSettings("bitbucket", "acme", token="t"), None)
    with pytest.raises(InvalidInput, match="MIREL_HOST_TOKEN"):
        open_api(HostSettings("bitbucket", "acme/shared"), None)
    api = open_api(HostSettings("bitbucket", "acme/shared", token="t"), None)
    assert (
        api.branch_url("mirel/add-crm") == "https://bitbucket.org/acme/shared/branch/mirel/add-crm"
    )


def test_mirels_data_rides_in_a_markdown_comment_bitbucket_does_not_show(
    bitbucket_hub: MirrorHub, bitbucket: BitbucketSimulator
) -> None:
    hub = bitbucket_hub("one")
    change = hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert change.pull_request is not None
    shown = bitbucket.pull_fields("shared", change.pull_request.number)["description"]
    # Bitbucket escapes HTML: an HTML comment would be printed on its page.
    assert "<!--" not in shown
    assert "[//]: # (mirel " in shown
    assert str(AUTHOR) not in shown  # encoded, not spelled out on the page
    read = hub.provider.get(change.pull_request.number)
    assert read.author == str(AUTHOR)
    assert "[//]" not in read.description

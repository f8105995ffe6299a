"""The gitlab provider against the GitLab simulator and the loopback git server (issue 10): what
a user of GitLab would notice beyond the contract every adapter keeps (test_contract.py).

The project sits in a subgroup (`acme/platform/shared`), named to the API by its URL-encoded
path. A bad token, GitLab down and GitLab failing each give one line that says what to do and
never the token; lists run over more than one of GitLab's pages, "closed" included (GitLab's
merged and closed, read from its `state=all` pages); a merge is refused when the head moved, or
when the merge request conflicts or is no longer open. Every body the simulator handled is
checked against GitLab's description (the `gitlab` fixture fails the test otherwise).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pygit2
import pytest

from git_server import GitHttpServer
from gitlab_sim import GitLabSimulator
from mirel.core.kinds import APP
from mirel.errors import (
    AlreadyProposed,
    InvalidInput,
    MergeConflict,
    PullRequestChanged,
    PullRequestNotFound,
    PullRequestNotOpen,
    RemoteUnreachable,
)
from mirel.hub import Hub
from mirel.providers import HostSettings
from mirel.providers.base import PullState
from mirel.providers.gitlab_api import PAGE, GitLabApi, open_api
from remote_support import MirrorHub, running_simulator, simulated_hub_maker
from support import AUTHOR, add_element, merge, release

PROJECT = "acme%2Fplatform%2Fshared"


@pytest.fixture
def gitlab(git_server: GitHttpServer, origin: Hub) -> Iterator[GitLabSimulator]:
    """Return the GitLab simulator (acme/platform/shared is the shared repository)."""
    del origin
    with running_simulator("gitlab", git_server) as simulator:
        assert isinstance(simulator, GitLabSimulator)
        yield simulator


@pytest.fixture
def gitlab_hub(git_server: GitHttpServer, gitlab: GitLabSimulator, tmp_path: Path) -> MirrorHub:
    """Return a maker of hubs over their own mirror whose merge requests live on the simulator."""
    return simulated_hub_maker(gitlab, git_server, tmp_path / "mirrors")


def _api(gitlab: GitLabSimulator, **changes: str) -> GitLabApi:
    """Return mirel's adapter on the simulator's shared project, with `changes` to its
    settings."""
    settings = replace(gitlab.settings("shared"), **changes)
    return open_api(settings, httpx.Client(timeout=5))


def test_the_seed_flow_keeps_its_merge_requests_on_gitlab(
    gitlab_hub: MirrorHub, gitlab: GitLabSimulator, origin: Hub
) -> None:
    hub = gitlab_hub("one")
    change = hub.elements.add(APP, "billing", {"main.rsx": b"v1"}, AUTHOR)
    pull = change.pull_request
    assert pull is not None
    on_host = gitlab.pulls[pull.number]
    assert (on_host["source_branch"], on_host["target_branch"]) == (pull.head_branch, "main")
    assert pull.description.strip() in on_host["description"]
    web = f"{gitlab.web_url}/acme/platform/shared"
    assert pull.url == f"{web}/-/merge_requests/{pull.number}"
    assert hub.provider.branch_url(pull.head_branch) == f"{web}/-/tree/{pull.head_branch}"
    assert ("POST", f"/api/v4/projects/{PROJECT}/merge_requests") in gitlab.calls
    merge(hub, change)
    merged = hub.provider.get(pull.number)
    assert merged.state is PullState.MERGED
    assert merged.merge_commit_sha == origin.head()
    assert merged.merged_by == "mirel-bot"
    assert origin.repo.branch_sha(pull.head_branch) is None
    release(hub, "billing", "1.0.0")
    assert {p.state for p in hub.provider.list_pulls()} == {PullState.MERGED}
    assert len(hub.provider.list_pulls(PullState.MERGED)) == 2


def test_a_bad_token_is_one_clear_line_without_the_token(gitlab: GitLabSimulator) -> None:
    api = _api(gitlab, token="glpat-wrong-secret-token")
    with pytest.raises(RemoteUnreachable) as refused:
        api.pulls("open")
    message = str(refused.value)
    assert "GitLab refused mirel's token for acme/platform/shared (401" in message
    assert "api scope" in message
    assert "glpat-wrong-secret-token" not in message
    assert "\n" not in message
    assert "glpat-wrong-secret-token" not in repr(gitlab.settings("shared"))


def test_gitlab_down_or_failing_changes_nothing_and_says_so(
    gitlab_hub: MirrorHub, gitlab: GitLabSimulator, origin: Hub
) -> None:
    hub = gitlab_hub("one")
    before = origin.repo.branches_under("mirel/")
    gitlab.answer_500 = True
    with pytest.raises(RemoteUnreachable, match=r"GitLab answered 500 .*try again in a moment"):
        hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert origin.repo.branches_under("mirel/") == before  # the pushed branch was removed
    gitlab.answer_500 = False
    gitlab.stop()
    with pytest.raises(RemoteUnreachable, match=r"cannot reach GitLab at http://127\.0\.0\.1"):
        _api(gitlab).pull(1)
    gitlab.start()


def _seed(gitlab: GitLabSimulator, states: list[str]) -> None:
    """Put merge requests of the given states on the simulator, oldest first, each on its own
    branch at the tip of main."""
    git = pygit2.Repository(str(gitlab.root / "shared.git"))
    tip = git.references["refs/heads/main"].target
    for index, state in enumerate(states):
        branch = f"mirel/seeded-{index}"
        git.references.create(f"refs/heads/{branch}", tip)
        status, made = gitlab.create(
            "shared", {"source_branch": branch, "target_branch": "main", "title": f"MR {index}"}
        )
        assert status == 201, made
        made["state"] = state


def test_lists_run_over_several_of_gitlabs_pages(
    gitlab_hub: MirrorHub, gitlab: GitLabSimulator
) -> None:
    # 320 merge requests, one open in three: no page of GitLab's `state=all` holds 100 closed
    # ones, and the merged and closed ones fill two of mirel's pages and part of a third.
    states = ["opened" if i % 3 == 0 else "merged" if i % 3 == 1 else "closed" for i in range(320)]
    _seed(gitlab, states)
    hub = gitlab_hub("one")
    numbers = sorted(gitlab.pulls, reverse=True)
    expect_closed = [n for n in numbers if gitlab.pulls[n]["state"] != "opened"]
    expect_open = [n for n in numbers if gitlab.pulls[n]["state"] == "opened"]
    assert len(expect_closed) > 2 * PAGE

    gitlab.calls.clear()
    closed = hub.provider.list_pulls(PullState.CLOSED, conflicts=False)
    only_closed = [n for n in expect_closed if gitlab.pulls[n]["state"] == "closed"]
    assert [p.number for p in closed] == only_closed
    assert len(gitlab.calls) == 4  # GitLab's four pages, each read once
    merged = hub.provider.list_pulls(PullState.MERGED, conflicts=False)
    assert len(merged) == len([n for n in expect_closed if gitlab.pulls[n]["state"] == "merged"])
    assert [p.number for p in hub.provider.open_pulls()] == expect_open
    assert len(hub.provider.list_pulls(conflicts=False)) == 320

    # A page asked for out of turn is read from the start: the same merge requests.
    api = _api(gitlab)
    third = api.pulls("closed", page=3)
    assert [p.number for p in third] == expect_closed[2 * PAGE :]
    assert [p.number for p in api.pulls("closed", page=1)] == expect_closed[:PAGE]
    assert [p.number for p in api.pulls("closed", page=2)] == expect_closed[PAGE : 2 * PAGE]


def test_a_merge_is_refused_when_the_head_moved_or_it_cannot_merge(
    gitlab_hub: MirrorHub, gitlab: GitLabSimulator, origin: Hub
) -> None:
    hub = gitlab_hub("one")
    add_element(hub, "app", "crm", {"main.rsx": b"base"})
    first = hub.elements.push("crm", {"main.rsx": b"first"}, AUTHOR)
    second = hub.elements.push("crm", {"main.rsx": b"second"}, AUTHOR)
    assert first.pull_request is not None
    assert second.pull_request is not None
    api = _api(gitlab)
    before = origin.head()
    with pytest.raises(PullRequestChanged, match="has new commits"):
        api.merge(first.pull_request.number, sha="0" * 40, title="Merge")
    assert origin.head() == before
    assert gitlab.state("shared", first.pull_request.number) == "open"
    merge(hub, first)
    # The second now conflicts: GitLab refuses it (405) and mirel names the refusal.
    with pytest.raises(MergeConflict, match="GitLab: 405 Method Not Allowed"):
        api.merge(second.pull_request.number, sha=second.pull_request.head_sha, title="Merge")
    api.close(second.pull_request.number)
    with pytest.raises(PullRequestNotOpen, match="no longer open"):
        api.merge(second.pull_request.number, sha=second.pull_request.head_sha, title="Merge")
    with pytest.raises(PullRequestNotOpen, match="it is merged"):
        api.close(first.pull_request.number)


def test_gitlabs_own_refusals_are_named(gitlab_hub: MirrorHub, gitlab: GitLabSimulator) -> None:
    hub = gitlab_hub("one")
    change = hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert change.pull_request is not None
    api = _api(gitlab)
    with pytest.raises(AlreadyProposed) as again:
        api.open_pull(title="Again", head=change.pull_request.head_branch, base="main", body="")
    assert again.value.number == change.pull_request.number
    with pytest.raises(PullRequestNotFound, match="no merge request !99 on GitLab"):
        api.pull(99)
    with pytest.raises(RemoteUnreachable, match="no project acme/platform/elsewhere"):
        _api(gitlab, repository="acme/platform/elsewhere").pull(1)


def test_the_settings_name_what_is_missing(gitlab: GitLabSimulator) -> None:
    for repository in ("shared", "acme/", "", "/shared"):
        with pytest.raises(InvalidInput, match="MIREL_HOST_REPOSITORY"):
            open_api(HostSettings("gitlab", repository, None, "token"), None)
    with pytest.raises(InvalidInput, match="MIREL_HOST_TOKEN"):
        open_api(HostSettings("gitlab", "acme/shared", None, None), None)
    assert open_api(HostSettings("gitlab", "acme/shared", None, "t"), None).api_url == (
        "https://gitlab.com/api/v4"
    )
    # A self-managed instance named by its address alone gets the API's path.
    bare = _api(gitlab, api_url=f"http://127.0.0.1:{gitlab.port}/")
    assert bare.api_url == gitlab.api_url
    assert bare.pulls("all") == []
    assert bare.branch_url("main") == f"{gitlab.web_url}/acme/platform/shared/-/tree/main"

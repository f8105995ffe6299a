"""The azure provider against the Azure DevOps simulator and the loopback git server (issue
10): what a user of Azure Repos would notice beyond the contract every adapter keeps
(test_contract.py): the token refused, the service down or failing, pages of pull requests,
descriptions the list call cuts, merges the service completes later (or never), and the ways a
repository is named. Every body the simulator handled is checked against Azure's description
(the `azure` fixture fails the test otherwise)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from azure_sim import AzureSimulator
from git_server import GitHttpServer
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
from mirel.providers import HostSettings, repository_path
from mirel.providers.azure_api import AzureApi, AzureRepository, open_api
from mirel.providers.base import PullState
from mirel.providers.hosted import HostedProvider
from remote_support import WRITE_TOKEN, MirrorHub, running_simulator, simulated_hub_maker
from support import AUTHOR, add_element

REST = "/acme/Acme%20Platform/_apis/git/repositories/shared"


@pytest.fixture
def azure(git_server: GitHttpServer, origin: Hub) -> Iterator[AzureSimulator]:
    """Return the Azure DevOps simulator (acme/Acme Platform/shared is the shared repository)."""
    del origin
    with running_simulator("azure", git_server) as simulator:
        assert isinstance(simulator, AzureSimulator)
        yield simulator


@pytest.fixture
def azure_hub(git_server: GitHttpServer, azure: AzureSimulator, tmp_path: Path) -> MirrorHub:
    """Return a maker of hubs over their own mirror whose pull requests live on the simulator."""
    return simulated_hub_maker(azure, git_server, tmp_path / "mirrors")


def _api(hub: Hub) -> AzureApi:
    assert isinstance(hub.provider, HostedProvider)
    assert isinstance(hub.provider.api, AzureApi)
    return hub.provider.api


def _opened(hub: Hub, name: str) -> tuple[int, str, str]:
    """Open a pull request adding app `name`; return its number, head branch and head."""
    pull = hub.elements.add(APP, name, {"main.rsx": name.encode()}, AUTHOR).pull_request
    assert pull is not None
    return pull.number, pull.head_branch, pull.head_sha


# -- what the host holds ---------------------------------------------------------------------


def test_a_pull_request_on_azure_names_its_branches_and_its_page(
    azure_hub: MirrorHub, azure: AzureSimulator
) -> None:
    hub = azure_hub("one")
    number, branch, head = _opened(hub, "crm")
    on_host = azure.pulls[number]
    assert (on_host["sourceRefName"], on_host["targetRefName"]) == (
        f"refs/heads/{branch}",
        "refs/heads/main",
    )
    pull = hub.provider.get(number)
    page = f"{azure.api_url}/acme/Acme%20Platform/_git/shared"
    assert pull.url == f"{page}/pullrequest/{number}"  # the page, not the API's `url`
    assert pull.url != on_host["url"]
    assert (pull.head_sha, pull.author) == (head, str(AUTHOR))
    assert hub.provider.branch_url(branch) == f"{page}?version=GB{branch}"


def test_a_long_description_survives_the_list_that_cuts_it(
    azure_hub: MirrorHub, azure: AzureSimulator
) -> None:
    hub = azure_hub("one")
    repo = hub.repo
    main = repo.require_branch("main")
    tree = repo.write_tree_changes(repo.tree_of(main), {"apps/long/main.rsx": b"x"})
    sha = repo.write_commit(tree_oid=tree, parents=[main], message="Long\n", author=AUTHOR)
    text = "A description longer than the list shows. " * 20
    pull = hub.provider.create_pull_request(
        head_branch="mirel/long", title="Long", description=text, author=AUTHOR, head_sha=sha
    )
    assert len(azure.pulls[pull.number]["description"]) > 400
    [listed] = hub.provider.open_pulls()
    assert listed.description.strip() == text.strip()
    assert listed.author == str(AUTHOR)  # from mirel's comment at the description's end
    # The list cut it: the pull request was read again, whole.
    listing = azure.calls.index(("GET", f"{REST}/pullrequests"))
    assert ("GET", f"{REST}/pullrequests/{pull.number}") in azure.calls[listing:]


def test_a_branch_with_an_active_pull_request_is_already_proposed(
    azure_hub: MirrorHub, azure: AzureSimulator
) -> None:
    hub = azure_hub("one")
    number, branch, _ = _opened(hub, "crm")
    with pytest.raises(AlreadyProposed, match="already has an active pull request"):
        _api(hub).open_pull(title="Again", head=branch, base="main", body="")
    again = hub.provider.create_pull_request(
        head_branch=branch, title="Again", description="", author=AUTHOR
    )
    assert again.number == number
    assert list(azure.pulls) == [number]


# -- failures a user sees ----------------------------------------------------------------------


@pytest.mark.parametrize("sign_in_page", [False, True], ids=["401", "203 sign-in page"])
def test_a_refused_token_gives_one_clear_line_without_the_token(
    azure: AzureSimulator, sign_in_page: bool
) -> None:
    azure.sign_in_page = sign_in_page
    token = "wrong-pat-0123456789"
    settings = HostSettings("azure", "acme/Acme Platform/shared", azure.api_url, token)
    with pytest.raises(RemoteUnreachable) as caught:
        open_api(settings, None).pulls("open")
    message = str(caught.value)
    assert "refused mirel's token for acme/Acme Platform/shared" in message
    assert "Code (Read & write)" in message
    assert "\n" not in message
    assert token not in message
    assert WRITE_TOKEN not in message
    assert token not in repr(open_api(settings, None).repository)


def test_the_host_down_is_named_and_nothing_is_left_behind(
    azure_hub: MirrorHub, azure: AzureSimulator, origin: Hub
) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    down = HostSettings("azure", "acme/p/shared", f"http://127.0.0.1:{port}", "t")
    with pytest.raises(
        RemoteUnreachable, match=r"cannot reach Azure DevOps at http://127\.0\.0\.1"
    ):
        open_api(down, None).pull(1)
    hub = azure_hub("one")
    azure.failing = 503
    with pytest.raises(RemoteUnreachable, match="answered 503"):
        hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert origin.repo.branches_under("mirel/") == {}  # the pushed branch was removed again


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (500, r"answered 500 \(The service is unavailable\.\); nothing was changed"),
        (429, r"rate-limiting mirel's token \(retry after 7 s\)"),
    ],
)
def test_a_failing_service_is_named(
    azure_hub: MirrorHub, azure: AzureSimulator, status: int, said: str
) -> None:
    hub = azure_hub("one")
    number, _, _ = _opened(hub, "crm")
    azure.failing = status
    with pytest.raises(RemoteUnreachable, match=said):
        hub.provider.get(number)


def test_a_missing_repository_is_not_a_missing_pull_request(
    azure_hub: MirrorHub, azure: AzureSimulator
) -> None:
    hub = azure_hub("one")
    with pytest.raises(PullRequestNotFound, match="no pull request #99 on Azure DevOps"):
        hub.provider.get(99)
    elsewhere = open_api(azure.settings("nothere"), None)
    with pytest.raises(RemoteUnreachable, match=r"TF401019.*check MIREL_HOST_REPOSITORY"):
        elsewhere.pull(1)


# -- pages, merges, closes ---------------------------------------------------------------------


def test_pull_requests_are_read_over_several_pages(
    azure_hub: MirrorHub, azure: AzureSimulator
) -> None:
    hub = azure_hub("one")
    numbers = [_opened(hub, f"app{index}")[0] for index in range(5)]
    api = _api(hub)
    api.page_size = 2
    first, second, third = numbers[:3]
    hub.pulls.merge(first, AUTHOR)
    hub.pulls.merge(second, AUTHOR)
    hub.pulls.close(third, AUTHOR)
    newest_first = numbers[::-1]
    assert [pull.number for pull in hub.provider.list_pulls()] == newest_first
    assert [p.number for p in hub.provider.list_pulls(PullState.OPEN)] == newest_first[:2]
    assert [p.number for p in hub.provider.list_pulls(PullState.MERGED)] == [second, first]
    assert [p.number for p in hub.provider.list_pulls(PullState.CLOSED)] == [third]
    # Closed is completed or abandoned: read from `all`, the active ones left out, page by page.
    assert [pull.number for pull in api.pulls("closed", page=1)] == [third, second]
    assert [pull.number for pull in api.pulls("closed", page=2)] == [first]
    assert api.pulls("closed", page=3) == []
    assert [pull.number for pull in api.pulls("all", page=3)] == [first]


def test_a_merge_is_refused_when_the_head_moved(
    azure_hub: MirrorHub, azure: AzureSimulator, origin: Hub
) -> None:
    hub = azure_hub("one")
    number, branch, head = _opened(hub, "crm")
    hub.branches.commit(branch, {"apps/crm/b": b"y"}, "More\n", AUTHOR)
    before = origin.head()
    with pytest.raises(PullRequestChanged, match="new commits"):
        _api(hub).merge(number, sha=head, title="Merge")
    assert azure.state("shared", number) == "open"
    assert origin.head() == before


def test_a_merge_the_service_queues_is_waited_for(
    azure_hub: MirrorHub, azure: AzureSimulator, origin: Hub
) -> None:
    hub = azure_hub("one")
    number, _, _ = _opened(hub, "crm")
    azure.queue_merges = True
    _api(hub).merge_wait = 0.01
    merged = hub.pulls.merge(number, AUTHOR)
    assert merged.state is PullState.MERGED
    assert azure.pulls[number]["lastMergeCommit"]["commitId"] == origin.head()
    reads = [path for method, path in azure.calls if method == "GET"]
    assert sum(path.endswith(f"/pullrequests/{number}") for path in reads) >= 3


def test_a_merge_still_queued_is_reported_as_queued_on_the_host(
    azure_hub: MirrorHub, azure: AzureSimulator, origin: Hub
) -> None:
    hub = azure_hub("one")
    number, _, _ = _opened(hub, "crm")
    azure.queue_merges, azure.queued_reads = True, None
    api = _api(hub)
    api.merge_polls, api.merge_wait = 3, 0.01
    before = origin.head()
    with pytest.raises(RemoteUnreachable, match="queued the merge of pull request"):
        hub.pulls.merge(number, AUTHOR)
    assert azure.state("shared", number) == "open"
    assert origin.head() == before


def test_a_queued_merge_that_meets_a_conflict_names_it(
    azure_hub: MirrorHub, azure: AzureSimulator, origin: Hub
) -> None:
    hub = azure_hub("one")
    add_element(hub, "app", "crm", {"main.rsx": b"base"})
    first = hub.elements.push("crm", {"main.rsx": b"first"}, AUTHOR).pull_request
    second = hub.elements.push("crm", {"main.rsx": b"second"}, AUTHOR).pull_request
    assert first is not None
    assert second is not None
    azure.merge_on_page("shared", first.number)
    azure.queue_merges, azure.queued_reads = True, 0
    api = _api(hub)
    api.merge_wait = 0.01
    before = origin.head()
    with pytest.raises(MergeConflict):
        api.merge(second.number, sha=second.head_sha, title="Merge")
    assert azure.pulls[second.number]["mergeStatus"] == "conflicts"
    assert origin.head() == before


def test_a_merged_pull_request_cannot_be_abandoned_or_merged_again(
    azure_hub: MirrorHub, azure: AzureSimulator
) -> None:
    hub = azure_hub("one")
    number, _, _ = _opened(hub, "crm")
    azure.merge_on_page("shared", number)
    with pytest.raises(PullRequestNotOpen, match="cannot abandon pull request"):
        _api(hub).close(number)
    with pytest.raises(PullRequestNotOpen, match="no longer active"):
        _api(hub).merge(number, sha=hub.provider.get(number).head_sha, title="Merge")
    pull = hub.provider.get(number)
    assert pull.state is PullState.MERGED
    assert pull.merged_by == "person@example.com"


# -- naming the repository ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://acme@dev.azure.com/acme/Acme%20Platform/_git/shared",
        "git@ssh.dev.azure.com:v3/acme/Acme%20Platform/shared",
    ],
)
def test_the_repository_is_read_from_a_clone_url(url: str) -> None:
    path = repository_path(url)
    api = open_api(HostSettings("azure", path, None, "t"), None)
    assert api.repository == AzureRepository("acme", "Acme Platform", "shared")
    assert api.repository.web_url == "https://dev.azure.com/acme/Acme%20Platform/_git/shared"


@pytest.mark.parametrize(
    ("repository", "api_url"),
    [
        ("Acme Platform/shared", "/acme"),  # Azure DevOps Server: the collection's URL
        ("acme/Acme Platform/shared", "/acme"),  # the collection named twice, used once
        ("acme/Acme Platform/_git/shared", ""),
    ],
)
def test_a_collection_url_or_a_clone_path_reaches_the_same_pull_requests(
    azure_hub: MirrorHub, azure: AzureSimulator, repository: str, api_url: str
) -> None:
    number, _, _ = _opened(azure_hub("one"), "crm")
    settings = HostSettings("azure", repository, azure.api_url + api_url, WRITE_TOKEN)
    pull = open_api(settings, None).pull(number)
    assert pull.url == f"{azure.api_url}/acme/Acme%20Platform/_git/shared/pullrequest/{number}"


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (HostSettings("azure", "acme/shared", None, "t"), "MIREL_HOST_REPOSITORY"),
        (HostSettings("azure", None, None, "t"), "MIREL_HOST_REPOSITORY"),
        (HostSettings("azure", "a/b/c/d/e", None, "t"), "MIREL_HOST_REPOSITORY"),
        (HostSettings("azure", "acme/p/shared", None, None), "MIREL_HOST_TOKEN"),
    ],
)
def test_settings_that_name_no_repository_say_what_to_set(
    settings: HostSettings, named: str
) -> None:
    with pytest.raises(InvalidInput, match=named):
        open_api(settings, None)

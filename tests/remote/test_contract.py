"""One contract, every adapter (issue 10): the same calls against the `git` provider (pull
requests kept in the repository, on a plain git server) and every hosted provider (the host's
pull requests, on its simulator: tests/hosts.py), each over its own mirror of a repository on
the loopback git server.

Open, list, merge with the head that was seen, a merge refused when the head moved, close, a
conflict, a merge made elsewhere (another machine, the host's page), and the webhook of the host
accepted with its proof and refused without it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hosts import hosted_kinds
from mirel.core.kinds import APP
from mirel.errors import MergeConflict, PullRequestChanged
from mirel.hub import Hub
from mirel.providers.base import PullState
from mirel.providers.webhook_schemes import SCHEMES, refusal, sign
from remote_support import MirrorHub, running_simulator, simulated_hub_maker
from support import AUTHOR, add_element, merge

SECRET = "the-webhook-secret"


@dataclass
class Host:
    """An adapter under test: its hubs, and how the host itself sees and merges pulls."""

    provider: str
    hub: MirrorHub
    state: Callable[[int], str]  # open, merged or closed, as the host has it
    merge_elsewhere: Callable[[int], None]  # merged without this hub taking part
    proof: dict[str, str]  # the headers of a webhook the host signs with SECRET


@pytest.fixture(params=["git", *hosted_kinds()])
def host(request: pytest.FixtureRequest, origin: Hub, tmp_path: Path) -> Iterator[Host]:
    if request.param == "git":
        maker: MirrorHub = request.getfixturevalue("mirror_hub")
        elsewhere = maker("elsewhere")

        def git_state(number: int) -> str:
            return str(origin.provider.get(number).state).replace("conflicting", "open")

        def git_merge(number: int) -> None:
            elsewhere.repo.refresh()
            elsewhere.pulls.merge(number, AUTHOR)

        proof = {"X-Mirel-Signature": sign(b"{}", SECRET)}
        yield Host("git", maker, git_state, git_merge, proof)
        return
    git_server = request.getfixturevalue("git_server")
    with running_simulator(request.param, git_server) as simulator:
        yield Host(
            request.param,
            simulated_hub_maker(simulator, git_server, tmp_path / "mirrors"),
            lambda number: simulator.state("shared", number),
            lambda number: simulator.merge_on_page("shared", number),
            simulator.webhook_proof(b"{}", SECRET),
        )


def test_open_and_list(host: Host) -> None:
    hub = host.hub("one")
    change = hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    pull = change.pull_request
    assert pull is not None
    assert host.state(pull.number) == "open"
    found = hub.provider.get(pull.number)
    assert (found.title, found.head_branch, found.base_branch) == (
        pull.title,
        pull.head_branch,
        "main",
    )
    assert found.description.strip() == pull.description.strip()
    assert [p.number for p in hub.provider.open_pulls()] == [pull.number]
    assert hub.provider.open_pull_for_branch(pull.head_branch) is not None
    assert [p.number for p in hub.provider.list_pulls(PullState.OPEN)] == [pull.number]


def test_merge_with_the_head_that_was_seen(host: Host, origin: Hub) -> None:
    hub = host.hub("one")
    change = hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert change.pull_request is not None
    merged = hub.provider.merge(
        change.pull_request.number, AUTHOR, expected_head=change.pull_request.head_sha
    )
    assert merged.state is PullState.MERGED
    assert host.state(change.pull_request.number) == "merged"
    hub.repo.refresh()
    assert origin.head() == hub.head()
    assert origin.repo.branch_sha(change.pull_request.head_branch) is None


def test_a_merge_is_refused_when_the_head_moved(host: Host, origin: Hub) -> None:
    hub = host.hub("one")
    change = hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert change.pull_request is not None
    hub.branches.commit(change.pull_request.head_branch, {"apps/crm/b": b"y"}, "More\n", AUTHOR)
    before = origin.head()
    with pytest.raises(PullRequestChanged):
        hub.provider.merge(
            change.pull_request.number, AUTHOR, expected_head=change.pull_request.head_sha
        )
    assert host.state(change.pull_request.number) == "open"
    assert origin.head() == before


def test_close(host: Host, origin: Hub) -> None:
    hub = host.hub("one")
    change = hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert change.pull_request is not None
    assert hub.pulls.close(change.pull_request.number, AUTHOR).state is PullState.CLOSED
    assert host.state(change.pull_request.number) == "closed"
    assert origin.repo.branch_sha(change.pull_request.head_branch) is None
    assert hub.provider.open_pulls() == []


def test_a_conflict_is_named_and_nothing_merges(host: Host, origin: Hub) -> None:
    hub = host.hub("one")
    add_element(hub, "app", "crm", {"main.rsx": b"base"})
    first = hub.elements.push("crm", {"main.rsx": b"first"}, AUTHOR)
    second = hub.elements.push("crm", {"main.rsx": b"second"}, AUTHOR)
    merge(hub, first)
    assert second.pull_request is not None
    before = origin.head()
    with pytest.raises(MergeConflict):
        hub.pulls.merge(second.pull_request.number, AUTHOR)
    assert origin.head() == before
    assert host.state(second.pull_request.number) == "open"


def test_a_merge_made_elsewhere_is_seen_after_a_fetch(host: Host, origin: Hub) -> None:
    hub = host.hub("one")
    change = hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
    assert change.pull_request is not None
    host.merge_elsewhere(change.pull_request.number)
    hub.repo.refresh()
    assert hub.provider.get(change.pull_request.number).state is PullState.MERGED
    assert hub.head() == origin.head()
    assert hub.catalog.element("crm").name == "crm"


def test_the_hosts_webhook_is_accepted_with_its_proof_only(host: Host) -> None:
    assert host.provider in SCHEMES
    assert refusal(host.provider, host.proof, b"{}", SECRET) is None
    assert refusal(host.provider, host.proof, b"{}", "another secret") is not None
    assert refusal(host.provider, {}, b"{}", SECRET) is not None


def test_the_conflicting_list_holds_the_conflicting_ones_only(host: Host) -> None:
    hub = host.hub("one")
    add_element(hub, "app", "crm", {"main.rsx": b"base"})
    first = hub.elements.push("crm", {"main.rsx": b"first"}, AUTHOR)
    second = hub.elements.push("crm", {"main.rsx": b"second"}, AUTHOR)
    other = hub.elements.add(APP, "sales", {"main.rsx": b"x"}, AUTHOR)
    merge(hub, first)
    assert second.pull_request is not None
    assert other.pull_request is not None
    conflicting = hub.provider.list_pulls(PullState.CONFLICTING)
    assert [pull.number for pull in conflicting] == [second.pull_request.number]
    opened = {pull.number for pull in hub.provider.list_pulls(PullState.OPEN)}
    assert opened == {second.pull_request.number, other.pull_request.number}

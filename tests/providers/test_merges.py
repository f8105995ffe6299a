"""Acceptance 5: independent change requests merge in any order; conflicting ones are refused.

Each release and each manifest is its own file, so pull requests about different elements or
different manifests never conflict in git, whichever merges first. Two pull requests that pin the
same element in the same manifest differently do conflict: the second is refused with the path
named, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from mirel.core.versions import Bump
from mirel.errors import MergeConflict
from mirel.hub import ChangeRequest, Hub
from mirel.providers.base import PullState
from support import AUTHOR, CliResult, add_element, merge, refs, release

ORDERS = [
    pytest.param((0, 1), id="first-then-second"),
    pytest.param((1, 0), id="second-then-first"),
]


@dataclass
class Setup:
    """A repository with two apps, each with two releases, and two manifests pinning them."""

    hub: Hub
    billing: str
    orders: str


@pytest.fixture
def setup(hub: Hub) -> Setup:
    billing = add_element(hub, "app", "billing")
    orders = add_element(hub, "app", "orders")
    for name in ("billing", "orders"):
        release(hub, name, "1.0.0")
        release(hub, name, "1.1.0")
    for manifest in ("prod", "staging"):
        merge(hub, hub.manifests.create(manifest, AUTHOR))
        merge(hub, hub.manifests.set_pin(manifest, "billing", "1.0.0", AUTHOR))
        merge(hub, hub.manifests.set_pin(manifest, "orders", "1.0.0", AUTHOR))
    return Setup(hub, billing, orders)


def pin(hub: Hub, manifest: str, uuid: str) -> str:
    """Return the release a manifest on the default branch pins for one element."""
    found = hub.catalog.manifest(manifest).find(uuid)
    assert found is not None
    return found[1].release


def merge_in_order(hub: Hub, changes: list[ChangeRequest], order: tuple[int, int]) -> None:
    """Merge both pull requests, in the order given, and check each merged cleanly."""
    for index in order:
        pull = changes[index].pull_request
        assert pull is not None
        assert hub.pulls.get(pull.number).state is PullState.OPEN
        merged = hub.pulls.merge(pull.number, AUTHOR)
        assert merged.state is PullState.MERGED


@pytest.mark.parametrize("order", ORDERS)
def test_pins_in_different_manifests_merge_in_either_order(
    setup: Setup, order: tuple[int, int]
) -> None:
    hub = setup.hub
    changes = [
        hub.manifests.set_pin("prod", "billing", "1.1.0", AUTHOR),
        hub.manifests.set_pin("staging", "billing", "latest", AUTHOR),
    ]
    merge_in_order(hub, changes, order)
    assert pin(hub, "prod", setup.billing) == "1.1.0"
    assert pin(hub, "staging", setup.billing) == "latest"
    # Nothing else moved.
    assert pin(hub, "prod", setup.orders) == "1.0.0"
    assert pin(hub, "staging", setup.orders) == "1.0.0"
    assert hub.catalog.validate() == []


@pytest.mark.parametrize("order", ORDERS)
def test_releases_of_different_elements_merge_in_either_order(
    setup: Setup, order: tuple[int, int]
) -> None:
    hub = setup.hub
    changes = [
        hub.releases.create(
            "billing", AUTHOR, bump=Bump.MINOR, description="billing 1.2", allow_same=True
        ),
        hub.releases.create(
            "orders", AUTHOR, bump=Bump.MAJOR, description="orders 2.0", allow_same=True
        ),
    ]
    merge_in_order(hub, changes, order)
    assert [str(view.version) for view in hub.catalog.releases("billing")] == [
        "1.2.0",
        "1.1.0",
        "1.0.0",
    ]
    assert [str(view.version) for view in hub.catalog.releases("orders")] == [
        "2.0.0",
        "1.1.0",
        "1.0.0",
    ]
    assert hub.catalog.releases("billing")[0].info.description == "billing 1.2"
    assert hub.catalog.validate() == []


@pytest.mark.parametrize("order", ORDERS)
def test_two_open_releases_of_one_element_merge_in_either_order(
    setup: Setup, order: tuple[int, int]
) -> None:
    hub = setup.hub
    changes = [
        hub.releases.create("billing", AUTHOR, bump=Bump.MINOR, allow_same=True),
        hub.releases.create("billing", AUTHOR, bump=Bump.MINOR, allow_same=True),
    ]
    # The second one sees the first's open branch and takes the next number.
    assert [change.branch_name.rsplit("/", 1)[-1] for change in changes] == ["1.2.0", "1.3.0"]
    merge_in_order(hub, changes, order)
    assert [str(view.version) for view in hub.catalog.releases("billing")][:2] == ["1.3.0", "1.2.0"]


@pytest.mark.parametrize("order", ORDERS)
def test_a_release_and_a_pin_merge_in_either_order(setup: Setup, order: tuple[int, int]) -> None:
    hub = setup.hub
    changes = [
        hub.releases.create("orders", AUTHOR, bump=Bump.PATCH, allow_same=True),
        hub.manifests.set_pin("prod", "billing", "1.1.0", AUTHOR),
    ]
    merge_in_order(hub, changes, order)
    assert str(hub.catalog.releases("orders")[0].version) == "1.1.1"
    assert pin(hub, "prod", setup.billing) == "1.1.0"


@pytest.mark.parametrize("order", ORDERS)
def test_the_same_pin_set_differently_conflicts_and_the_second_is_refused(
    setup: Setup, order: tuple[int, int], cli: Callable[..., CliResult]
) -> None:
    hub = setup.hub
    releases = ["1.1.0", "latest"]
    changes = [hub.manifests.set_pin("prod", "billing", version, AUTHOR) for version in releases]
    first, second = (changes[index].pull_request for index in order)
    assert first is not None
    assert second is not None

    hub.pulls.merge(first.number, AUTHOR)
    winner = releases[order[0]]
    assert pin(hub, "prod", setup.billing) == winner

    refused = hub.pulls.get(second.number)
    assert refused.state is PullState.CONFLICTING
    assert refused.conflicts == ("manifests/prod.yaml",)

    before = refs(hub.repo.path)
    main_before = hub.head()
    with pytest.raises(MergeConflict, match=r"manifests/prod\.yaml") as raised:
        hub.pulls.merge(second.number, AUTHOR)
    assert raised.value.paths == ("manifests/prod.yaml",)
    # The same through the command line: exit 1, one line naming the path.
    result = cli("pr", "merge", str(second.number), "--repo", hub.repo.path)
    assert result.exit_code == 1
    assert "manifests/prod.yaml" in result.stderr
    assert "Traceback" not in result.stderr

    # Nothing was written: every ref is where it was, and main still pins the winner.
    assert refs(hub.repo.path) == before
    assert hub.head() == main_before
    assert pin(hub, "prod", setup.billing) == winner
    assert pin(hub, "staging", setup.billing) == "1.0.0"
    assert hub.pulls.get(second.number).state is PullState.CONFLICTING

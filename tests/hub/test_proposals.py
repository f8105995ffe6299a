"""What open pull requests propose, found through the index of open pull requests, and proposals
that an open pull request already makes, refused with its number."""

from __future__ import annotations

import pytest

from mirel.errors import AlreadyProposed, ManifestExists
from mirel.hub import ChangeRequest, Hub
from mirel.hub.values import ProposedPin, ProposedRelease
from mirel.providers.local import LocalProvider
from mirel.providers.pull_records import PullRecords
from support import AUTHOR, add_element, merge, refs, release


@pytest.fixture
def billing(hub: Hub) -> str:
    """Return the uuid of app billing, released 0.1.0 and 0.2.0, pinned 0.1.0 in staging."""
    uuid = add_element(hub, "app", "billing")
    release(hub, "billing", "0.1.0")
    release(hub, "billing", "0.2.0")
    merge(hub, hub.manifests.set_pin("staging", "billing", "0.1.0", AUTHOR))
    return uuid


def number(change: ChangeRequest) -> int:
    """Return a change's pull request number."""
    assert change.pull_request is not None
    return change.pull_request.number


def test_each_open_pull_request_says_what_it_proposes(hub: Hub, billing: str) -> None:
    pins = hub.manifests.change_pins(
        [("staging", "billing", "0.2.0"), ("qa", "billing", "latest")], AUTHOR
    )
    gone = hub.manifests.delete("staging", AUTHOR)
    new = hub.releases.create("billing", AUTHOR, version="0.3.0", allow_same=True)
    closed = hub.manifests.create("other", AUTHOR)
    hub.pulls.close(number(closed), AUTHOR)
    found = {item.pull.number: item for item in hub.proposals.all()}
    assert list(found) == [number(new), number(gone), number(pins)]  # newest first, open only
    assert found[number(pins)].pins == (
        ProposedPin("qa", billing, "latest"),
        ProposedPin("staging", billing, "0.2.0"),
    )
    assert found[number(pins)].manifests_created == ("qa",)
    assert found[number(gone)].manifests_deleted == ("staging",)
    assert found[number(gone)].pins == (ProposedPin("staging", billing, None),)
    assert found[number(new)].releases == (ProposedRelease("app", billing, "0.3.0"),)
    assert found[number(new)].pins == ()


def test_finding_the_open_pull_requests_reads_no_merged_or_closed_record(
    hub: Hub, billing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in range(6):
        change = hub.manifests.create(f"m{index}", AUTHOR)
        if index % 2:
            hub.pulls.close(number(change), AUTHOR)
        elif index:
            merge(hub, change)
    provider = hub.provider
    assert isinstance(provider, LocalProvider)
    read: list[int] = []
    original = PullRecords.read

    def counting(self: PullRecords, pull: int) -> object:
        read.append(pull)
        return original(self, pull)

    monkeypatch.setattr(PullRecords, "read", counting)
    assert [pull.head_branch.split("/")[2] for pull in provider.open_pulls()] == ["m0"]
    assert len(set(read)) == 1  # the one open pull request, among the 10 the repository has


def test_an_elements_pending_releases_are_its_open_release_pull_requests(
    hub: Hub, billing: str
) -> None:
    first = hub.releases.create("billing", AUTHOR, version="0.3.0", allow_same=True)
    second = hub.releases.create("billing", AUTHOR, version="0.4.0", allow_same=True)
    hub.pulls.close(number(first), AUTHOR)
    element = hub.catalog.element("billing")
    assert [
        (str(version), pull.number) for version, pull in hub.proposals.releases_of(element)
    ] == [("0.4.0", number(second))]


def test_a_pin_an_open_pull_request_already_sets_is_refused_naming_it(
    hub: Hub, billing: str
) -> None:
    first = hub.manifests.set_pin("staging", "billing", "0.2.0", AUTHOR)
    before = refs(hub.repo.path)
    with pytest.raises(AlreadyProposed) as raised:
        hub.manifests.change_pins(
            [("staging", "billing", "0.2.0"), ("prod", "billing", "0.1.0")], AUTHOR
        )
    assert raised.value.number == number(first)
    assert raised.value.http_status == 409
    assert raised.value.message == (
        f"pull request #{number(first)} already makes this change (staging: billing -> 0.2.0); "
        "merge or close it instead of proposing it again"
    )
    assert refs(hub.repo.path) == before
    hub.manifests.set_pin("staging", "billing", "latest", AUTHOR)  # another pin is another change
    with pytest.raises(AlreadyProposed):
        hub.plans.for_pins([("staging", "billing", "0.2.0")])  # Review says so before the branch
    hub.pulls.close(number(first), AUTHOR)
    hub.manifests.set_pin("staging", "billing", "0.2.0", AUTHOR)  # closed: free to propose again


def test_removing_a_pin_an_open_pull_request_removes_is_refused(hub: Hub, billing: str) -> None:
    first = hub.manifests.unset_pin("staging", "billing", AUTHOR)
    with pytest.raises(AlreadyProposed, match=f"#{number(first)} already makes this change"):
        hub.manifests.unset_pin("staging", "billing", AUTHOR)


def test_a_manifest_an_open_pull_request_creates_cannot_be_created_again(
    hub: Hub, billing: str
) -> None:
    first = hub.manifests.create("qa", AUTHOR)
    before = refs(hub.repo.path)
    message = (
        f"pull request #{number(first)} already creates manifest qa; merge it first, or close it"
    )
    with pytest.raises(AlreadyProposed) as raised:
        hub.manifests.create("qa", AUTHOR)
    assert raised.value.message == message
    with pytest.raises(AlreadyProposed):
        hub.manifests.set_pin("qa", "billing", "0.1.0", AUTHOR)  # pinning would create it too
    assert refs(hub.repo.path) == before
    merge(hub, first)
    with pytest.raises(ManifestExists):
        hub.manifests.create("qa", AUTHOR)
    hub.manifests.set_pin("qa", "billing", "0.1.0", AUTHOR)  # merged: pins go into it now


def test_a_release_deletion_already_proposed_is_refused_naming_it(hub: Hub, billing: str) -> None:
    first = hub.releases.delete("billing", "0.2.0", AUTHOR)
    with pytest.raises(AlreadyProposed) as raised:
        hub.releases.delete("billing", "0.2.0", AUTHOR)
    assert raised.value.message == (
        f"pull request #{number(first)} already deletes release 0.2.0 of billing; merge or close "
        "it instead of proposing it again"
    )

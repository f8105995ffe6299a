"""The merge gate: whatever is merged, `mirel validate` finds nothing on the default branch.

Each test opens pull requests that are fine on their own but conflict in meaning, merges them in
both orders, and checks that the merge that would break the default branch is refused with its
problems listed, that the refusal changes no reference, and that the default branch stays valid.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from test_validate import commit_to_main

from mirel.core.artifact import build_artifact
from mirel.core.kinds import APP
from mirel.core.manifest import Manifest, manifest_path, write_manifest
from mirel.core.versions import Version
from mirel.errors import MergeConflict, MergeRefused
from mirel.git.repository import Author
from mirel.hub import ChangeRequest, Hub
from mirel.providers.base import PullState
from support import AUTHOR, CliResult, add_element, merge, refs, release

OTHER = Author("Other Person", "other@example.com")
ORDERS = [
    pytest.param((0, 1), id="first-then-second"),
    pytest.param((1, 0), id="second-then-first"),
]


@pytest.fixture
def billing(hub: Hub) -> str:
    """Return the uuid of app billing, released as 0.1.0 and 0.2.0, with an empty staging."""
    uuid = add_element(hub, "app", "billing")
    release(hub, "billing", "0.1.0")
    release(hub, "billing", "0.2.0")
    merge(hub, hub.manifests.create("staging", AUTHOR))
    return uuid


def number(change: ChangeRequest) -> int:
    """Return a change's pull request number."""
    assert change.pull_request is not None
    return change.pull_request.number


def refused(hub: Hub, change: ChangeRequest) -> MergeRefused:
    """Merge a change's pull request, expect the gate to refuse it, and check nothing moved."""
    before = refs(hub.repo.path)
    with pytest.raises(MergeRefused) as raised:
        hub.pulls.merge(number(change), AUTHOR)
    assert refs(hub.repo.path) == before
    assert hub.pulls.get(number(change)).state is PullState.OPEN
    return raised.value


@pytest.mark.parametrize("order", ORDERS)
def test_deleting_a_release_and_pinning_it_cannot_both_merge(
    hub: Hub, billing: str, order: tuple[int, int]
) -> None:
    # Each is allowed when proposed: nothing pins 0.1.0 yet, and 0.1.0 exists.
    changes = [
        hub.releases.delete("billing", "0.1.0", AUTHOR),
        hub.manifests.set_pin("staging", "billing", "0.1.0", AUTHOR),
    ]
    first, second = (changes[index] for index in order)
    merge(hub, first)
    problem = refused(hub, second)
    assert [str(item) for item in problem.problems] == [
        "manifests/staging.yaml: pins billing 0.1.0, which is not released "
        f"(missing dist/apps/{billing}/0.1.0.zip)"
    ]
    assert "cannot be merged" in problem.message
    assert hub.catalog.validate() == []


@pytest.mark.parametrize("order", ORDERS)
def test_two_pull_requests_creating_the_same_manifest_merge_once(
    hub: Hub, billing: str, order: tuple[int, int]
) -> None:
    # mirel refuses to propose what an open pull request proposes already, so the second is
    # made by hand (by another person: the same person in the same second makes one commit).
    changes = [hub.manifests.create("qa", AUTHOR), _hand_made_manifest(hub, "qa", OTHER)]
    first, second = (changes[index] for index in order)
    merge(hub, first)
    problem = refused(hub, second)
    assert "already holds this change" in problem.message
    assert hub.catalog.manifest_names() == ["qa", "staging"]
    assert hub.catalog.validate() == []


def test_a_manifest_created_twice_with_other_pins_conflicts(hub: Hub, billing: str) -> None:
    first = hub.manifests.set_pin("qa", "billing", "0.1.0", AUTHOR)
    second = _hand_made_manifest(hub, "qa", AUTHOR, ("billing", "0.2.0"))
    merge(hub, first)
    with pytest.raises(MergeConflict):
        hub.pulls.merge(number(second), AUTHOR)
    assert hub.catalog.validate() == []


def _hand_made_manifest(
    hub: Hub, name: str, author: Author, pin: tuple[str, str] | None = None
) -> ChangeRequest:
    """Propose a manifest written on a branch of one's own, not through `mirel manifest`."""
    manifest = Manifest.empty(name)
    if pin is not None:
        element = hub.catalog.element(pin[0])
        manifest = manifest.with_pin(element.kind, element.uuid, pin[1])
    content = write_manifest(manifest).encode()
    return hub.branches.commit(
        f"by-hand/{name}-{author.name.split()[0].lower()}",
        {manifest_path(name): content},
        f"Create {name} by hand\n",
        author,
    )


def _hand_made_release(hub: Hub, uuid: str, version: str, branch: str) -> ChangeRequest:
    """Propose, on a branch of one's own, an artifact made without `mirel release create`."""
    element = hub.catalog.element(uuid)
    main = hub.snapshot()
    artifact = build_artifact(
        kind=APP,
        uuid=uuid,
        name="billing",
        version=Version.parse(version),
        description="by hand",
        created_by=str(AUTHOR),
        source_commit=main.commit_sha,
        files=main.folder_files(element.source_dir),
    )
    path = APP.artifact_path(uuid, version)
    return hub.branches.commit(branch, {path: artifact}, f"Add {version} by hand\n", AUTHOR)


def test_a_release_below_the_highest_on_a_new_line_is_refused(hub: Hub, billing: str) -> None:
    change = _hand_made_release(hub, billing, "0.1.5", "by-hand/patch")  # fine: the 0.1 line
    late = _hand_made_release(hub, billing, "0.0.9", "by-hand/old")  # a new line, below 0.2.0
    merge(hub, change)
    problem = refused(hub, late)
    assert [str(item) for item in problem.problems] == [
        f"dist/apps/{billing}/0.0.9.zip: release 0.0.9 of billing is below its highest release "
        "0.2.0; regular releases only move forward (a hotfix patches an older line)"
    ]


def test_releases_merge_in_any_order_when_each_moved_forward_when_proposed(
    hub: Hub, billing: str
) -> None:
    first = hub.releases.create("billing", AUTHOR, version="0.3.0", allow_same=True)
    second = hub.releases.create("billing", AUTHOR, version="0.4.0", allow_same=True)
    merge(hub, second)
    merge(hub, first)  # 0.3.0 was above everything when it was claimed
    assert [str(view.version) for view in hub.catalog.releases("billing")][:2] == [
        "0.4.0",
        "0.3.0",
    ]


def test_a_corrupt_artifact_is_refused_naming_its_file(hub: Hub, billing: str) -> None:
    path = APP.artifact_path(billing, "0.9.0")
    change = hub.branches.commit("by-hand/corrupt", {path: b"not a zip"}, "Corrupt\n", AUTHOR)
    problem = refused(hub, change)
    assert [item.path for item in problem.problems] == [path]
    assert "not a readable zip" in str(problem.problems[0])


def test_a_problem_already_on_the_default_branch_does_not_block_other_merges(
    hub: Hub, billing: str
) -> None:
    # Someone pushed a broken manifest with plain git: it is not this pull request's doing.
    commit_to_main(hub, {"manifests/broken.yaml": b"version: 1.0.0\nname: other\n"})
    assert hub.catalog.validate() != []
    change = hub.manifests.set_pin("staging", "billing", "0.2.0", AUTHOR)
    assert hub.pulls.problems(hub.pulls.get(number(change))) == []
    merge(hub, change)


def test_the_problems_of_an_open_pull_request_are_known_before_merging(
    hub: Hub, billing: str
) -> None:
    deletion = hub.releases.delete("billing", "0.1.0", AUTHOR)
    merge(hub, hub.manifests.set_pin("staging", "billing", "0.1.0", AUTHOR))
    pull = hub.pulls.get(number(deletion))
    assert [problem.path for problem in hub.pulls.problems(pull)] == ["manifests/staging.yaml"]
    merged = hub.pulls.get(1)
    assert hub.pulls.problems(merged) == []  # not open: nothing to check


def test_the_command_line_refuses_the_merge_in_one_line(
    hub: Hub, billing: str, cli: Callable[..., CliResult]
) -> None:
    deletion = hub.releases.delete("billing", "0.1.0", AUTHOR)
    merge(hub, hub.manifests.set_pin("staging", "billing", "0.1.0", AUTHOR))
    before = refs(hub.repo.path)
    result = cli("pr", "merge", str(number(deletion)), "--repo", hub.repo.path)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert f"pull request #{number(deletion)} cannot be merged" in result.stderr
    assert "pins billing 0.1.0, which is not released" in result.stderr
    assert refs(hub.repo.path) == before

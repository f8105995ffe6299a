"""Acceptance 4 at the hub level: forward-only releases, hotfixes, deletions and `latest`."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from mirel.core.artifact import read_artifact
from mirel.core.catalog import releases_of
from mirel.core.rules import hotfix_branch, parse_hotfix_branch, release_branch
from mirel.core.versions import Bump, Line, Version
from mirel.errors import (
    HotfixBranchExists,
    HotfixNotFound,
    ReleaseExists,
    ReleaseNotFound,
    ReleasePinned,
)
from mirel.git.repository import HEADS
from mirel.http.models import MatrixPublic
from mirel.hub import ChangeRequest, Hub
from mirel.hub.compare import hotfix_diff, pull_release_diffs
from mirel.hub.matrix import matrix
from mirel.hub.values import ReleaseDiff
from support import AUTHOR, add_element, merge, refs, release


def push(hub: Hub, name: str, files: Mapping[str, bytes], branch: str | None = None) -> None:
    """Commit new content of an element: merged on main, or straight onto `branch`."""
    change = hub.elements.push(name, files, AUTHOR, branch=branch)
    if branch is None:
        merge(hub, change)


def release_files(hub: Hub, name: str, version: str) -> dict[str, bytes]:
    """Return the files inside one release artifact on the default branch."""
    element = hub.catalog.element(name)
    path = element.kind.artifact_path(element.uuid, version)
    data = hub.snapshot().read(path)
    assert data is not None, f"{path} is not on the default branch"
    return dict(read_artifact(data, path).files)


def added_paths(hub: Hub, before: str, after: str) -> list[tuple[str, str]]:
    """Return (status, path) of every file that differs between two commits."""
    return [
        (change.status, change.path)
        for change in hub.repo.diff_trees(hub.repo.tree_of(before), hub.repo.tree_of(after))
    ]


def cell(hub: Hub, name: str, manifest: str) -> dict[str, object]:
    """Return what the matrix says one manifest serves for one element (as the API shows it)."""
    rows = MatrixPublic.of(matrix(hub.catalog)).model_dump()["elements"]
    assert isinstance(rows, list)
    row = next(row for row in rows if row["name"] == name)
    pins = row["pins"]
    assert isinstance(pins, dict)
    found = pins[manifest]
    assert isinstance(found, dict)
    return found


V1 = {"main.rsx": b"<App version='1'/>\n", "lib/query1.sql": b"select 1;\n"}
V2 = {"main.rsx": b"<App version='2'/>\n", "lib/query2.sql": b"select 2;\n"}


@pytest.fixture
def billing(hub: Hub) -> str:
    """Return the uuid of `billing`, released as 1.0.0 (V1) and 2.0.0 (V2)."""
    uuid = add_element(hub, "app", "billing", V1)
    release(hub, "billing", "1.0.0", "first")
    push(hub, "billing", V2)
    release(hub, "billing", "2.0.0", "second")
    return uuid


# -- regular releases only move forward ---------------------------------------------------------


@pytest.mark.parametrize("version", ["1.0.0", "1.5.0", "2.0.0", "0.9.9"])
def test_a_regular_release_at_or_below_the_highest_is_refused(
    hub: Hub, billing: str, version: str
) -> None:
    before = refs(hub.repo.path)
    with pytest.raises(ReleaseExists) as raised:
        hub.releases.create("billing", AUTHOR, version=version, allow_same=True)
    assert "hotfix" in str(raised.value)
    assert refs(hub.repo.path) == before  # no branch, no pull request


def test_a_regular_release_below_a_claimed_version_is_refused(hub: Hub, billing: str) -> None:
    open_release = hub.releases.create("billing", AUTHOR, version="3.0.0", allow_same=True)
    assert open_release.branch_name == release_branch(
        hub.catalog.element("billing").kind, billing, Version(3, 0, 0)
    )
    with pytest.raises(ReleaseExists) as raised:
        hub.releases.create("billing", AUTHOR, version="3.0.0", allow_same=True)
    assert "open pull request" in str(raised.value)
    with pytest.raises(ReleaseExists):
        hub.releases.create("billing", AUTHOR, version="2.5.0", allow_same=True)
    # A bump counts from the claimed 3.0.0, not from the released 2.0.0.
    assert hub.releases.create(
        "billing", AUTHOR, bump=Bump.MINOR, allow_same=True
    ).branch_name.endswith("/3.1.0")


def test_a_regular_release_above_everything_is_accepted(hub: Hub, billing: str) -> None:
    change = hub.releases.create("billing", AUTHOR, bump=Bump.PATCH, allow_same=True)
    assert change.branch_name.endswith("/2.0.1")
    merge(hub, change)
    assert [str(view.version) for view in hub.catalog.releases("billing")] == [
        "2.0.1",
        "2.0.0",
        "1.0.0",
    ]


# -- hotfixes -------------------------------------------------------------------------------------


def test_a_second_hotfix_for_the_same_line_is_refused_naming_the_branch(
    hub: Hub, billing: str
) -> None:
    first = hub.hotfixes.create("billing", "1.0.0", AUTHOR)
    assert first.branch_name == f"mirel/hotfix/app/{billing}/1.0"
    assert first.pull_request is None  # the patch release gets the pull request
    before = refs(hub.repo.path)
    with pytest.raises(HotfixBranchExists) as raised:
        hub.hotfixes.create("billing", "1.0.0", AUTHOR)
    assert first.branch_name in str(raised.value)
    assert refs(hub.repo.path) == before
    # Another line of the same element is free.
    assert hub.hotfixes.create("billing", "2.0.0", AUTHOR).branch_name.endswith("/2.0")


def test_a_hotfix_of_an_unreleased_version_is_refused(hub: Hub, billing: str) -> None:
    before = refs(hub.repo.path)
    with pytest.raises(ReleaseNotFound):
        hub.hotfixes.create("billing", "1.1.0", AUTHOR)
    assert refs(hub.repo.path) == before


def test_a_patch_release_adds_exactly_one_artifact_and_removes_the_hotfix_branch(
    hub: Hub, billing: str
) -> None:
    hotfix = hub.hotfixes.create("billing", "1.0.0", AUTHOR)
    fixed = {**V1, "main.rsx": b"<App version='1' fixed/>\n"}
    push(hub, "billing", fixed, branch=hotfix.branch_name)
    working_before = hub.snapshot().folder_files("apps/billing")

    change = hub.hotfixes.release("billing", "1.0", AUTHOR, "fix the total", allow_same=True)
    assert change.branch_name.endswith("/1.0.1")
    before = hub.head()
    after = merge(hub, change)

    assert added_paths(hub, before, after) == [("added", f"dist/apps/{billing}/1.0.1.zip")]
    # The hotfix's source was not merged back: main's working version is unchanged.
    assert hub.snapshot().folder_files("apps/billing") == working_before
    assert release_files(hub, "billing", "1.0.1")["main.rsx"] == fixed["main.rsx"]
    assert hub.repo.branch_sha(hotfix.branch_name) is None
    assert hub.catalog.hotfixes() == []
    # Patch releases may be lower than the highest release.
    assert [str(view.version) for view in hub.catalog.releases("billing")] == [
        "2.0.0",
        "1.0.1",
        "1.0.0",
    ]


def test_a_patch_release_is_numbered_after_claimed_patches_of_its_line(
    hub: Hub, billing: str
) -> None:
    hub.hotfixes.create("billing", "1.0.0", AUTHOR)
    first = hub.hotfixes.release("billing", "1.0", AUTHOR, "first try", allow_same=True)
    assert first.branch_name.endswith("/1.0.1")
    # 1.0.1 is claimed by the open pull request above: a second patch release takes 1.0.2.
    second = hub.hotfixes.release("billing", "1.0", AUTHOR, "second try", allow_same=True)
    assert second.branch_name.endswith("/1.0.2")
    merge(hub, second)
    # Merging took the hotfix branch away; the open 1.0.1 still counts for the next hotfix.
    hub.hotfixes.create("billing", "1.0.2", AUTHOR)
    third = hub.hotfixes.release("billing", "1.0", AUTHOR, allow_same=True)
    assert third.branch_name.endswith("/1.0.3")


def test_a_patch_release_counts_a_patch_claimed_by_a_regular_release_branch(hub: Hub) -> None:
    add_element(hub, "app", "billing", V1)
    release(hub, "billing", "1.0.0")
    claimed = hub.releases.create(
        "billing", AUTHOR, bump=Bump.PATCH, allow_same=True
    )  # 1.0.1, left open
    assert claimed.branch_name.endswith("/1.0.1")
    hub.hotfixes.create("billing", "1.0.0", AUTHOR)
    assert hub.hotfixes.release("billing", "1.0", AUTHOR, allow_same=True).branch_name.endswith(
        "/1.0.2"
    )


def test_a_patch_release_follows_the_highest_patch_on_main(hub: Hub, billing: str) -> None:
    for _ in range(2):  # releases 1.0.1 and 1.0.2 through hotfixes
        hub.hotfixes.create("billing", "1.0.0", AUTHOR)
        merge(hub, hub.hotfixes.release("billing", "1.0", AUTHOR, allow_same=True))
    hub.hotfixes.create("billing", "1.0.0", AUTHOR)
    assert hub.hotfixes.release("billing", "1.0", AUTHOR, allow_same=True).branch_name.endswith(
        "/1.0.3"
    )
    released = releases_of(hub.snapshot(), hub.catalog.element("billing").kind, billing)
    assert Version(1, 0, 2) in released


def test_a_hotfix_starts_from_the_highest_release_of_its_line(hub: Hub, billing: str) -> None:
    # 1.0.1 is a patch with its own files; main's working version has moved on to V3.
    first = hub.hotfixes.create("billing", "1.0.0", AUTHOR)
    patched = {"main.rsx": b"<App version='1.0.1'/>\n", "lib/patch.sql": b"select 101;\n"}
    push(hub, "billing", patched, branch=first.branch_name)
    merge(hub, hub.hotfixes.release("billing", "1.0", AUTHOR, allow_same=True))
    push(hub, "billing", {"main.rsx": b"<App version='3'/>\n", "extra.txt": b"new\n"})

    hotfix = hub.hotfixes.create("billing", "1.0.0", AUTHOR)  # asked from 1.0.0, starts at 1.0.1
    on_branch = hub.snapshot(HEADS + hotfix.branch_name).folder_files("apps/billing")
    expected = release_files(hub, "billing", "1.0.1")
    assert on_branch == expected
    assert on_branch["main.rsx"] == patched["main.rsx"]
    assert "extra.txt" not in on_branch  # files of the working version are gone
    assert "lib/query1.sql" not in on_branch  # and so are files 1.0.1 dropped


def test_a_hotfix_from_the_current_release_has_its_files(hub: Hub, billing: str) -> None:
    hotfix = hub.hotfixes.create("billing", "2.0.0", AUTHOR)
    on_branch = hub.snapshot(HEADS + hotfix.branch_name).folder_files("apps/billing")
    assert on_branch == release_files(hub, "billing", "2.0.0")
    assert hotfix.branch_name == hotfix_branch(
        hub.catalog.element("billing").kind, billing, Line(2, 0)
    )


def test_a_closed_hotfix_is_gone_and_can_be_started_again(hub: Hub, billing: str) -> None:
    hotfix = hub.hotfixes.create("billing", "1.0.0", AUTHOR)
    closed = hub.hotfixes.close("billing", "1.0")
    assert closed.branch_name == hotfix.branch_name
    assert hub.repo.branch_sha(hotfix.branch_name) is None
    with pytest.raises(HotfixNotFound):
        hub.hotfixes.release("billing", "1.0", AUTHOR, allow_same=True)
    assert hub.hotfixes.create("billing", "1.0.0", AUTHOR).branch_name == hotfix.branch_name


# -- deleting releases ----------------------------------------------------------------------------


def test_deleting_a_pinned_release_is_refused_until_it_is_unpinned(hub: Hub, billing: str) -> None:
    merge(hub, hub.manifests.set_pin("prod", "billing", "1.0.0", AUTHOR))
    merge(hub, hub.manifests.set_pin("dev", "billing", "latest", AUTHOR))
    before = refs(hub.repo.path)
    with pytest.raises(ReleasePinned) as raised:
        hub.releases.delete("billing", "1.0.0", AUTHOR)
    assert "manifest prod pins billing 1.0.0" in str(raised.value)
    assert "dev" not in str(raised.value)
    assert refs(hub.repo.path) == before

    merge(hub, hub.manifests.unset_pin("prod", "billing", AUTHOR))
    change = hub.releases.delete("billing", "1.0.0", AUTHOR)
    before_merge = hub.head()
    after = merge(hub, change)
    assert added_paths(hub, before_merge, after) == [("removed", f"dist/apps/{billing}/1.0.0.zip")]
    assert [str(view.version) for view in hub.catalog.releases("billing")] == ["2.0.0"]


def test_latest_falls_back_to_the_next_release_after_a_deletion(hub: Hub, billing: str) -> None:
    merge(hub, hub.manifests.set_pin("prod", "billing", "latest", AUTHOR))
    assert cell(hub, "billing", "prod") == {
        "release": "latest",
        "resolved": "2.0.0",
        "status": "ok",
        "deploys": [],
    }

    change = hub.releases.delete("billing", "2.0.0", AUTHOR)  # `latest` does not block it
    # Nothing changes until the deletion is merged.
    assert cell(hub, "billing", "prod")["resolved"] == "2.0.0"
    merge(hub, change)
    assert cell(hub, "billing", "prod") == {
        "release": "latest",
        "resolved": "1.0.0",
        "status": "ok",
        "deploys": [],
    }

    merge(hub, hub.releases.delete("billing", "1.0.0", AUTHOR))
    # No release left: `latest` is the working version.
    assert cell(hub, "billing", "prod") == {
        "release": "latest",
        "resolved": None,
        "status": "ok",
        "deploys": [],
    }


def test_merging_an_old_patch_release_keeps_a_hotfix_started_again_meanwhile(
    hub: Hub, billing: str
) -> None:
    first = hub.hotfixes.create("billing", "1.0.0", AUTHOR)
    push(hub, "billing", {**V1, "main.rsx": b"<App first-try/>\n"}, branch=first.branch_name)
    old_patch = hub.hotfixes.release("billing", "1.0", AUTHOR, "first try", allow_same=True)
    hub.hotfixes.close("billing", "1.0", drop_commits=True)
    second = hub.hotfixes.create("billing", "1.0.0", AUTHOR)
    push(hub, "billing", {**V1, "main.rsx": b"<App second-try/>\n"}, branch=second.branch_name)
    tip = hub.repo.branch_sha(second.branch_name)

    merge(hub, old_patch)

    # The new hotfix holds unreleased work that the old patch release never contained.
    assert hub.repo.branch_sha(second.branch_name) == tip
    assert [item.line for item in hub.catalog.hotfixes()] == ["1.0"]


# -- source diffs where a decision is made ---------------------------------------------------
# A release's pull request against the release before it on its line (read on the pull
# request's head), and a hotfix branch against its line.

V3 = {"main.rsx": b"<App version='3'/>\n", "lib/query2.sql": b"select 2;\n"}


def diffs_of(hub: Hub, change: ChangeRequest) -> list[ReleaseDiff]:
    """Return the source diffs of a change's pull request."""
    assert change.pull_request is not None
    pull = hub.pulls.get(change.pull_request.number)
    return pull_release_diffs(hub.catalog, pull, hub.pulls.diff(pull.number))


def paths(diff: ReleaseDiff) -> tuple[list[str], list[str], list[str]]:
    """Return the paths a diff adds, removes and changes."""
    return (
        [item.path for item in diff.added],
        [item.path for item in diff.removed],
        [item.path for item in diff.changed],
    )


def test_a_release_pull_request_compares_with_the_release_before(hub: Hub, billing: str) -> None:
    push(hub, "billing", V3)
    [diff] = diffs_of(hub, hub.releases.create("billing", AUTHOR, version="3.0.0", allow_same=True))
    assert (diff.release_version, diff.against) == ("3.0.0", "2.0.0")
    assert paths(diff) == ([], [], ["main.rsx"])
    assert "+<App version='3'/>" in diff.changed[0].diff


def test_a_patch_release_compares_with_the_release_before_it_on_its_line(
    hub: Hub, billing: str
) -> None:
    hotfix = hub.hotfixes.create("billing", "1.0.0", AUTHOR)
    push(hub, "billing", {**V1, "fix.sql": b"select 'fixed';\n"}, branch=hotfix.branch_name)
    [diff] = diffs_of(hub, hub.hotfixes.release("billing", "1.0", AUTHOR, allow_same=True))
    assert (diff.release_version, diff.against) == ("1.0.1", "1.0.0")
    assert paths(diff) == (["fix.sql"], [], [])


def test_a_pull_request_without_a_new_release_has_no_source_diff(hub: Hub, billing: str) -> None:
    assert diffs_of(hub, hub.manifests.set_pin("prod", "billing", "1.0.0", AUTHOR)) == []
    assert diffs_of(hub, hub.releases.delete("billing", "1.0.0", AUTHOR)) == []


def test_a_hotfix_branch_compares_with_the_newest_release_of_its_line(
    hub: Hub, billing: str
) -> None:
    hotfix = hub.hotfixes.create("billing", "1.0.0", AUTHOR)
    found = parse_hotfix_branch(hotfix.branch_name)
    assert found is not None
    element = hub.catalog.element("billing")
    untouched = hotfix_diff(hub.catalog, element, found)
    assert (untouched.release_version, untouched.against) == ("1.0.1", "1.0.0")
    assert paths(untouched) == ([], [], [])  # it starts with the files of 1.0.0
    push(hub, "billing", {"main.rsx": b"<App version='1' fixed/>\n"}, branch=hotfix.branch_name)
    fixed = hotfix_diff(hub.catalog, element, found)
    assert paths(fixed) == ([], ["lib/query1.sql"], ["main.rsx"])

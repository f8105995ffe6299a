"""A release holding exactly the files of the release before it on its line is refused, with a
message naming that release, unless it is asked for explicitly (issue 9)."""

from __future__ import annotations

import pytest

from mirel.core.versions import Bump
from mirel.errors import BranchMoved, HotfixHasCommits, ReleaseUnchanged
from mirel.hub import Hub
from support import AUTHOR, add_element, merge, refs, release

V1 = {"main.rsx": b"<App version='1'/>\n"}
V2 = {"main.rsx": b"<App version='2'/>\n"}


@pytest.fixture
def billing(hub: Hub) -> str:
    """Return the uuid of `billing`, released as 1.0.0 (V1) and 2.0.0 (V2, still its files)."""
    uuid = add_element(hub, "app", "billing", V1)
    release(hub, "billing", "1.0.0")
    merge(hub, hub.elements.push("billing", V2, AUTHOR))
    release(hub, "billing", "2.0.0")
    return uuid


@pytest.mark.parametrize("bump", list(Bump))
def test_a_release_of_unchanged_files_is_refused_and_names_the_release(
    hub: Hub, billing: str, bump: Bump
) -> None:
    before = refs(hub.repo.path)
    with pytest.raises(ReleaseUnchanged) as raised:
        hub.releases.create("billing", AUTHOR, bump=bump)
    assert "exactly the files of 2.0.0" in str(raised.value)
    assert raised.value.cli_hint == "add --allow-same to release it anyway"
    assert refs(hub.repo.path) == before  # no branch, no pull request


def test_an_explicit_version_of_unchanged_files_is_refused_too(hub: Hub, billing: str) -> None:
    with pytest.raises(ReleaseUnchanged, match=r"billing 7\.0\.0 would hold exactly"):
        hub.releases.create("billing", AUTHOR, version="7.0.0")


def test_allow_same_releases_the_same_files_on_purpose(hub: Hub, billing: str) -> None:
    change = hub.releases.create("billing", AUTHOR, bump=Bump.MINOR, allow_same=True)
    assert change.branch_name.endswith("/2.1.0")


def test_releasing_twice_in_a_row_compares_with_the_open_pull_request(
    hub: Hub, billing: str
) -> None:
    merge(hub, hub.elements.push("billing", {"main.rsx": b"<App version='3'/>\n"}, AUTHOR))
    first = hub.releases.create("billing", AUTHOR, bump=Bump.MINOR)
    assert first.branch_name.endswith("/2.1.0")
    before = refs(hub.repo.path)
    with pytest.raises(ReleaseUnchanged) as raised:
        hub.releases.create("billing", AUTHOR, bump=Bump.MINOR)
    assert "2.2.0 would hold exactly the files of 2.1.0 (in an open pull request)" in str(
        raised.value
    )
    assert refs(hub.repo.path) == before


def test_a_changed_source_releases_without_asking(hub: Hub, billing: str) -> None:
    merge(hub, hub.elements.push("billing", {"main.rsx": b"<App version='3'/>\n"}, AUTHOR))
    merge(hub, hub.releases.create("billing", AUTHOR, bump=Bump.MINOR))
    assert [str(view.version) for view in hub.catalog.releases("billing")] == [
        "2.1.0",
        "2.0.0",
        "1.0.0",
    ]


def test_a_hotfix_without_a_commit_is_refused_and_names_the_release(hub: Hub, billing: str) -> None:
    hotfix = hub.hotfixes.create("billing", "1.0.0", AUTHOR)
    before = refs(hub.repo.path)
    with pytest.raises(ReleaseUnchanged) as raised:
        hub.hotfixes.release("billing", "1.0", AUTHOR)
    assert "billing 1.0.1 would hold exactly the files of 1.0.0" in str(raised.value)
    assert refs(hub.repo.path) == before
    assert hub.repo.branch_sha(hotfix.branch_name) is not None
    change = hub.hotfixes.release("billing", "1.0", AUTHOR, allow_same=True)
    assert change.branch_name.endswith("/1.0.1")


def test_a_hotfix_with_a_fix_releases_without_asking(hub: Hub, billing: str) -> None:
    hotfix = hub.hotfixes.create("billing", "1.0.0", AUTHOR)
    fixed = {"main.rsx": b"<App version='1' fixed/>\n"}
    hub.elements.push("billing", fixed, AUTHOR, branch=hotfix.branch_name)
    assert hub.hotfixes.release("billing", "1.0", AUTHOR).branch_name.endswith("/1.0.1")


# -- closing a hotfix that has commits --------------------------------------------------------


def test_closing_a_hotfix_without_commits_needs_no_confirmation(hub: Hub, billing: str) -> None:
    hotfix = hub.hotfixes.create("billing", "1.0.0", AUTHOR)
    assert hub.catalog.hotfix_commits(hotfix.commit_sha) == []
    hub.hotfixes.close("billing", "1.0")
    assert hub.repo.branch_sha(hotfix.branch_name) is None


def test_closing_a_hotfix_with_commits_asks_first_and_keeps_the_branch(
    hub: Hub, billing: str
) -> None:
    hotfix = hub.hotfixes.create("billing", "1.0.0", AUTHOR)
    for number in (1, 2):
        content = {"main.rsx": f"<App version='1' fix='{number}'/>\n".encode()}
        hub.elements.push("billing", content, AUTHOR, branch=hotfix.branch_name)
    tip = hub.repo.branch_sha(hotfix.branch_name)
    assert tip is not None
    commits = hub.catalog.hotfix_commits(tip)
    assert len(commits) == 2
    assert commits[0].sha == tip
    before = refs(hub.repo.path)
    with pytest.raises(HotfixHasCommits) as raised:
        hub.hotfixes.close("billing", "1.0")
    assert raised.value.count == 2
    assert "has 2 commits after it was started" in str(raised.value)
    assert raised.value.cli_hint == "add --yes to close it anyway"
    assert refs(hub.repo.path) == before
    hub.hotfixes.close("billing", "1.0", drop_commits=True, expected_sha=tip)
    assert hub.repo.branch_sha(hotfix.branch_name) is None


def test_closing_a_hotfix_that_moved_since_it_was_shown_is_refused(hub: Hub, billing: str) -> None:
    hotfix = hub.hotfixes.create("billing", "1.0.0", AUTHOR)
    seen = hotfix.commit_sha
    hub.elements.push("billing", {"main.rsx": b"late fix\n"}, AUTHOR, branch=hotfix.branch_name)
    before = refs(hub.repo.path)
    with pytest.raises(BranchMoved, match="changed since it was shown"):
        hub.hotfixes.close("billing", "1.0", drop_commits=True, expected_sha=seen)
    assert refs(hub.repo.path) == before

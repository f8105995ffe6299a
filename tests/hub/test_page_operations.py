"""The hub operations the pages use: next versions, an element's hotfixes and history, a
branch's view, editing one file, and pages of pull requests."""

from __future__ import annotations

import pytest

from mirel.core.versions import Bump
from mirel.errors import (
    ElementNotFound,
    HotfixNotFound,
    InvalidInput,
    NotFound,
    NothingToChange,
)
from mirel.git.repository import HEADS
from mirel.hub import Hub
from mirel.providers.base import PullState
from mirel.web.views.branches import branch_page
from support import AUTHOR, add_element, merge, refs, release


@pytest.fixture
def billing(hub: Hub) -> str:
    """Return the uuid of billing, with releases 1.0.0 and 1.1.0."""
    uuid = add_element(hub, "app", "billing", {"main.rsx": b"one\n", "lib/q.sql": b"select\n"})
    release(hub, "billing", "1.0.0")
    release(hub, "billing", "1.1.0")
    return uuid


def test_next_versions_count_releases_and_open_claims(hub: Hub, billing: str) -> None:
    assert hub.catalog.next_versions("billing") == {
        "major": "2.0.0",
        "minor": "1.2.0",
        "patch": "1.1.1",
    }
    # Claims 1.2.0, not merged.
    hub.releases.create("billing", AUTHOR, bump=Bump.MINOR, allow_same=True)
    assert hub.catalog.next_versions(billing)["minor"] == "1.3.0"


def test_an_elements_hotfixes_and_the_next_patch(hub: Hub, billing: str) -> None:
    element = hub.catalog.element("billing")
    assert hub.catalog.element_hotfixes(element) == []
    hub.hotfixes.create("billing", "1.0.0", AUTHOR)
    [hotfix] = hub.catalog.element_hotfixes(element)
    assert hotfix.line == "1.0"
    assert hotfix.element_name == "billing"
    assert hotfix.branch_name == f"mirel/hotfix/app/{billing}/1.0"
    assert hub.catalog.next_hotfix_version("billing", "1.0") == "1.0.1"
    with pytest.raises(HotfixNotFound):
        hub.catalog.next_hotfix_version("billing", "1.1")


def test_an_elements_history_is_its_folder_and_releases_only(hub: Hub, billing: str) -> None:
    add_element(hub, "app", "crm")
    merge(hub, hub.manifests.set_pin("prod", "billing", "1.0.0", AUTHOR))
    commits, older = hub.catalog.element_history(hub.catalog.element("billing"))
    subjects = [commit.message.splitlines()[2] for commit in commits]
    assert subjects == ["Release billing 1.1.0", "Release billing 1.0.0", "Add app billing"]
    assert older is None  # the whole history was looked at: no further page
    page, rest = hub.catalog.element_history(hub.catalog.element("billing"), limit=1)
    assert [commit.sha for commit in page] == [commits[0].sha]
    following, _ = hub.catalog.element_history(hub.catalog.element("billing"), start=rest, limit=5)
    assert [commit.sha for commit in following] == [commit.sha for commit in commits[1:]]


def test_history_pages_look_at_a_bounded_number_of_commits(hub: Hub, billing: str) -> None:
    head = hub.head()
    found, resume = hub.repo.history_page(head, ["apps/billing"], limit=10, scan=1)
    assert found == []
    assert resume is not None
    found, resume = hub.repo.history_page(resume, ["apps/billing"], limit=10)
    assert [commit.summary for commit in found][-1].startswith("Merge pull request #1")
    assert resume is None


def test_a_branch_view_shows_its_own_commits_changes_and_pull_request(
    hub: Hub, billing: str
) -> None:
    change = hub.elements.edit_file("billing", "main.rsx", b"two\n", AUTHOR)
    view = branch_page(hub, change.branch_name)
    assert view.pull_request is not None
    assert view.pull_request.number == change.pull_request.number
    assert [item.path for item in view.changes] == ["apps/billing/main.rsx"]
    assert [commit.sha for commit in view.commits] == [change.commit_sha]
    assert view.hotfix is None
    assert view.element is None
    assert view.files == []
    hotfix = hub.hotfixes.create("billing", "1.1.0", AUTHOR)
    view = branch_page(hub, hotfix.branch_name)
    assert view.hotfix is not None
    assert view.element is not None
    assert view.files == ["lib/q.sql", "main.rsx", "metadata.json"]


def test_edit_one_file_on_a_new_branch_or_on_top_of_one(hub: Hub, billing: str) -> None:
    change = hub.elements.edit_file("billing", "lib/q.sql", b"select 1\n", AUTHOR)
    assert change.pull_request is not None
    files = hub.snapshot(HEADS + change.branch_name).folder_files("apps/billing")
    assert files["lib/q.sql"] == b"select 1\n"
    assert files["main.rsx"] == b"one\n"
    hotfix = hub.hotfixes.create("billing", "1.0.0", AUTHOR)
    on_top = hub.elements.edit_file(
        "billing", "main.rsx", b"fixed\n", AUTHOR, branch=hotfix.branch_name
    )
    assert on_top.branch_name == hotfix.branch_name
    assert hub.snapshot(HEADS + hotfix.branch_name).read("apps/billing/main.rsx") == b"fixed\n"
    removed = hub.elements.edit_file(
        "billing", "lib/q.sql", None, AUTHOR, branch=hotfix.branch_name
    )
    assert hub.snapshot(HEADS + removed.branch_name).read("apps/billing/lib/q.sql") is None


@pytest.mark.parametrize(
    ("path", "content", "error", "message"),
    [
        ("../crm/main.rsx", b"x", InvalidInput, "is not a safe relative path"),
        (".git/config", b"x", InvalidInput, "is not a safe relative path"),
        ("main.rsx", b"one\n", NothingToChange, "already on the default branch"),
        ("nothing.txt", None, NotFound, "billing has no file 'nothing.txt'"),
        ("metadata.json", None, InvalidInput, "cannot be deleted"),
        ("metadata.json", b'{"pageUuid": "not-a-uuid"}', InvalidInput, "not a lowercase uuid"),
    ],
)
def test_a_bad_edit_is_refused_and_writes_nothing(
    hub: Hub,
    billing: str,
    path: str,
    content: bytes | None,
    error: type[Exception],
    message: str,
) -> None:
    before = refs(hub.repo.path)
    with pytest.raises(error, match=message):
        hub.elements.edit_file("billing", path, content, AUTHOR)
    assert refs(hub.repo.path) == before


def test_an_edit_names_an_element_that_is_on_the_branch(hub: Hub, billing: str) -> None:
    add_element(hub, "app", "crm")
    hotfix = hub.hotfixes.create("billing", "1.0.0", AUTHOR)
    hub.repo.delete_ref(HEADS + hotfix.branch_name)
    tree = hub.repo.write_tree_changes(
        hub.repo.tree_of(hub.head()), {"apps/crm/metadata.json": None, "apps/crm/main.rsx": None}
    )
    commit = hub.repo.write_commit(
        tree_oid=tree, parents=[hub.head()], message="x\n", author=AUTHOR
    )
    hub.repo.create_branch("without-crm", commit)
    with pytest.raises(ElementNotFound, match="crm is not on branch 'without-crm'"):
        hub.elements.edit_file("crm", "main.rsx", b"x", AUTHOR, branch="without-crm")


def test_pull_requests_come_in_pages_with_or_without_test_merges(hub: Hub, billing: str) -> None:
    for index in range(3):
        hub.elements.edit_file("billing", f"file{index}.txt", b"x\n", AUTHOR)
    newest = hub.pulls.list(limit=2)
    assert [pull.number for pull in newest] == [6, 5]
    older = hub.pulls.list(limit=2, before=newest[-1].number)
    assert [pull.number for pull in older] == [4, 3]
    opened = hub.pulls.list(PullState.OPEN, before=100, conflicts=False)
    assert [pull.number for pull in opened] == [6, 5, 4]

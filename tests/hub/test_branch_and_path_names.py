"""Names git or mirel cannot take are refused with a message, and nothing is written."""

from __future__ import annotations

import pytest

from mirel.core.kinds import APP
from mirel.errors import InvalidInput
from mirel.hub import Hub
from support import AUTHOR, add_element, merge, refs


@pytest.mark.parametrize("branch", ["mirel", "mirel/mine", "mirel/release/x"])
def test_new_branches_in_mirels_namespace_are_refused(hub: Hub, branch: str) -> None:
    before = refs(hub.repo.path)
    with pytest.raises(InvalidInput, match="mirel's own"):
        hub.branches.commit(branch, {"notes.txt": b"x\n"}, "notes\n", AUTHOR)
    assert refs(hub.repo.path) == before
    # mirel's own branches still work afterwards.
    add_element(hub, "app", "billing")


def test_a_branch_clashing_with_an_existing_one_is_refused(hub: Hub) -> None:
    hub.branches.commit("feat", {"notes.txt": b"x\n"}, "notes\n", AUTHOR)
    before = refs(hub.repo.path)
    with pytest.raises(InvalidInput, match="clashes"):
        hub.branches.commit("feat/x", {"notes.txt": b"y\n"}, "notes\n", AUTHOR)
    assert refs(hub.repo.path) == before


@pytest.mark.parametrize("path", [".GIT/config", "apps/billing/.Git", "GIT~1/x"])
def test_file_names_git_refuses_are_invalid_input(hub: Hub, path: str) -> None:
    before = refs(hub.repo.path)
    with pytest.raises(InvalidInput, match="git accepts"):
        hub.branches.commit("feat", {path: b"x\n"}, "odd name\n", AUTHOR)
    assert refs(hub.repo.path) == before


def test_an_element_folder_with_a_name_git_refuses_is_invalid_input(hub: Hub) -> None:
    before = refs(hub.repo.path)
    with pytest.raises(InvalidInput, match="git accepts"):
        hub.elements.add(APP, "odd", {"main.rsx": b"x\n", ".GIT/x": b"x\n"}, AUTHOR)
    assert refs(hub.repo.path) == before


def test_a_broken_hooks_file_does_not_fail_a_merge(hub: Hub) -> None:
    (hub.repo.git_dir / "mirel-deploy-hooks.json").write_text("{not json", encoding="utf-8")
    change = hub.elements.add(APP, "billing", {"main.rsx": b"<App/>\n"}, AUTHOR)
    merge(hub, change)
    assert hub.catalog.element("billing").name == "billing"

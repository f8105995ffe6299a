"""One corrupt or lying artifact does not hide its element (issue 11, item 7): the element's
releases list it as broken with its problem, and every other release reads as usual."""

from __future__ import annotations

import io
import zipfile

import pytest

from mirel.hub import Hub
from support import AUTHOR, add_element, merge, release


@pytest.fixture
def billing(hub: Hub) -> str:
    uuid = add_element(hub, "app", "billing", {"main.rsx": b"v1\n"})
    release(hub, "billing", "1.0.0")
    merge(hub, hub.elements.push("billing", {"main.rsx": b"v2\n"}, AUTHOR))
    release(hub, "billing", "2.0.0")
    return uuid


def commit_to_main(hub: Hub, path: str, content: bytes) -> None:
    """Write one file straight on the default branch, as a plain git push would."""
    head = hub.head()
    tree = hub.repo.write_tree_changes(hub.repo.tree_of(head), {path: content})
    sha = hub.repo.write_commit(tree_oid=tree, parents=[head], message="push\n", author=AUTHOR)
    hub.repo.update_ref("refs/heads/" + hub.default_branch, sha, head)


def listed(hub: Hub) -> dict[str, str | None]:
    return {str(view.version): view.problem for view in hub.catalog.releases("billing")}


def test_a_corrupt_artifact_is_listed_as_broken_beside_the_good_ones(
    hub: Hub, billing: str
) -> None:
    commit_to_main(hub, f"dist/apps/{billing}/3.0.0.zip", b"not a zip at all")
    found = listed(hub)
    assert found["2.0.0"] is None
    assert found["1.0.0"] is None
    assert (found["3.0.0"] or "").startswith("is not a readable zip file")


def test_an_artifact_whose_release_json_lies_is_listed_as_broken(hub: Hub, billing: str) -> None:
    # 2.0.0's bytes, copied under another version's name: its release.json says 2.0.0.
    element = hub.catalog.element("billing")
    data = hub.snapshot().read(element.kind.artifact_path(billing, "2.0.0"))
    assert data is not None
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert "release.json" in archive.namelist()
    commit_to_main(hub, f"dist/apps/{billing}/4.0.0.zip", data)
    found = listed(hub)
    assert found["2.0.0"] is None
    problem = found["4.0.0"]
    assert problem is not None
    assert f"says app {billing} 2.0.0, not what its path says" in problem


def test_a_release_above_a_corrupt_one_is_made_as_usual(hub: Hub, billing: str) -> None:
    commit_to_main(hub, f"dist/apps/{billing}/3.0.0.zip", b"not a zip at all")
    merge(hub, hub.elements.push("billing", {"main.rsx": b"v3\n"}, AUTHOR))
    change = hub.releases.create("billing", AUTHOR, version="4.0.0")
    assert change.branch_name.endswith("/4.0.0")

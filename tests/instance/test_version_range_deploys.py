"""Version ranges live (issue 13, acceptance 1): a hotfix 1.2.1 on `~1.2` goes live at the next
deploy of the instance pinning `~1.2`, while the instances pinning `1.2.0` and `^2` do not move;
a range no release is in is refused when pinned and found by validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from instance_support import open_instance

from mirel.core.manifest import Manifest, write_manifest
from mirel.errors import ReleaseNotFound
from mirel.hub import Hub
from mirel.hub.matrix import matrix
from support import AUTHOR, add_element, merge, release


def test_a_hotfix_goes_live_where_a_range_holds_it_and_nowhere_else(
    hub: Hub, tmp_path: Path
) -> None:
    billing = add_element(hub, "app", "billing", {"main.rsx": b"v1"})
    release(hub, "billing", "1.2.0")
    merge(hub, hub.elements.push("billing", {"main.rsx": b"v2"}, AUTHOR))
    release(hub, "billing", "2.0.0")
    pins = {"line": "~1.2", "exact": "1.2.0", "major": "^2"}
    for manifest, pin in pins.items():
        merge(hub, hub.manifests.set_pin(manifest, "billing", pin, AUTHOR))
    instances = {
        name: open_instance(hub, f"sqlite:///{tmp_path / name}.db", name=name, manifest=name)
        for name in pins
    }
    try:

        def live() -> dict[str, str | None]:
            found = {}
            for name, instance in instances.items():
                assert instance.deployer.deploy("test").status == "SUCCESS"
                found[name] = instance.live.element(billing).live_release
            return found

        assert live() == {"line": "1.2.0", "exact": "1.2.0", "major": "2.0.0"}
        hotfix = hub.hotfixes.create("billing", "1.2.0", AUTHOR)
        hub.elements.push("billing", {"main.rsx": b"v1 fixed"}, AUTHOR, branch=hotfix.branch_name)
        merge(hub, hub.hotfixes.release("billing", "1.2", AUTHOR, "the fix", allow_same=True))
        assert live() == {"line": "1.2.1", "exact": "1.2.0", "major": "2.0.0"}
        # The Releases tab shows each range resolved.
        cells = {row.name: row for row in matrix(hub.catalog).elements}["billing"].pins
        assert (cells["line"].release, cells["line"].resolved) == ("~1.2", "1.2.1")
        assert (cells["major"].release, cells["major"].resolved) == ("^2", "2.0.0")
    finally:
        for instance in instances.values():
            instance.close()


def test_a_range_no_release_is_in_is_refused_and_found_by_validation(hub: Hub) -> None:
    billing = add_element(hub, "app", "billing", {"main.rsx": b"v1"})
    release(hub, "billing", "1.2.0")
    with pytest.raises(ReleaseNotFound, match=r"no release of billing is in ~3\.0"):
        hub.manifests.set_pin("prod", "billing", "~3.0", AUTHOR)
    assert hub.catalog.validate() == []
    # Pushed past mirel (plain git), the pin is a problem naming the manifest and the range.
    from mirel.core.kinds import APP

    manifest = Manifest(name="prod").with_pin(APP, billing, "^3")
    head = hub.head()
    changes = {"manifests/prod.yaml": write_manifest(manifest)}
    tree = hub.repo.write_tree_changes(hub.repo.tree_of(head), changes)
    sha = hub.repo.write_commit(tree_oid=tree, parents=[head], message="x\n", author=AUTHOR)
    hub.repo.update_ref("refs/heads/main", sha, head)
    problems = hub.catalog.validate()
    assert [(p.path, p.message) for p in problems] == [
        ("manifests/prod.yaml", "pins billing ^3, which no release of it is in")
    ]

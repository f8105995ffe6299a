"""The element metadata cache is keyed by kind, folder name and content, never content alone."""

from __future__ import annotations

from mirel.hub import Hub
from support import AUTHOR, add_element


def test_a_folder_renamed_without_its_metadata_is_not_kept_valid_by_the_cache(hub: Hub) -> None:
    add_element(hub, "app", "old")
    assert [element.name for element in hub.catalog.elements()] == ["old"]
    main = hub.head()
    # Rename the folder on main without touching metadata.json, which still says "old": the
    # folder's git tree id is the same, so a cache keyed by it alone would call it valid.
    files = hub.snapshot().folder_files("apps/old")
    changes: dict[str, bytes | None] = {f"apps/old/{path}": None for path in files}
    changes.update({f"apps/new/{path}": content for path, content in files.items()})
    tree = hub.repo.write_tree_changes(hub.repo.tree_of(main), changes)
    renamed = hub.repo.write_commit(
        tree_oid=tree, parents=[main], message="rename\n", author=AUTHOR
    )
    hub.repo.update_ref("refs/heads/main", renamed, main)

    assert hub.catalog.elements() == []
    assert [problem.path for problem in hub.catalog.validate()] == ["apps/new/metadata.json"]

"""Comparing two releases of an element: the files added, removed and changed, with text diffs."""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from mirel.core.catalog import get_release, releases_of
from mirel.core.versions import Version
from mirel.hub.catalog import Catalog
from mirel.hub.values import FileChange, ReleaseDiff


def text_diff(path: str, old: bytes | None, new: bytes | None) -> str:
    """Return the unified diff of one file (None: absent on that side), or a note for binaries."""
    try:
        old_text = old.decode("utf-8") if old is not None else ""
        new_text = new.decode("utf-8") if new is not None else ""
    except UnicodeDecodeError:
        return "binary file differs\n"
    return "".join(
        difflib.unified_diff(
            old_text.splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            fromfile=f"a/{path}" if old is not None else "/dev/null",
            tofile=f"b/{path}" if new is not None else "/dev/null",
        )
    )


def _file_changes(
    old_files: Mapping[str, bytes], new_files: Mapping[str, bytes]
) -> tuple[list[FileChange], list[FileChange], list[FileChange]]:
    """Return the files added, removed and changed from `old_files` to `new_files`, by path."""
    added: list[FileChange] = []
    removed: list[FileChange] = []
    changed: list[FileChange] = []
    for path in sorted(set(new_files) | set(old_files)):
        old, new = old_files.get(path), new_files.get(path)
        if old == new:
            continue
        entry = FileChange(path=path, diff=text_diff(path, old, new))
        (added if old is None else removed if new is None else changed).append(entry)
    return added, removed, changed


def release_diff(
    catalog: Catalog, reference: str, version: str, against: str | None = None
) -> ReleaseDiff:
    """Return what changed from `against` (default: the release before `version`; none: an
    empty folder) to `version` of an element on the default branch."""
    snapshot = catalog.snapshot()
    element = catalog.element(reference, snapshot)
    target = get_release(snapshot, element, Version.parse(version))
    if against is None:
        found = releases_of(snapshot, element.kind, element.uuid)
        lower = [candidate for candidate in found if candidate < target.version]
        base = get_release(snapshot, element, max(lower)) if lower else None
    else:
        base = get_release(snapshot, element, Version.parse(against))
    new_files = catalog.artifact_files(target)
    old_files = catalog.artifact_files(base) if base else {}
    added, removed, changed = _file_changes(old_files, new_files)
    return ReleaseDiff(
        element_uuid=element.uuid,
        element_name=element.name,
        release_version=str(target.version),
        against=str(base.version) if base else None,
        added=tuple(added),
        removed=tuple(removed),
        changed=tuple(changed),
    )

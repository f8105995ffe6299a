"""Comparing two releases of an element (the files added, removed and changed, with text diffs),
a release a pull request adds with the one before it, and a hotfix branch with its line."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

from mirel.core.catalog import (
    Element,
    Release,
    artifact_at,
    get_release,
    load_element,
    releases_of,
)
from mirel.core.rules import HotfixBranch, hotfix_base, next_patch
from mirel.core.versions import Version
from mirel.errors import MirelError
from mirel.git.repository import HEADS
from mirel.git.snapshot import CommitSnapshot
from mirel.hub.catalog import Catalog
from mirel.hub.values import FileChange, ReleaseDiff
from mirel.providers.base import FileDiff, PullRequest


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
    return _diff_at(catalog, snapshot, element, Version.parse(version), against)


def _diff_at(
    catalog: Catalog,
    snapshot: CommitSnapshot,
    element: Element,
    version: Version,
    against: str | None,
) -> ReleaseDiff:
    """Return what changed from `against` (None: the release before) to `version` of an
    element, both read at `snapshot`."""
    target = get_release(snapshot, element, version)
    if against is None:
        found = releases_of(snapshot, element.kind, element.uuid)
        lower = [candidate for candidate in found if candidate < target.version]
        base = get_release(snapshot, element, max(lower)) if lower else None
    else:
        base = get_release(snapshot, element, Version.parse(against))
    old_files = catalog.artifact_files(base) if base else {}
    return _diff(element, str(target.version), base, old_files, catalog.artifact_files(target))


def _diff(
    element: Element,
    version: str,
    base: Release | None,
    old_files: Mapping[str, bytes],
    new_files: Mapping[str, bytes],
) -> ReleaseDiff:
    added, removed, changed = _file_changes(old_files, new_files)
    return ReleaseDiff(
        element_uuid=element.uuid,
        element_name=element.name,
        release_version=version,
        against=str(base.version) if base else None,
        added=tuple(added),
        removed=tuple(removed),
        changed=tuple(changed),
    )


def pull_release_diffs(
    catalog: Catalog, pull: PullRequest, files: Sequence[FileDiff]
) -> list[ReleaseDiff]:
    """Return, for each release a pull request adds (among its changed `files`), its files
    against the release before it, both read on the pull request's head (the new artifact is
    not on the default branch yet). An artifact that cannot be read is left out: the merge
    gate lists its problem."""
    head = catalog.snapshot(pull.head_sha)
    diffs: list[ReleaseDiff] = []
    for item in files:
        found = artifact_at(item.path) if item.status == "added" else None
        if found is None:
            continue
        _, uuid, version = found
        try:
            element = catalog.element(uuid, head)
            diffs.append(_diff_at(catalog, head, element, version, None))
        except MirelError:
            continue
    return diffs


def hotfix_diff(catalog: Catalog, element: Element, hotfix: HotfixBranch) -> ReleaseDiff:
    """Return what the patch release of an open hotfix would change: the element's folder on
    the hotfix branch against the newest release of its line (raise ReleaseNotFound when the
    line has none any more)."""
    main = catalog.snapshot()
    released = releases_of(main, element.kind, element.uuid)
    base = released[hotfix_base(element.name, hotfix.line, set(released))]
    on_branch = catalog.snapshot(HEADS + hotfix.branch)
    folder = load_element(on_branch, element.kind, element.name)
    new_files = on_branch.folder_files(folder.source_dir) if folder is not None else {}
    version = next_patch(hotfix.line, set(released), catalog.claimed(element))
    return _diff(element, str(version), base, catalog.artifact_files(base), new_files)

"""The rules an element's working folder keeps, so that it can be served and released.

A folder pushed with plain git may hold what no instance can serve: a symbolic link or a
submodule, a path that is not UTF-8 or holds a control character, a path too long to store, more
files or bytes than a release artifact may hold. `folder_problems` names each such file;
`mirel validate`, the merge gate and deploys all apply it, so what validates also deploys.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from mirel.core.artifact import ArtifactLimits
from mirel.core.snapshot import FolderEntry
from mirel.errors import Problem

MAX_PATH = 1024  # characters of a path inside an element (what an instance stores)
MAX_PROBLEMS = 20  # per folder: a person reads the first few

LINK_MODE = 0o120000
SUBMODULE_MODE = 0o160000


def _short(path: str) -> str:
    """Return a path short enough to read in a message: its start and its end."""
    return path if len(path) <= 200 else f"{path[:120]}…{path[-60:]}"


def _path_problem(path: str) -> str | None:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return "has a name that is not UTF-8; rename it"
    if any(unicodedata.category(char) == "Cc" for char in path):
        return "has a control character in its name; rename it"
    if len(path) > MAX_PATH:
        return f"is a path of {len(path)} characters, over {MAX_PATH}; shorten it"
    return None


def folder_problems(
    folder: str, entries: Iterable[FolderEntry], limits: ArtifactLimits
) -> list[Problem]:
    """Return the problems of the working folder `folder` whose files are `entries`."""
    problems: list[Problem] = []
    count = 0
    total = 0
    for entry in entries:
        count += 1
        if count > limits.max_entries:
            break  # a hostile folder may hold millions: counting on costs for nothing
        total += entry.size
        where = _short(f"{folder}/{entry.path}")
        if entry.mode == LINK_MODE:
            problems.append(Problem(where, "is a symbolic link; commit the file it points to"))
        elif entry.mode == SUBMODULE_MODE:
            problems.append(Problem(where, "is a submodule; commit its files instead"))
        else:
            reason = _path_problem(entry.path)
            if reason is not None:
                problems.append(Problem(where, reason))
        if len(problems) >= MAX_PROBLEMS:
            break
    if count > limits.max_entries:
        problems.append(
            Problem(folder, f"holds more than the {limits.max_entries} files a release holds")
        )
    if total > limits.max_total_bytes:
        problems.append(
            Problem(
                folder,
                f"holds {total:,} bytes, over the {limits.max_total_bytes:,} a release holds; "
                "make the element smaller",
            )
        )
    return problems

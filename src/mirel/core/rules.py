"""The release rules of SPEC.md §3: forward-only regular releases, hotfix lines, deletions."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping, Set
from dataclasses import dataclass

from mirel.core.kinds import KINDS, ElementKind
from mirel.core.manifest import Manifest
from mirel.core.names import is_valid_uuid
from mirel.core.versions import Bump, Line, Version, next_version
from mirel.errors import InvalidInput, Problem, ReleaseExists, ReleaseNotFound, ReleasePinned

BRANCH_PREFIX = "mirel/"


# -- branch names ------------------------------------------------------------------------------
# Release and hotfix branches are named after the uuid and version, so creating the branch is
# itself the atomic claim on that version or line: a second writer finds the name taken.


def release_branch(kind: ElementKind, uuid: str, version: Version) -> str:
    """Return the branch that carries the pull request of one release."""
    return f"{BRANCH_PREFIX}release/{kind.name}/{uuid}/{version}"


def release_branch_prefix(kind: ElementKind, uuid: str) -> str:
    """Return the prefix shared by every release branch of one element."""
    return f"{BRANCH_PREFIX}release/{kind.name}/{uuid}/"


def hotfix_branch(kind: ElementKind, uuid: str, line: Line) -> str:
    """Return the hotfix branch of one element and `X.Y` line."""
    return f"{BRANCH_PREFIX}hotfix/{kind.name}/{uuid}/{line}"


HOTFIX_PREFIX = f"{BRANCH_PREFIX}hotfix/"
_HOTFIX = re.compile(r"mirel/hotfix/([a-z]+)/([0-9a-f-]{36})/(\d+\.\d+)")


@dataclass(frozen=True)
class HotfixBranch:
    """An open hotfix branch, decoded from its name."""

    branch: str
    kind: ElementKind
    uuid: str
    line: Line


def parse_hotfix_branch(branch: str) -> HotfixBranch | None:
    """Return what a hotfix branch name says, or None when it is not one."""
    match = _HOTFIX.fullmatch(branch)
    if match is None or not is_valid_uuid(match[2]):
        return None
    try:
        return HotfixBranch(branch, KINDS.get(match[1]), match[2], Line.parse(match[3]))
    except InvalidInput:
        return None


def claimed_versions(release_branches: Set[str], kind: ElementKind, uuid: str) -> set[Version]:
    """Return the versions claimed by open release branches of one element."""
    prefix = release_branch_prefix(kind, uuid)
    claimed: set[Version] = set()
    for branch in release_branches:
        tail = branch.removeprefix(prefix)
        if tail != branch and Version.is_valid(tail):
            claimed.add(Version.parse(tail))
    return claimed


def change_branch(topic: str, subject: str) -> str:
    """Return a fresh, unique branch name for a change request about `subject`."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", subject).strip("-")[:60] or "change"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{BRANCH_PREFIX}{topic}/{slug}/{stamp}-{secrets.token_hex(3)}"


def element_branch(kind: ElementKind, uuid: str) -> str:
    """Return the branch that puts a new element under source control."""
    return f"{BRANCH_PREFIX}element/{kind.name}/{uuid}"


def update_branch(kind: ElementKind, name: str) -> str:
    """Return a fresh branch for new content of an element's folder."""
    return change_branch(f"update/{kind.name}", name)


def manifest_branch(subject: str) -> str:
    """Return a fresh branch for a change of one manifest (`subject`), or of several."""
    return change_branch("manifest", subject)


def delete_branch(kind: ElementKind, uuid: str, version: Version) -> str:
    """Return the branch that deletes one release."""
    return f"{BRANCH_PREFIX}delete/{kind.name}/{uuid}/{version}"


# Names git reads as something else than `refs/heads/<name>`: another ref's spelling (`refs/...`,
# `heads/main`), HEAD and its `@` shorthand, a reflog selector.
_NOT_ONE_REF = re.compile(r"(refs|heads|remotes|tags)/.*|@|HEAD|.*@\{.*", re.IGNORECASE)


def check_new_branch_name(branch: str, default_branch: str) -> None:
    """Raise InvalidInput when a branch a user names is not exactly one new ref of its own: it
    would enter mirel's namespace, read as another ref, or be the default branch in other case
    (one file on a case-insensitive disk)."""
    # A branch `mirel` (or `mirel/x/...` made by hand) would block the ref folders under which
    # mirel makes every release, hotfix and manifest branch.
    if branch == "mirel" or branch.startswith(BRANCH_PREFIX):
        raise InvalidInput(
            f"branch names starting with {BRANCH_PREFIX!r} are mirel's own; choose another name"
        )
    if _NOT_ONE_REF.fullmatch(branch) or branch.lower() == default_branch.lower():
        raise InvalidInput(
            f"{branch!r} reads as another name of an existing ref ({default_branch!r} or HEAD); "
            "name the branch plainly, without refs/, heads/ or @"
        )


# -- regular releases --------------------------------------------------------------------------


def choose_regular_version(
    element_name: str,
    released: Set[Version],
    claimed: Set[Version],
    *,
    bump: Bump | None = None,
    explicit: Version | None = None,
) -> Version:
    """Return the version of a new regular release; raise ReleaseExists when it would not move on.

    A regular release must be above every release on the default branch and every version an open
    release branch claims.
    """
    taken = set(released) | set(claimed)
    if explicit is None:
        if bump is None:
            raise InvalidInput("choose --major, --minor, --patch or --version X.Y.Z")
        return next_version(taken, bump)
    highest = max(taken, default=None)
    if explicit in released:
        raise ReleaseExists(
            f"release {explicit} of {element_name} already exists; "
            f"the next minor is {next_version(taken, Bump.MINOR)} "
            f"(use a hotfix to patch the {explicit.line} line)"
        )
    if explicit in claimed:
        raise ReleaseExists(
            f"release {explicit} of {element_name} is already in an open pull request; "
            f"merge or close it, or use {next_version(taken, Bump.MINOR)}"
        )
    if highest is not None and explicit < highest:
        raise ReleaseExists(
            f"release {explicit} of {element_name} is below its highest release {highest}; "
            f"regular releases only move forward (use a hotfix to patch the {explicit.line} line)"
        )
    return explicit


def new_release_problems(
    element_name: str, kind: ElementKind, uuid: str, before: Set[Version], after: Set[Version]
) -> list[Problem]:
    """Return why releases in `after` that `before` lacks break "releases only move forward".

    A release on a line the element already has (a hotfix's patch) must be above that line's
    highest; one on a new line must be above every release. Checked again when a change merges:
    a version claimed while it was the highest may no longer be by then.
    """
    problems: list[Problem] = []
    for version in sorted(set(after) - set(before)):
        path = kind.artifact_path(uuid, str(version))
        line = [other for other in before if version.line.contains(other)]
        if line and version < max(line):
            problems.append(
                Problem(
                    path,
                    f"release {version} of {element_name} is below {max(line)}, the highest of "
                    f"its {version.line} line; a patch must come after the line's last release",
                )
            )
        elif not line and before and version < max(before):
            problems.append(
                Problem(
                    path,
                    f"release {version} of {element_name} is below its highest release "
                    f"{max(before)}; regular releases only move forward (a hotfix patches an "
                    "older line)",
                )
            )
    return problems


# -- hotfixes ----------------------------------------------------------------------------------


def hotfix_base(element_name: str, line: Line, released: Set[Version]) -> Version:
    """Return the highest release of `line`, the one a hotfix starts from."""
    on_line = [version for version in released if line.contains(version)]
    if not on_line:
        raise ReleaseNotFound(
            f"{element_name} has no release on the {line} line to hotfix",
            cli_hint="'mirel release list' shows its releases",
        )
    return max(on_line)


def next_patch(line: Line, released: Set[Version], claimed: Set[Version]) -> Version:
    """Return `X.Y.(P+1)` with P the highest patch of the line released or claimed."""
    patches = [v.patch for v in (set(released) | set(claimed)) if line.contains(v)]
    if not patches:
        return Version(line.major, line.minor, 0)
    # bump() refuses a patch number mirel could not read back.
    return Version(line.major, line.minor, max(patches)).bump(Bump.PATCH)


def previous_release(
    version: Version, released: Set[Version], claimed: Set[Version]
) -> Version | None:
    """Return the release `version` follows: the highest one below it, released or claimed.

    For a patch release that is the newest release of its line; for a regular one, the release
    it bumps. Claimed versions count, so that releasing twice in a row compares with the first.
    """
    below = [candidate for candidate in set(released) | set(claimed) if candidate < version]
    return max(below, default=None)


# -- deletions ---------------------------------------------------------------------------------


def manifests_pinning(manifests: Mapping[str, Manifest], uuid: str, version: Version) -> list[str]:
    """Return the names of the manifests that pin exactly `version` of an element."""
    pinning: list[str] = []
    for name, manifest in sorted(manifests.items()):
        found = manifest.find(uuid)
        if found is not None and found[1].release == str(version):
            pinning.append(name)
    return pinning


def check_deletable(
    element_name: str, uuid: str, version: Version, manifests: Mapping[str, Manifest]
) -> None:
    """Raise ReleasePinned naming the manifests that pin exactly that release, if any."""
    pinning = manifests_pinning(manifests, uuid, version)
    if pinning:
        several = len(pinning) > 1
        subject = (
            f"manifests {', '.join(pinning)} pin" if several else f"manifest {pinning[0]} pins"
        )
        raise ReleasePinned(
            f"{subject} {element_name} {version}; unpin it before deleting the release"
        )

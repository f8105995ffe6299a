"""Reading the shared repository: its elements, releases, manifests and hotfixes, through caches.

Every question about what the repository holds goes through `Catalog`. It reads the default branch
(or any commit) through the core's catalog functions, which touch only the folders a question
needs, and keeps what never changes for a git object id: an element folder's metadata by its tree,
a manifest's parse by its blob, a release.json by its artifact's blob.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from mirel.core.artifact import (
    NOT_A_FILE,
    ArtifactLimits,
    ReleaseInfo,
    check_artifact,
    read_artifact,
)
from mirel.core.catalog import (
    Element,
    ElementListing,
    ManifestCache,
    MetadataCache,
    Release,
    find_element,
    list_elements,
    list_manifest_names,
    load_manifest,
    load_manifests,
    releases_of,
)
from mirel.core.folders import folder_problems
from mirel.core.kinds import KINDS
from mirel.core.manifest import Manifest
from mirel.core.rules import (
    HOTFIX_PREFIX,
    HotfixBranch,
    choose_regular_version,
    claimed_versions,
    hotfix_branch,
    next_patch,
    parse_hotfix_branch,
    release_branch_prefix,
)
from mirel.core.versions import Bump, Line, Version
from mirel.errors import ArtifactInvalid, BlobTooLarge, HotfixNotFound, Problem
from mirel.git.repository import CommitInfo, GitRepository
from mirel.git.snapshot import CommitSnapshot, folder_entries
from mirel.hub.release_folders import ReleaseFolders
from mirel.providers.base import Provider

# The answers' values, validation and the connection check are imported by the questions that
# use them: listing elements (`mirel element list`) needs none of them.
if TYPE_CHECKING:
    from mirel.hub.values import ConnectionCheck, HotfixView, ReleaseView

log = logging.getLogger(__name__)

# Commits looked at per page of an element's history, so a page costs the same however long the
# repository's history is.
HISTORY_SCAN = 2000
_LISTINGS_KEPT = 8

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """Report no progress (the default of every `Progress`)."""
    return None


class Catalog:
    """What the repository holds, read from the default branch unless a commit is given."""

    def __init__(self, repository: GitRepository, provider: Provider, limits: ArtifactLimits):
        self.repo = repository
        self.provider = provider
        self.limits = limits
        self._metadata = MetadataCache()
        self._manifests = ManifestCache()
        self.release_folders = ReleaseFolders(repository)
        self._listings: dict[tuple[str, ...], ElementListing] = {}
        # An artifact never changes for a given blob, so what checking it found is kept by blob
        # id: its release.json, or (as text: an exception would keep the artifact's bytes alive
        # through its traceback) why it cannot be read.
        self._release_infos: dict[str, ReleaseInfo | str] = {}
        self._folders: dict[str, tuple[Problem, ...]] = {}  # by folder path and tree id
        self._checking = threading.Lock()

    # -- commits -----------------------------------------------------------------------------

    @property
    def default_branch(self) -> str:
        """Return the name of the default branch."""
        return self.repo.default_branch

    def head(self) -> str:
        """Return the tip of the default branch."""
        return self.repo.require_branch(self.default_branch)

    def snapshot(self, revision: str | None = None) -> CommitSnapshot:
        """Return the files of a commit (the default branch's tip when not given)."""
        sha = self.head() if revision is None else self.repo.resolve(revision)
        return CommitSnapshot(self.repo, sha)

    # -- elements ----------------------------------------------------------------------------

    def listing(self, snapshot: CommitSnapshot | None = None) -> ElementListing:
        """Return every element on the default branch and every folder that is not a valid
        element (see BrokenFolder), each sorted by kind and name.

        The listing is kept by the tree ids of the kinds' folders (a commit that changes only
        manifests or releases lists nothing again) and shared: callers must not change it.
        """
        snapshot = snapshot or self.snapshot()
        roots = tuple(
            entry.oid if (entry := snapshot.entry(kind.source_root)) is not None else "-"
            for kind in KINDS
        )
        found = self._listings.get(roots)
        if found is None:
            found = list_elements(snapshot, self._metadata)
            found.elements.sort(key=lambda element: (element.kind.name, element.name))
            found.broken.sort(key=lambda folder: (folder.kind.name, folder.name))
            if len(self._listings) >= _LISTINGS_KEPT:
                self._listings.clear()
            self._listings[roots] = found
        return found

    def elements(self, snapshot: CommitSnapshot | None = None) -> list[Element]:
        """Return every element on the default branch, sorted by kind and name."""
        return self.listing(snapshot).elements

    def folder_problems(self, element: Element) -> tuple[Problem, ...]:
        """Return what keeps an element's working folder from being released or served (links,
        submodules, names that are not UTF-8, its size), read once per version of the folder:
        its own tree is walked, so the answer is that version's whatever the branch does."""
        key = f"{element.source_dir}@{element.tree_oid}"
        found = self._folders.get(key)
        if found is None:
            entries = folder_entries(self.repo, element.tree_oid)
            found = tuple(folder_problems(element.source_dir, entries, self.limits))
            self._folders[key] = found
        return found

    def elements_by_uuid(self, snapshot: CommitSnapshot | None = None) -> dict[str, Element]:
        """Return the default branch's elements by uuid."""
        return {element.uuid: element for element in self.elements(snapshot)}

    def element(self, reference: str, snapshot: CommitSnapshot | None = None) -> Element:
        """Return the element named by name, `kind/name` or uuid on the default branch."""
        return find_element(snapshot or self.snapshot(), reference, self._metadata)

    def element_history(
        self, element: Element, start: str | None = None, limit: int = 20
    ) -> tuple[list[CommitInfo], str | None]:
        """Return a page of the default branch's commits that changed an element's source or
        releases, and where the next page starts (None: no more).

        At most `HISTORY_SCAN` commits are looked at per page; a page may then hold fewer
        commits but still point further back.
        """
        return self.repo.history_page(
            start or self.head(),
            [element.source_dir, element.kind.release_dir(element.uuid)],
            limit,
            scan=HISTORY_SCAN,
        )

    # -- releases ----------------------------------------------------------------------------

    def release_info(self, path: str, blob_oid: str) -> ReleaseInfo:
        """Return the release.json of an artifact once the whole artifact was checked (every
        limit, every entry's CRC, its files against `files_sha256`); raise ArtifactInvalid.

        Each blob is read once per process: artifacts are content-addressed and never change,
        so a listing pays for an artifact the first time it shows it, and a release.json that
        lies about its files is listed as broken instead of as valid until a deploy reads it.
        """
        found = self._release_infos.get(blob_oid)
        if found is None:
            # One cold check at a time: each holds an artifact and its largest file, and a
            # listing's requests run in many threads.
            with self._checking:
                found = self._release_infos.get(blob_oid)
                if found is None:
                    found = self._checked(path, blob_oid)
                    self._release_infos[blob_oid] = found
        if isinstance(found, str):
            raise ArtifactInvalid(path, found)  # the same blob may lie at several paths
        return found

    def _checked(self, path: str, blob_oid: str) -> ReleaseInfo | str:
        try:
            return check_artifact(self._artifact_bytes(path, blob_oid), path, self.limits)
        except ArtifactInvalid as error:
            return error.reason

    def artifact_files(self, release: Release) -> Mapping[str, bytes]:
        """Return the files of a release, checked against every limit and its digest."""
        data = self._artifact_bytes(release.path, release.blob_oid)
        return read_artifact(data, release.path, self.limits).files

    def _artifact_bytes(self, path: str, blob_oid: str) -> bytes:
        """Return an artifact's bytes; one too large to be a release is refused unread."""
        try:
            return self.repo.read_blob(blob_oid, self.limits.max_artifact_file_bytes)
        except BlobTooLarge as error:
            raise ArtifactInvalid(path, error.message) from error
        except LookupError as error:
            # A submodule entry names a commit this repository does not hold.
            raise ArtifactInvalid(path, NOT_A_FILE) from error

    def releases(self, reference: str) -> list[ReleaseView]:
        """Return the releases of one element on the default branch, newest first, each with
        the manifests that serve it (by the resolution deploys use) and those pinning it."""
        from mirel.core.resolve import resolve_pin
        from mirel.hub.values import ReleaseView

        snapshot = self.snapshot()
        element = self.element(reference, snapshot)
        found = releases_of(snapshot, element.kind, element.uuid)
        manifests, _ = self.manifests_at(snapshot)
        serving: dict[Version, list[str]] = {}
        exact: dict[str, list[str]] = {}
        for name, manifest in sorted(manifests.items()):
            pin = manifest.find(element.uuid)
            if pin is None:
                continue
            exact.setdefault(pin[1].release, []).append(name)
            try:
                served = resolve_pin(pin[1].release, found)
            except KeyError:
                continue  # pins a missing release: validate and deploys report it
            if served is not None:
                serving.setdefault(served.version, []).append(name)
        views: list[ReleaseView] = []
        for version in sorted(found, reverse=True):
            release = found[version]
            info, problem = self._listed_info(element, release)
            views.append(
                ReleaseView(
                    element=element,
                    version=version,
                    info=info,
                    path=release.path,
                    blob_oid=release.blob_oid,
                    published_in=tuple(serving.get(version, [])),
                    pinned_by=tuple(exact.get(str(version), [])),
                    problem=problem,
                )
            )
        return views

    def _listed_info(self, element: Element, release: Release) -> tuple[ReleaseInfo, str | None]:
        """Return a release's release.json and what is wrong with it: one corrupt or lying
        artifact is listed as broken, and the element's other releases read as usual."""
        try:
            info = self.release_info(release.path, release.blob_oid)
        except ArtifactInvalid as error:
            blank = ReleaseInfo(
                kind=element.kind.name,
                uuid=element.uuid,
                name=element.name,
                version=str(release.version),
                description="",
                created_at="",
                created_by="",
                source_commit="",
                files_sha256="",
            )
            return blank, error.reason
        said = (info.kind, info.uuid, info.version)
        if said != (element.kind.name, element.uuid, str(release.version)):
            return info, (
                f"its release.json says {info.kind} {info.uuid} {info.version}, not what its "
                "path says; no instance will deploy it"
            )
        return info, None

    def claimed(self, element: Element) -> set[Version]:
        """Return the versions of an element that open release branches claim."""
        branches = self.repo.branches_under(release_branch_prefix(element.kind, element.uuid))
        return claimed_versions(set(branches), element.kind, element.uuid)

    def next_versions(self, reference: str) -> dict[str, str]:
        """Return the version a new major, minor and patch release of an element would get."""
        snapshot = self.snapshot()
        element = self.element(reference, snapshot)
        released = set(releases_of(snapshot, element.kind, element.uuid))
        claimed = self.claimed(element)
        return {
            str(bump): str(choose_regular_version(element.name, released, claimed, bump=bump))
            for bump in Bump
        }

    # -- manifests ---------------------------------------------------------------------------

    def manifest_names(self) -> list[str]:
        """Return the names of the manifests on the default branch."""
        return list_manifest_names(self.snapshot())

    def manifest(self, name: str, snapshot: CommitSnapshot | None = None) -> Manifest:
        """Return one manifest from the default branch; raise ManifestNotFound or
        ManifestInvalid."""
        return load_manifest(snapshot or self.snapshot(), name, self._manifests)

    def manifests_at(self, snapshot: CommitSnapshot) -> tuple[dict[str, Manifest], list[Problem]]:
        """Return every valid manifest of a commit by name, and the problems of the others."""
        return load_manifests(snapshot, self._manifests)

    # -- hotfixes ----------------------------------------------------------------------------

    def hotfixes(self) -> list[HotfixView]:
        """Return the open hotfix branches with their element and line."""
        by_uuid = self.elements_by_uuid()
        found: list[HotfixView] = []
        for branch, sha in sorted(self.repo.branches_under(HOTFIX_PREFIX).items()):
            hotfix = parse_hotfix_branch(branch)
            if hotfix is not None:
                found.append(self.hotfix_view(hotfix, sha, by_uuid.get(hotfix.uuid)))
        return found

    def element_hotfixes(self, element: Element) -> list[HotfixView]:
        """Return the open hotfix branches of one element, by line."""
        prefix = f"{HOTFIX_PREFIX}{element.kind.name}/{element.uuid}/"
        found: list[HotfixView] = []
        for branch, sha in self.repo.branches_under(prefix).items():
            hotfix = parse_hotfix_branch(branch)
            if hotfix is not None:
                found.append(self.hotfix_view(hotfix, sha, element))
        return sorted(found, key=lambda item: Line.parse(item.line))

    def hotfix_view(self, hotfix: HotfixBranch, sha: str, element: Element | None) -> HotfixView:
        """Return how an open hotfix branch at `sha` of `element` (None: no longer on the
        default branch) is shown."""
        from mirel.hub.values import HotfixView

        return HotfixView(
            branch_name=hotfix.branch,
            commit_sha=sha,
            element_uuid=hotfix.uuid,
            element_name=element.name if element else None,
            kind=hotfix.kind.name,
            line=str(hotfix.line),
            url=self.provider.branch_url(hotfix.branch),
        )

    def open_hotfix(
        self, reference: str, line_text: str, snapshot: CommitSnapshot | None = None
    ) -> tuple[Element, HotfixBranch]:
        """Return an element and its open hotfix branch of `line_text`; raise HotfixNotFound."""
        element = self.element(reference, snapshot)
        line = Line.parse(line_text)
        branch = hotfix_branch(element.kind, element.uuid, line)
        if self.repo.branch_sha(branch) is None:
            raise HotfixNotFound(
                f"{element.name} has no open hotfix for {line}; start one from a release of "
                "that line first",
                cli_hint=f"'mirel hotfix create {element.name} {line}.0'",
            )
        return element, HotfixBranch(branch, element.kind, element.uuid, line)

    def hotfix_commits(self, sha: str, limit: int = 100) -> list[CommitInfo]:
        """Return the commits of a hotfix branch at `sha` after the one that started it, newest
        first (at most `limit`): what closing the branch would drop."""
        start = self.repo.merge_base(sha, self.head())
        commits, _ = self.repo.history_page(sha, [], limit=limit + 1)
        on_branch: list[CommitInfo] = []
        for commit in commits:
            if commit.sha == start:
                return on_branch[:-1]  # the last one before the fork started the branch
            on_branch.append(commit)
        return on_branch[:limit]

    def next_hotfix_version(self, reference: str, line_text: str) -> str:
        """Return the version the patch release of an open hotfix would get now."""
        snapshot = self.snapshot()
        element, hotfix = self.open_hotfix(reference, line_text, snapshot)
        released = set(releases_of(snapshot, element.kind, element.uuid))
        return str(next_patch(hotfix.line, released, self.claimed(element)))

    # -- checks ------------------------------------------------------------------------------

    def check_connection(self) -> ConnectionCheck:
        """Return whether the repository can be read and written and the host's API answers
        (hub.connection_check), with the default branch and its head, or what fails."""
        from mirel.hub.connection_check import check_connection

        return check_connection(self.repo, self.provider)

    def change_problems(
        self, base: CommitSnapshot, result: CommitSnapshot, since: CommitSnapshot | None = None
    ) -> list[Problem]:
        """Return the problems `result` would bring to the default branch at `base`: those
        `mirel validate` would find there and `base` has not, releases that do not move forward
        from `since` (where the change was proposed), and a change that is no change."""
        if result.tree_oid == base.tree_oid:
            return [
                Problem(
                    "",
                    "the default branch already holds this change (another pull request made "
                    "it); close this one",
                )
            ]
        from mirel.core.validation import validate_change

        return validate_change(
            base, result, self.limits, self._metadata, self._manifests, since=since
        )

    def validate(self, revision: str | None = None, progress: Progress = quiet) -> list[Problem]:
        """Return every problem of the repository at a commit."""
        from mirel.core.validation import validate_snapshot

        return validate_snapshot(self.snapshot(revision), self.limits, progress)

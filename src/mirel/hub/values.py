"""What the hub answers: typed values that the API, the pages and the CLI show.

Each is a frozen dataclass; the REST API's models read them by attribute (`from_attributes`), so a
field renamed here without its model fails loudly instead of drifting. Properties named like the
compatible API's fields (`release_version`, ...) are how the wire format is spelled; the
dataclass fields keep mirel's own names.
"""

from __future__ import annotations

from dataclasses import dataclass

from mirel.core.artifact import ReleaseInfo
from mirel.core.catalog import Element
from mirel.core.versions import Version
from mirel.providers.base import InstanceReport, PullRequest


@dataclass(frozen=True)
class ChangeRequest:
    """What every write answers: the branch it made, its commit, and the pull request."""

    commit_sha: str
    url: str
    branch_name: str
    pull_request: PullRequest | None


@dataclass(frozen=True)
class ReleaseView:
    """One release with the metadata read from its artifact."""

    element: Element
    version: Version
    info: ReleaseInfo
    path: str
    blob_oid: str
    published_in: tuple[str, ...]  # manifests on the default branch that serve this release
    pinned_by: tuple[str, ...] = ()  # manifests that pin exactly this version (it cannot go)

    @property
    def release_version(self) -> str:
        """Return the version as the compatible API names it."""
        return str(self.version)

    @property
    def release_description(self) -> str:
        """Return the description written when the release was made."""
        return self.info.description

    @property
    def created_at(self) -> str:
        """Return when the release was made (RFC 3339, UTC)."""
        return self.info.created_at

    @property
    def created_by(self) -> str:
        """Return who made the release."""
        return self.info.created_by

    @property
    def source_commit(self) -> str:
        """Return the commit the release's files were taken from."""
        return self.info.source_commit

    @property
    def element_uuid(self) -> str:
        """Return the released element's uuid."""
        return self.element.uuid

    @property
    def element_name(self) -> str:
        """Return the released element's name."""
        return self.element.name

    @property
    def element_type(self) -> str:
        """Return the element's type as the compatible API names it (PAGE, WORKFLOW)."""
        return self.element.kind.api_type

    @property
    def artifact_path(self) -> str:
        """Return the artifact's repository path."""
        return self.path

    @property
    def blob_sha(self) -> str:
        """Return the artifact's git blob id."""
        return self.blob_oid


@dataclass(frozen=True)
class HotfixView:
    """An open hotfix branch: its element and line."""

    branch_name: str
    commit_sha: str
    element_uuid: str
    element_name: str | None  # None when the element is no longer on the default branch
    kind: str
    line: str
    url: str


@dataclass(frozen=True)
class HotfixClosed:
    """A hotfix branch that was removed."""

    branch_name: str
    commit_sha: str | None
    element_uuid: str
    line: str
    closed: bool = True


@dataclass(frozen=True)
class CellDeploy:
    """What one instance publishing a manifest serves of an element, against the pin."""

    instance: str
    serves: str | None  # "X.Y.Z", "working", or None when it serves nothing of the element
    current: bool  # whether it serves what the pin resolves to on the default branch
    status: str  # its last deployment's status


@dataclass(frozen=True)
class MatrixCell:
    """One element in one manifest: its pin, what it resolves to, and whether it is behind."""

    release: str | None  # the pin; None when the manifest does not list the element
    resolved: str | None  # the release the pin selects; None for the working version
    status: str  # ok, behind, missing (pins a release that is not there), not_in_manifest
    deploys: tuple[CellDeploy, ...] = ()


@dataclass(frozen=True)
class MatrixRow:
    """One element against every manifest."""

    uuid: str
    kind: str
    element_type: str
    name: str
    releases: tuple[str, ...]  # newest first
    latest: str | None
    pins: dict[str, MatrixCell]  # by manifest name


@dataclass(frozen=True)
class Matrix:
    """A page of elements against every manifest, with the instances that reported."""

    commit_sha: str
    manifests: tuple[str, ...]
    elements: tuple[MatrixRow, ...]
    total: int  # how many elements match, across every page
    offset: int
    instances: tuple[InstanceReport, ...]
    problems: tuple[str, ...]


@dataclass(frozen=True)
class FileChange:
    """One file that differs between two releases, with its unified diff."""

    path: str
    diff: str


@dataclass(frozen=True)
class ReleaseDiff:
    """The files added, removed and changed from one release (`against`) to another."""

    element_uuid: str
    element_name: str
    release_version: str
    against: str | None  # None: compared with an empty folder (the first release)
    added: tuple[FileChange, ...]
    removed: tuple[FileChange, ...]
    changed: tuple[FileChange, ...]


@dataclass(frozen=True)
class ConnectionCheck:
    """Whether the repository can be read: its default branch and head, or why not."""

    connected: bool
    message: str
    default_branch: str | None
    commit_sha: str | None

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
from mirel.errors import Problem
from mirel.providers.base import FileDiff, InstanceReport, PullRequest


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
    # What makes the artifact unusable (unreadable, or its release.json lies); None: none found.
    # Listing reads release.json only: a wrong digest is found by validate and deploys.
    problem: str | None = None

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
    # What keeps its working folder from being released or served (a link, a submodule...).
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class BrokenElement:
    """A folder of apps/ or workflows/ that is not a valid element, listed with its problems
    beside the elements (it has no uuid to list it by: its metadata.json is what is wrong)."""

    kind: str
    name: str
    path: str
    problems: tuple[str, ...]


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
    broken: tuple[BrokenElement, ...] = ()  # every match, on every page


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

    @property
    def success(self) -> bool:
        """The seed API's `data.success`: the same as `connected`."""
        return self.connected


@dataclass(frozen=True)
class ProposedPin:
    """A pin an open pull request sets (or removes) in one manifest."""

    manifest: str
    element_uuid: str
    release: str | None  # the pin it proposes; None: it takes the element out of the manifest


@dataclass(frozen=True)
class ProposedRelease:
    """A release an open pull request adds."""

    kind: str
    element_uuid: str
    version: str


@dataclass(frozen=True)
class Proposal:
    """What one open pull request proposes to manifests and releases, against where it left the
    default branch."""

    pull: PullRequest
    pins: tuple[ProposedPin, ...]
    manifests_created: tuple[str, ...]
    manifests_deleted: tuple[str, ...]
    releases: tuple[ProposedRelease, ...]


@dataclass(frozen=True)
class PlannedChange:
    """What one element would change on one instance: what it serves now and would serve.

    A release is "X.Y.Z" or "working" (the working version); None means not served.
    """

    element_uuid: str
    kind: str
    name: str
    from_: str | None
    to: str | None
    pin: str | None  # the manifest's pin behind `to` (`latest`, `~1.2`, X.Y.Z); None: not listed


@dataclass(frozen=True)
class InstancePlan:
    """What one instance would change at its next deploy, from what it last reported serving."""

    instance: str
    url: str | None
    commit_sha: str | None  # the commit it serves now
    changes: tuple[PlannedChange, ...]
    errors: tuple[str, ...]  # what would make its deploy fail (then nothing changes)


@dataclass(frozen=True)
class ManifestPlan:
    """One manifest and what each instance publishing it would change."""

    manifest: str | None  # None: instances that publish no manifest (every working version)
    edited: bool  # whether the change edits this manifest's file
    instances: tuple[InstancePlan, ...]  # empty when no instance publishes it


@dataclass(frozen=True)
class DeployPlan:
    """What a change would do on each instance if it were on the default branch now."""

    commit_sha: str  # the default branch's tip the change is applied to
    manifests: tuple[ManifestPlan, ...]


@dataclass(frozen=True)
class PullReview:
    """One pull request with what a person needs to decide on it."""

    pull: PullRequest
    diff: tuple[FileDiff, ...]
    problems: tuple[Problem, ...]  # what the merge gate would refuse if it were merged now
    plan: DeployPlan | None  # None when it is not open, or conflicts

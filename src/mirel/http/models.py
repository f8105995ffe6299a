"""The answers of the REST API: the envelope and the shape of every `data`, one set per resource.

They describe the wire format for every face that speaks it: the API's routes answer with them,
the CLI's `--json` prints them, and `mirel.client` reads them back. Each is built from a typed value
of the layers below by attribute (`Public.of`), never kept beside it: a field the value lacks is an
error, not a silently different answer.
"""

from __future__ import annotations

import base64
from typing import Generic, Literal, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from mirel.core.manifest import Manifest
from mirel.hub.values import PullReview

# Where the REST API lives on an instance. Here, with the wire format, rather than in envelope.py,
# so that the client reads it without importing FastAPI.
API_PREFIX = "/api/v2"

DataT = TypeVar("DataT")


PublicT = TypeVar("PublicT", bound="Public")


class Public(BaseModel):
    """A response object, read from a typed value's attributes."""

    # Extra keys are ignored so that a client reads a newer server's answers; the server builds
    # every answer from a value by attribute, where a missing field fails loudly.
    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls: type[PublicT], value: object) -> PublicT:
        """Return the answer shape of `value`, read by attribute."""
        return cls.model_validate(value, from_attributes=True)


# -- the envelope ---------------------------------------------------------------------------------


class Envelope(BaseModel, Generic[DataT]):
    """A successful answer: `{"success": true, "data": ...}`."""

    success: Literal[True] = True
    data: DataT


class ErrorEnvelope(BaseModel):
    """A failed answer: `{"success": false, "message": "..."}`."""

    success: Literal[False] = False
    message: str


# -- writes -----------------------------------------------------------------------------------


class PullRequestSummary(Public):
    """The pull request a write opened."""

    number: int
    url: str
    state: str


class ChangeRequestPublic(Public):
    """What every write answers: the branch it made, its commit, and the pull request."""

    commit_sha: str
    url: str
    branch_name: str
    pull_request: PullRequestSummary | None


# -- manifests --------------------------------------------------------------------------------


class PinPublic(Public):
    """One manifest entry."""

    uuid: str
    release: str


class ManifestPublic(Public):
    """A manifest in the API's shape: its name and its pins per kind (`apps`, `workflows`)."""

    name: str
    apps: list[PinPublic]
    workflows: list[PinPublic]

    @classmethod
    def of_manifest(cls, manifest: Manifest) -> ManifestPublic:
        """Return a manifest's answer: its name and its pins per kind."""
        return cls.model_validate(manifest.to_api())


class ManifestList(Public):
    """Every manifest on the default branch."""

    manifests: list[ManifestPublic]


class ManifestOne(Public):
    """One manifest."""

    manifest: ManifestPublic


# -- releases ---------------------------------------------------------------------------------


class ReleasePublic(Public):
    """One release, newest first in lists."""

    release_version: str
    release_description: str
    created_at: str
    created_by: str
    source_commit: str
    element_uuid: str
    element_name: str
    element_type: str
    artifact_path: str
    blob_sha: str
    published_in: list[str]
    pinned_by: list[str]
    problem: str | None = Field(
        default=None,
        description="What makes the artifact unusable (unreadable, or its release.json does "
        "not match its path); null when listing found nothing wrong.",
    )


class FileChangePublic(Public):
    """One file that differs between two releases."""

    path: str
    diff: str


class ReleaseDiffPublic(Public):
    """Files added, removed and changed between two releases, with unified diffs."""

    element_uuid: str
    element_name: str
    release_version: str
    against: str | None
    added: list[FileChangePublic]
    removed: list[FileChangePublic]
    changed: list[FileChangePublic]


# -- elements and branches --------------------------------------------------------------------


class CellDeployPublic(Public):
    """What one instance publishing the manifest serves of the element."""

    instance: str
    serves: str | None
    current: bool = Field(description="Whether it serves what the pin resolves to.")
    status: str


class MatrixCellPublic(Public):
    """One element in one manifest."""

    release: str | None = Field(description="The pin; null when the manifest omits it.")
    resolved: str | None = Field(description="The release the pin selects; null: working.")
    status: str = Field(description="ok, behind, missing or not_in_manifest.")
    deploys: list[CellDeployPublic]


class MatrixRowPublic(Public):
    """One element against every manifest."""

    uuid: str
    kind: str
    element_type: str
    name: str
    releases: list[str]
    latest: str | None
    pins: dict[str, MatrixCellPublic]
    problems: list[str] = Field(
        default_factory=list,
        description="What keeps its working folder from being released or served; "
        "empty when it can be.",
    )


class BrokenElementPublic(Public):
    """A folder of apps/ or workflows/ that is not a valid element, with its problems."""

    kind: str
    name: str
    path: str
    problems: list[str]


class InstanceSummary(Public):
    """An instance that reported what it serves (without the list itself)."""

    name: str
    url: str | None
    manifest: str | None
    commit_sha: str | None
    status: str
    reported_at: str


class MatrixPublic(Public):
    """Every element against every manifest: releases, pins, what they resolve to, drift."""

    commit_sha: str
    manifests: list[str]
    elements: list[MatrixRowPublic]
    total: int = Field(description="How many elements match, across every page.")
    offset: int
    instances: list[InstanceSummary] = Field(
        description="The instances that reported what they serve, without the list."
    )
    problems: list[str]
    broken: list[BrokenElementPublic] = Field(
        default_factory=list,
        description="Folders that are not valid elements (the query and kind apply), each "
        "with why; the other elements read as usual.",
    )


# -- hotfixes ---------------------------------------------------------------------------------


class HotfixPublic(Public):
    """An open hotfix branch."""

    branch_name: str
    commit_sha: str
    element_uuid: str
    element_name: str | None
    kind: str
    line: str
    url: str


class HotfixList(Public):
    """The open hotfix branches."""

    hotfixes: list[HotfixPublic]


class HotfixClosedPublic(Public):
    """A hotfix branch that was removed."""

    branch_name: str
    commit_sha: str | None
    element_uuid: str
    line: str
    closed: bool


# -- pull requests ----------------------------------------------------------------------------


class FileDiffPublic(Public):
    """One changed file of a pull request."""

    path: str
    status: str
    patch: str


class PullPublic(Public):
    """A pull request."""

    number: int
    title: str
    description: str
    author: str
    head_branch: str
    base_branch: str
    state: str
    created_at: str
    updated_at: str
    head_sha: str
    base_sha: str
    url: str
    merge_commit_sha: str | None
    merged_by: str | None
    closed_by: str | None
    cleanup_branches: list[str]
    conflicts: list[str]


class ProblemPublic(Public):
    """One problem: its file (empty when it is about the change as a whole), its line when
    known, and what is wrong."""

    path: str
    line: int | None
    message: str


class InstancePlanPublic(Public):
    """What one instance would change at its next deploy, from what it last reported serving;
    with `errors`, its deploy would fail and change nothing."""

    instance: str
    url: str | None
    commit_sha: str | None
    changes: list[PlannedChangePublic]
    errors: list[str]


class ManifestPlanPublic(Public):
    """One manifest (null: instances that publish none) and what each instance publishing it
    would change; `edited` says whether the change edits the manifest's file."""

    manifest: str | None
    edited: bool
    instances: list[InstancePlanPublic]


class DeployPlanPublic(Public):
    """What a change would do on each instance if it were merged into the default branch at
    `commit_sha` now."""

    commit_sha: str
    manifests: list[ManifestPlanPublic]


class PullDetail(PullPublic):
    """A pull request with the files it changes, the problems the merge gate would refuse if it
    were merged now, and its plan (null when it is not open or conflicts)."""

    diff: list[FileDiffPublic]
    problems: list[ProblemPublic]
    plan: DeployPlanPublic | None

    @classmethod
    def of_review(cls, review: PullReview) -> PullDetail:
        """Return the answer of one pull request and what is needed to decide on it (read by
        attribute)."""
        shown = PullPublic.of(review.pull).model_dump()
        return cls.model_validate(
            {
                **shown,
                "diff": [FileDiffPublic.of(item) for item in review.diff],
                "problems": [ProblemPublic.of(item) for item in review.problems],
                "plan": DeployPlanPublic.of(review.plan) if review.plan else None,
            }
        )


class PullList(Public):
    """Pull requests, newest first."""

    pulls: list[PullPublic]


# -- deploys and the instance -----------------------------------------------------------------


class ChangePublic(Public):
    """What a deploy changes for one element: the release it served before and after
    ("X.Y.Z", "working" for the working version, null for not served)."""

    element_uuid: str
    kind: str
    name: str
    from_: str | None = Field(
        validation_alias=AliasChoices("from_", "from"), serialization_alias="from"
    )
    to: str | None


class PlannedChangePublic(ChangePublic):
    """What one element would change on one instance, as a deploy's change says it (`from`:
    what it serves now, `to`: what it would serve), and `pin`: the manifest's pin behind `to`
    (`latest` resolved in `to`), null when the manifest omits the element."""

    pin: str | None


# The seed API's `triggered_by`: the user who asked for the deploy, or null.
CALLER_PATTERN = r"^user_[a-z0-9]+$"


class DeploymentPublic(Public):
    """One deploy of this instance, with the seed API's fields (`id` a uuid, `triggered_by`
    the caller or null) and mirel's (`number`, `trigger`, `manifest`, `changes`, ...)."""

    # Read from a Deployment value: `id` is its `uuid`, `number` its `id`, `triggered_by` its
    # `caller` and `trigger` its `triggered_by`; read back from an answer, each from its own key.
    id: str = Field(
        validation_alias=AliasChoices("uuid", "id"),
        description="The deployment's uuid (the seed API's id).",
        json_schema_extra={"format": "uuid"},
    )
    number: int = Field(
        validation_alias=AliasChoices("number", "id"),
        description="Its number on this instance (the pages' #12); "
        "GET /source_control/deployment/{id} takes it too.",
    )
    status: Literal["PENDING_START", "RUNNING", "SUCCESS", "ERROR"]
    commit_sha: str | None
    triggered_by: str | None = Field(
        validation_alias=AliasChoices("caller", "triggered_by"),
        description="Who asked for it, as the seed API says it: `user_token<id>` for an API "
        "token, `user_<id>` for a user of the pages; null for the poller and webhooks.",
        json_schema_extra={"pattern": CALLER_PATTERN},
    )
    trigger: str | None = Field(
        validation_alias=AliasChoices("trigger", "triggered_by"),
        description="What started it, in mirel's words: the caller's name and id "
        "(`release-bot (token 3)`), `poller` or `webhook`.",
    )
    created_at: str
    completed_at: str | None
    manifest: str | None
    changes: list[ChangePublic]
    errors: list[str]
    log: str


class DeploymentList(Public):
    """Deployments, newest first."""

    deployments: list[DeploymentPublic]


class PlanPublic(Public):
    """What a deploy of a commit would change, and what would stop it."""

    commit_sha: str
    manifest: str | None
    changes: list[ChangePublic]
    errors: list[str]
    success: bool = Field(description="Whether the deploy would go through (no errors).")
    message: str | None = Field(
        default=None, description="What would stop it, in one line; null when nothing would."
    )


class ConnectionPublic(Public):
    """Whether the repository can be reached."""

    success: bool = Field(description="The seed API's name for `connected`.")
    connected: bool
    message: str
    default_branch: str | None
    commit_sha: str | None


class InstancePublic(Public):
    """This instance: its name, the manifest it publishes, what it deployed last."""

    name: str
    manifest: str | None
    deployed_commit: str | None
    deployed_manifest: str | None
    repository: str
    default_branch: str
    last_deployment: DeploymentPublic | None


class ReleasesConfig(Public):
    """Which manifest this instance publishes (null: every element at its working version)."""

    manifest: str | None


class LiveElementPublic(Public):
    """What this instance serves for one element."""

    uuid: str
    kind: str
    name: str
    live_release: str | None
    in_manifest: bool
    pin: str | None
    source_commit: str | None
    files: list[str] = Field(description="The paths of the element's live files.")


class LiveElementList(Public):
    """What this instance serves."""

    elements: list[LiveElementPublic]


class LiveFilePublic(Public):
    """One live file: text as is, anything else base64-encoded."""

    uuid: str
    path: str
    encoding: Literal["utf-8", "base64"]
    content: str
    size: int

    @classmethod
    def of_content(cls, uuid: str, path: str, content: bytes) -> LiveFilePublic:
        """Return the answer of one file: UTF-8 text as it is, anything else in base64."""
        try:
            return cls(
                uuid=uuid, path=path, encoding="utf-8", content=content.decode(), size=len(content)
            )
        except UnicodeDecodeError:
            text = base64.b64encode(content).decode("ascii")
            return cls(uuid=uuid, path=path, encoding="base64", content=text, size=len(content))

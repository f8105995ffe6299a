"""The request bodies of the REST API, one per write.

They are strict about types (a wrong type is a 400 naming the field) but leave the rules of
mirel's own documents to the core: a manifest body is checked by `manifest_from_api`, which names
each problem as `apps[0].release`. Unknown keys are ignored, as the compatible API's clients may
send more.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mirel.api.constraints import (
    ELEMENT,
    EXACTLY_ONE_OF_BUMP_OR_VERSION,
    FOLDER_PATHS,
    KIND,
    MANIFEST,
    NAME,
    PIN_RELEASE,
    REVISION,
    VERSION,
)
from mirel.core.versions import Bump


def _check_text(value: Any) -> None:
    """Raise ValueError when `value` holds a string that cannot be stored as UTF-8."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as error:
                raise ValueError(
                    f"text holds {item[error.start]!r}, which is not a Unicode character"
                ) from None
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


class Request(BaseModel):
    """A request body: unknown keys are ignored, as the compatible API's clients may send more."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _unicode_only(cls, data: Any) -> Any:
        # JSON can spell lone surrogates ("\ud800"), which no file or commit can hold.
        _check_text(data)
        return data


class ManifestPut(Request):
    """Create or overwrite a manifest: `{"manifest": {"apps": [...], "workflows": [...]}}`."""

    manifest: dict[str, Any] = Field(
        description="The pins per kind: {'apps': [{'uuid', 'release'}], 'workflows': [...]}; "
        "a 'name' key, when given, must equal the name in the path; every pin must resolve on "
        "the default branch.",
        json_schema_extra=MANIFEST,
    )
    commit_message: str | None = None


class PinPut(Request):
    """Pin one element in one manifest."""

    release: str = Field(
        description='"latest" or a strict X.Y.Z release of the element.',
        json_schema_extra=PIN_RELEASE,
    )
    commit_message: str | None = None


class CommitMessage(Request):
    """An optional commit message for a removal."""

    commit_message: str | None = None


class PinChange(Request):
    """One pin of a batch: `release` null removes the element from the manifest."""

    manifest: str = Field(json_schema_extra=NAME)
    element_uuid: str = Field(json_schema_extra=ELEMENT)
    release: str | None = Field(json_schema_extra=PIN_RELEASE)


class PinBatch(Request):
    """Many pin changes across manifests, proposed as one branch and pull request."""

    changes: list[PinChange] = Field(min_length=1)
    commit_message: str | None = None


class ReleaseCreate(Request):
    """Create a release of the element's working version: an explicit version or a bump."""

    model_config = ConfigDict(json_schema_extra=EXACTLY_ONE_OF_BUMP_OR_VERSION)

    release_version: str | None = Field(
        default=None, description="An explicit X.Y.Z.", json_schema_extra=VERSION
    )
    bump: Bump | None = Field(default=None, description="Or: which part to increment.")
    release_description: str = ""
    commit_message: str | None = Field(
        default=None,
        description="Accepted for compatibility; the commit says 'Release <name> <version>' "
        "followed by the description.",
    )
    allow_same: bool = Field(
        default=False,
        description="Release even when the files are those of the release before it "
        "(refused with 409 otherwise).",
    )


class ElementCreate(Request):
    """Put a new element under source control."""

    kind: str = Field(
        description="app or workflow (PAGE and WORKFLOW are accepted too).",
        json_schema_extra=KIND,
    )
    name: str = Field(json_schema_extra=NAME)
    files: dict[str, str] = Field(
        description="path -> text content, relative to its folder.",
        json_schema_extra=FOLDER_PATHS,
    )


class BranchCommit(Request):
    """Commit file changes to a branch (created from `base` or the default branch if new)."""

    base: str | None = None
    message: str = Field(min_length=1)
    files: dict[str, str | None] = Field(
        min_length=1, description="repository path -> text content, or null to delete."
    )


class HotfixCreate(Request):
    """Start a hotfix branch from a release's `X.Y` line."""

    element_uuid: str = Field(json_schema_extra=ELEMENT)
    release: str = Field(
        description="A release X.Y.Z of the element; its X.Y line is patched.",
        json_schema_extra=VERSION,
    )


class HotfixRelease(Request):
    """Propose the patch release of a hotfix."""

    release_description: str = ""
    allow_same: bool = Field(
        default=False,
        description="Release even when the branch holds the files of the line's newest "
        "release (refused with 409 otherwise).",
    )


class HotfixClose(Request):
    """Close a hotfix branch (an empty body closes it whatever it holds)."""

    commit_sha: str | None = Field(
        default=None,
        max_length=64,
        description="Close it only if its tip is still this commit (409 otherwise).",
    )


class DeployParams(Request):
    """What a test deploy reads."""

    commit_sha: str = Field(min_length=1, max_length=200, json_schema_extra=REVISION)


class DeployTest(Request):
    """A test deploy: `{"deploy_params": {"commit_sha"}}`."""

    deploy_params: DeployParams


class ReleasesConfigPut(Request):
    """Choose the manifest this instance publishes."""

    manifest: str | None = Field(json_schema_extra=NAME)

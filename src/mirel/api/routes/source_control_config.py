"""The connection to the repository's host and the source control settings (compatible):
`/source_control/config` and `/source_control/settings`.

A stored configuration takes the place of the instance's MIREL_REPO and host settings at its
next start (a running instance keeps the repository it opened: its mirror, poller and answers
all hang on it); `test_connection` checks the configuration in use.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from mirel.api.auth import READ, WRITE, require
from mirel.api.deps import InstanceDep
from mirel.errors import Conflict, NotFound
from mirel.http.envelope import ok
from mirel.http.models import Envelope

router = APIRouter()

Text = Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$")]
FieldName = Annotated[str, StringConstraints(max_length=100)]
Provider = Literal["GitHub", "GitLab", "Bitbucket", "Azure Repos", "AWS CodeCommit", "Git"]


class ProviderConfig(BaseModel):
    """One provider's configuration, with the seed API's field names (docs/remote.md lists the
    fields of each provider's `config`)."""

    model_config = ConfigDict(extra="forbid")

    provider: Provider
    org: Text = ""
    repo: Text = ""
    default_branch: Text = "main"
    repo_version: Text | None = None
    config: dict[FieldName, Text | int | StrictBool] = Field(default_factory=dict, max_length=20)


class ConfigBody(BaseModel):
    """`{"config": {...}}`: the configuration to store (replacing any)."""

    model_config = ConfigDict(extra="forbid")

    config: ProviderConfig


class StoredConfig(BaseModel):
    """The stored configuration; each secret reads `********`."""

    provider: str
    org: str = ""
    repo: str = ""
    default_branch: str = "main"
    repo_version: str | None = None
    config: dict[str, Any]


class SourceControlSettings(BaseModel):
    """The seed API's source control settings."""

    model_config = ConfigDict(extra="forbid")

    auto_branch_naming_enabled: StrictBool = True
    custom_pull_request_template_enabled: StrictBool = False
    custom_pull_request_template: Text = ""
    version_control_locked: StrictBool = False
    force_uuid_mapping: StrictBool = False
    auto_cleanup_branches_enabled: StrictBool = True


class SettingsBody(BaseModel):
    """`{"settings": {...}}`: the settings (those left out return to their defaults)."""

    model_config = ConfigDict(extra="forbid")

    settings: SourceControlSettings


class Deleted(BaseModel):
    deleted: bool


@router.get(
    "/source_control/config",
    tags=["source control"],
    dependencies=[require(READ)],
    response_model=Envelope[StoredConfig],
)
def get_config(instance: InstanceDep) -> Envelope[StoredConfig]:
    """Return the stored connection to the host (404 when the instance runs on its settings)."""
    found = instance.source_control.config()
    if found is None:
        raise NotFound(
            "no source control configuration is stored: this instance uses MIREL_REPO and its "
            "host settings; PUT one here or run `mirel connect`"
        )
    return ok(StoredConfig.model_validate(found))


def _store(body: ConfigBody, instance: InstanceDep) -> Envelope[StoredConfig]:
    stored = instance.source_control.put_config(body.config.model_dump(exclude_none=True))
    return ok(StoredConfig.model_validate(stored))


@router.post(
    "/source_control/config",
    tags=["source control"],
    dependencies=[require(WRITE)],
    response_model=Envelope[StoredConfig],
)
def post_config(body: ConfigBody, instance: InstanceDep) -> Envelope[StoredConfig]:
    """Store the connection to the host (used from the instance's next start); 409 when one
    is stored already, as in the seed API (PUT replaces it)."""
    if instance.source_control.config() is not None:
        raise Conflict(
            "a source control configuration is stored already; PUT /source_control/config "
            "replaces it, DELETE removes it"
        )
    return _store(body, instance)


@router.put(
    "/source_control/config",
    tags=["source control"],
    dependencies=[require(WRITE)],
    response_model=Envelope[StoredConfig],
)
def put_config(body: ConfigBody, instance: InstanceDep) -> Envelope[StoredConfig]:
    """Replace the connection to the host (used from the instance's next start); a secret
    sent back as `********` keeps the stored one."""
    return _store(body, instance)


@router.delete(
    "/source_control/config",
    tags=["source control"],
    dependencies=[require(WRITE)],
    response_model=Envelope[Deleted],
)
def delete_config(instance: InstanceDep) -> Envelope[Deleted]:
    """Forget the stored connection: the instance's settings apply from its next start."""
    return ok(Deleted(deleted=instance.source_control.delete_config()))


@router.get(
    "/source_control/settings",
    tags=["source control"],
    dependencies=[require(READ)],
    response_model=Envelope[SourceControlSettings],
)
def get_settings(instance: InstanceDep) -> Envelope[SourceControlSettings]:
    """Return the source control settings."""
    return ok(SourceControlSettings.model_validate(instance.source_control.settings()))


@router.put(
    "/source_control/settings",
    tags=["source control"],
    dependencies=[require(WRITE)],
    response_model=Envelope[SourceControlSettings],
)
def put_settings(body: SettingsBody, instance: InstanceDep) -> Envelope[SourceControlSettings]:
    """Replace the source control settings."""
    stored = instance.source_control.put_settings(body.settings.model_dump())
    return ok(SourceControlSettings.model_validate(stored))

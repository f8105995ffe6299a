"""This instance: deploys (compatible), the manifest it publishes, and what it serves."""

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from mirel.api.auth import (
    DEPLOY,
    READ,
    RELEASES_READ,
    RELEASES_WRITE,
    TEST_DEPLOY,
    WEBHOOK,
    WRITE,
    AuthorDep,
    TokenDep,
    require,
)
from mirel.api.bodies import DeployTest, ReleasesConfigPut
from mirel.api.constraints import PRINTABLE
from mirel.api.deps import HubDep, InstanceDep
from mirel.http.envelope import ok
from mirel.http.models import (
    ChangeRequestPublic,
    ConnectionPublic,
    DeploymentList,
    DeploymentPublic,
    Envelope,
    InstancePublic,
    LiveElementList,
    LiveElementPublic,
    LiveFilePublic,
    PlanPublic,
    ReleasesConfig,
)
from mirel.instance.values import caller_trigger

router = APIRouter()
log = logging.getLogger("mirel.api")

ElementUuid = Annotated[str, Path(description="The element's uuid.", json_schema_extra=PRINTABLE)]


# -- deploys (compatible) ------------------------------------------------------------------------


@router.post(
    "/source_control/deploy",
    tags=["deploys"],
    dependencies=[require(DEPLOY)],
    response_model=Envelope[DeploymentPublic],
)
def deploy(instance: InstanceDep, token: TokenDep) -> Envelope[DeploymentPublic]:
    """Return the deployment of the default branch's head, run now."""
    trigger = caller_trigger(token.name, "token", token.id)
    return ok(DeploymentPublic.of(instance.deployer.deploy(trigger)))


# A deployment's uuid (the seed API's ids), or its number on this instance.
DEPLOYMENT_ID = (
    r"^(?:[1-9][0-9]{0,17}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12})$"
)


@router.get(
    "/source_control/deployment/{id}",
    tags=["deploys"],
    dependencies=[require(DEPLOY)],
    response_model=Envelope[DeploymentPublic],
)
def get_deployment(
    deployment_id: Annotated[
        str,
        Path(
            alias="id",
            pattern=DEPLOYMENT_ID,
            description="The deployment's uuid (its `id`), or its `number`.",
        ),
    ],
    instance: InstanceDep,
) -> Envelope[DeploymentPublic]:
    """Return one deployment."""
    key: int | str = int(deployment_id) if deployment_id.isdigit() else deployment_id
    return ok(DeploymentPublic.of(instance.deployments.get(key)))


@router.post(
    "/source_control/deployment/{id}/rollback",
    tags=["deploys"],
    dependencies=[require(RELEASES_WRITE)],
    response_model=Envelope[ChangeRequestPublic],
)
def roll_back(
    deployment_id: Annotated[
        str,
        Path(
            alias="id",
            pattern=DEPLOYMENT_ID,
            description="The deployment to go back to: its uuid (its `id`), or its `number`.",
        ),
    ],
    instance: InstanceDep,
    author: AuthorDep,
) -> Envelope[ChangeRequestPublic]:
    """Return the change request (a pull request) that restores exactly what a successful
    deployment served: its manifest's pins as the exact releases they resolved to then, so
    that no `latest` or range moves them again until someone changes them."""
    key: int | str = int(deployment_id) if deployment_id.isdigit() else deployment_id
    return ok(ChangeRequestPublic.of(instance.roll_back(key, author)))


@router.get(
    "/source_control/deployments",
    tags=["deploys"],
    dependencies=[require(DEPLOY)],
    response_model=Envelope[DeploymentList],
)
def list_deployments(
    instance: InstanceDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
) -> Envelope[DeploymentList]:
    """Return the deployments, newest first."""
    found = [DeploymentPublic.of(item) for item in instance.deployments.recent(limit)]
    return ok(DeploymentList(deployments=found))


@router.post(
    "/source_control/test_deploy",
    tags=["deploys"],
    dependencies=[require(TEST_DEPLOY)],
    response_model=Envelope[PlanPublic],
)
def test_deploy(body: DeployTest, instance: InstanceDep) -> Envelope[PlanPublic]:
    """Return what deploying a commit would change, and what would stop it; nothing changes."""
    return ok(PlanPublic.of(instance.deployer.test_deploy(body.deploy_params.commit_sha)))


@router.get(
    "/source_control/test_connection",
    tags=["deploys"],
    dependencies=[require(READ)],
    response_model=Envelope[ConnectionPublic],
)
def test_connection(hub: HubDep) -> Envelope[ConnectionPublic]:
    """Return whether the repository can be read, with its default branch and head."""
    return ok(ConnectionPublic.of(hub.catalog.check_connection()))


# -- which manifest this instance publishes ------------------------------------------------------


@router.get(
    "/source_control/releases_config",
    tags=["instance"],
    dependencies=[require(READ)],
    response_model=Envelope[ReleasesConfig],
)
def get_releases_config(instance: InstanceDep) -> Envelope[ReleasesConfig]:
    """Return the manifest this instance publishes (null: none)."""
    return ok(ReleasesConfig(manifest=instance.state.selected_manifest()))


@router.put(
    "/source_control/releases_config",
    tags=["instance"],
    dependencies=[require(WRITE)],
    response_model=Envelope[ReleasesConfig],
)
def put_releases_config(body: ReleasesConfigPut, instance: InstanceDep) -> Envelope[ReleasesConfig]:
    """Return the manifest this instance publishes from now on (its next deploy applies it)."""
    return ok(ReleasesConfig(manifest=instance.state.select_manifest(body.manifest)))


# -- what this instance serves -------------------------------------------------------------------


@router.get(
    "/instance",
    tags=["instance"],
    dependencies=[require(RELEASES_READ)],
    response_model=Envelope[InstancePublic],
)
def get_instance_info(instance: InstanceDep) -> Envelope[InstancePublic]:
    """Return this instance: its name, selected manifest, deployed commit, last deployment."""
    return ok(InstancePublic.of(instance.info()))


@router.get(
    "/elements",
    tags=["instance"],
    dependencies=[require(RELEASES_READ)],
    response_model=Envelope[LiveElementList],
)
def list_live_elements(instance: InstanceDep) -> Envelope[LiveElementList]:
    """Return every element this instance serves."""
    found = [LiveElementPublic.of(item) for item in instance.live.elements()]
    return ok(LiveElementList(elements=found))


@router.get(
    "/elements/{uuid}",
    tags=["instance"],
    dependencies=[require(RELEASES_READ)],
    response_model=Envelope[LiveElementPublic],
)
async def get_live_element(uuid: ElementUuid, instance: InstanceDep) -> Envelope[LiveElementPublic]:
    """Return what this instance serves for one element.

    A coroutine that sends only the database read to a worker thread: a sync route would pay
    a second hop for validating its answer, and the request's others (its token) are its own.
    """
    element = await run_in_threadpool(instance.live.element, uuid)
    return ok(LiveElementPublic.of(element))


@router.get(
    "/elements/{uuid}/files/{path:path}",
    tags=["instance"],
    dependencies=[require(RELEASES_READ)],
    response_model=Envelope[LiveFilePublic],
)
def get_live_file(
    uuid: ElementUuid,
    path: Annotated[
        str,
        Path(
            description="The file's path inside the element's folder.",
            json_schema_extra=PRINTABLE,
        ),
    ],
    instance: InstanceDep,
) -> Envelope[LiveFilePublic]:
    """Return one live file: text as UTF-8, anything else base64-encoded."""
    return ok(LiveFilePublic.of_content(uuid, path, instance.live.file(uuid, path)))


# -- webhooks ------------------------------------------------------------------------------------

# The hosts of the seeds' source-control settings, and any plain git remote.
WebhookProvider = Literal["local", "git", "github", "gitlab", "bitbucket", "azure", "codecommit"]


@router.post(
    "/webhooks/{provider}",
    tags=["deploys"],
    dependencies=[WEBHOOK],
    response_model=Envelope[DeploymentPublic],
)
async def webhook(
    provider: Annotated[WebhookProvider, Path(description="The provider that sends the event.")],
    instance: InstanceDep,
) -> Envelope[DeploymentPublic]:
    """Return the deployment a signed provider event started."""
    del provider  # every provider's push event means the same: deploy the default branch's head
    deployment = await run_in_threadpool(instance.deployer.deploy, "webhook")
    return ok(DeploymentPublic.of(deployment))

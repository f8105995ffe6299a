"""This instance: deploys (compatible), the manifest it publishes, and what it serves."""

import base64
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from mirel.api.auth import (
    DEPLOY,
    READ,
    RELEASES_READ,
    TEST_DEPLOY,
    WEBHOOK,
    WRITE,
    TokenDep,
    require,
)
from mirel.api.deps import HubDep, InstanceDep
from mirel.api.envelope import ok
from mirel.api.models import (
    ConnectionPublic,
    DeploymentList,
    DeploymentPublic,
    DeployTest,
    Envelope,
    LiveElementList,
    LiveElementPublic,
    LiveFile,
    PlanPublic,
    ReleasesConfig,
    ReleasesConfigPut,
)
from mirel.errors import MirelError

router = APIRouter()
log = logging.getLogger("mirel.api")

Reply = dict[str, Any]
ElementUuid = Annotated[str, Path(description="The element's uuid.")]


# -- deploys (compatible) ------------------------------------------------------------------------


@router.post(
    "/source_control/deploy",
    tags=["deploys"],
    dependencies=[require(DEPLOY)],
    response_model=Envelope[DeploymentPublic],
)
def deploy(instance: InstanceDep, token: TokenDep) -> Reply:
    """Return the deployment of the default branch's head, run now."""
    return ok(instance.deployer.deploy(token.name).to_json())


@router.get(
    "/source_control/deployment/{id}",
    tags=["deploys"],
    dependencies=[require(DEPLOY)],
    response_model=Envelope[DeploymentPublic],
)
def get_deployment(
    deployment_id: Annotated[
        int, Path(alias="id", ge=1, le=2**62, description="The deployment's id.")
    ],
    instance: InstanceDep,
) -> Reply:
    """Return one deployment."""
    return ok(instance.deployments.get(deployment_id).to_json())


@router.get(
    "/source_control/deployments",
    tags=["deploys"],
    dependencies=[require(DEPLOY)],
    response_model=Envelope[DeploymentList],
)
def list_deployments(
    instance: InstanceDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
) -> Reply:
    """Return the deployments, newest first."""
    return ok({"deployments": [item.to_json() for item in instance.deployments.recent(limit)]})


@router.post(
    "/source_control/test_deploy",
    tags=["deploys"],
    dependencies=[require(TEST_DEPLOY)],
    response_model=Envelope[PlanPublic],
)
def test_deploy(body: DeployTest, instance: InstanceDep) -> Reply:
    """Return what deploying a commit would change, and what would stop it; nothing changes."""
    return ok(instance.deployer.test_deploy(body.deploy_params.commit_sha).to_json())


@router.get(
    "/source_control/test_connection",
    tags=["deploys"],
    dependencies=[require(READ)],
    response_model=Envelope[ConnectionPublic],
)
def test_connection(hub: HubDep) -> Reply:
    """Return whether the repository can be read, with its default branch and head."""
    try:
        branch, head = hub.default_branch, hub.head()
    except Exception as error:
        # A probe: whatever the failure, the answer is "not reachable", and why.
        message = error.message if isinstance(error, MirelError) else f"{error!r}"
        log.warning("test_connection: %s cannot be read: %s", hub.repo.path, message)
        return ok(
            {
                "connected": False,
                "message": f"cannot read the repository at {hub.repo.path}: {message}",
                "default_branch": None,
                "commit_sha": None,
            }
        )
    return ok(
        {
            "connected": True,
            "message": f"connected to {hub.repo.path}",
            "default_branch": branch,
            "commit_sha": head,
        }
    )


# -- which manifest this instance publishes ------------------------------------------------------


@router.get(
    "/source_control/releases_config",
    tags=["instance"],
    dependencies=[require(READ)],
    response_model=Envelope[ReleasesConfig],
)
def get_releases_config(instance: InstanceDep) -> Reply:
    """Return the manifest this instance publishes (null: none)."""
    return ok({"manifest": instance.state.selected_manifest()})


@router.put(
    "/source_control/releases_config",
    tags=["instance"],
    dependencies=[require(WRITE)],
    response_model=Envelope[ReleasesConfig],
)
def put_releases_config(body: ReleasesConfigPut, instance: InstanceDep) -> Reply:
    """Return the manifest this instance publishes from now on (its next deploy applies it)."""
    return ok({"manifest": instance.state.select_manifest(body.manifest)})


# -- what this instance serves -------------------------------------------------------------------


@router.get(
    "/instance",
    tags=["instance"],
    dependencies=[require(RELEASES_READ)],
    response_model=Envelope[dict[str, Any]],
)
def get_instance_info(instance: InstanceDep) -> Reply:
    """Return this instance: its name, selected manifest, deployed commit, last deployment."""
    return ok(instance.info().to_json())


@router.get(
    "/elements",
    tags=["instance"],
    dependencies=[require(RELEASES_READ)],
    response_model=Envelope[LiveElementList],
)
def list_live_elements(instance: InstanceDep) -> Reply:
    """Return every element this instance serves."""
    return ok({"elements": [element.to_json() for element in instance.live.elements()]})


@router.get(
    "/elements/{uuid}",
    tags=["instance"],
    dependencies=[require(RELEASES_READ)],
    response_model=Envelope[LiveElementPublic],
)
def get_live_element(uuid: ElementUuid, instance: InstanceDep) -> Reply:
    """Return what this instance serves for one element."""
    return ok(instance.live.element(uuid).to_json())


@router.get(
    "/elements/{uuid}/files/{path:path}",
    tags=["instance"],
    dependencies=[require(RELEASES_READ)],
    response_model=Envelope[LiveFile],
)
def get_live_file(
    uuid: ElementUuid,
    path: Annotated[str, Path(description="The file's path inside the element's folder.")],
    instance: InstanceDep,
) -> Reply:
    """Return one live file: text as UTF-8, anything else base64-encoded."""
    content = instance.live.file(uuid, path)
    try:
        text, encoding = content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(content).decode("ascii"), "base64"
    return ok(
        {"uuid": uuid, "path": path, "encoding": encoding, "content": text, "size": len(content)}
    )


# -- webhooks ------------------------------------------------------------------------------------


@router.post(
    "/webhooks/{provider}",
    tags=["deploys"],
    dependencies=[WEBHOOK],
    response_model=Envelope[DeploymentPublic],
)
async def webhook(
    provider: Annotated[str, Path(description="The provider that sends: local, github, ...")],
    instance: InstanceDep,
) -> Reply:
    """Return the deployment a signed provider event started."""
    del provider  # every provider's push event means the same: deploy the default branch's head
    deployment = await run_in_threadpool(instance.deployer.deploy, "webhook")
    return ok(deployment.to_json())

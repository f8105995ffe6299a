"""Releases: list and create (compatible, with deprecated app aliases), delete, compare."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from mirel.api.auth import RELEASES_READ, RELEASES_WRITE, AuthorDep, require
from mirel.api.bodies import ReleaseCreate
from mirel.api.constraints import VERSION
from mirel.api.deps import DEPRECATED, AppDep, ElementDep, HubDep
from mirel.core.catalog import Element
from mirel.git.repository import Author
from mirel.http.envelope import ok
from mirel.http.models import ChangeRequestPublic, Envelope, ReleaseDiffPublic, ReleasePublic
from mirel.hub import Hub
from mirel.hub.compare import release_diff

router = APIRouter(prefix="/source_control/releases", tags=["releases"])

Version = Annotated[str, Path(description="A release version X.Y.Z.", json_schema_extra=VERSION)]


def _releases(hub: Hub, element: Element) -> Envelope[list[ReleasePublic]]:
    return ok([ReleasePublic.of(view) for view in hub.catalog.releases(element.uuid)])


def _create(
    hub: Hub, element: Element, body: ReleaseCreate, author: Author
) -> Envelope[ChangeRequestPublic]:
    change = hub.releases.create(
        element.uuid,
        author,
        bump=body.bump,
        version=body.release_version,
        description=body.release_description,
        message=body.commit_message,
        allow_same=body.allow_same,
    )
    return ok(ChangeRequestPublic.of(change))


@router.get(
    "/apps/{appUuid}",
    dependencies=[require(RELEASES_READ), DEPRECATED],
    response_model=Envelope[list[ReleasePublic]],
    deprecated=True,
)
def list_app_releases(app: AppDep, hub: HubDep) -> Envelope[list[ReleasePublic]]:
    """Return an app's releases, newest first (deprecated: use GET /{elementUuid})."""
    return _releases(hub, app)


@router.post(
    "/apps/{appUuid}",
    dependencies=[require(RELEASES_WRITE), DEPRECATED],
    response_model=Envelope[ChangeRequestPublic],
    deprecated=True,
)
def create_app_release(
    app: AppDep, body: ReleaseCreate, hub: HubDep, author: AuthorDep
) -> Envelope[ChangeRequestPublic]:
    """Return the change request of an app's new release (deprecated: use the element path)."""
    return _create(hub, app, body, author)


@router.get(
    "/{elementUuid}",
    dependencies=[require(RELEASES_READ)],
    response_model=Envelope[list[ReleasePublic]],
)
def list_releases(element: ElementDep, hub: HubDep) -> Envelope[list[ReleasePublic]]:
    """Return an element's releases on the default branch, newest first."""
    return _releases(hub, element)


@router.post(
    "/{elementUuid}",
    dependencies=[require(RELEASES_WRITE)],
    response_model=Envelope[ChangeRequestPublic],
)
def create_release(
    element: ElementDep, body: ReleaseCreate, hub: HubDep, author: AuthorDep
) -> Envelope[ChangeRequestPublic]:
    """Return the change request of a release of the element's working version."""
    return _create(hub, element, body, author)


@router.post(
    "/{elementUuid}/{version}/delete",
    dependencies=[require(RELEASES_WRITE)],
    response_model=Envelope[ChangeRequestPublic],
)
def delete_release(
    element: ElementDep, version: Version, hub: HubDep, author: AuthorDep
) -> Envelope[ChangeRequestPublic]:
    """Return the change request removing a release; refused while a manifest pins it."""
    change = hub.releases.delete(element.uuid, version, author)
    return ok(ChangeRequestPublic.of(change))


@router.get(
    "/{elementUuid}/{version}/diff",
    dependencies=[require(RELEASES_READ)],
    response_model=Envelope[ReleaseDiffPublic],
)
def diff_release(
    element: ElementDep,
    version: Version,
    hub: HubDep,
    against: Annotated[
        str | None,
        Query(
            description="The release to compare with; default: the previous release.",
            json_schema_extra=VERSION,
        ),
    ] = None,
) -> Envelope[ReleaseDiffPublic]:
    """Return the files added, removed and changed between two releases, with text diffs."""
    return ok(ReleaseDiffPublic.of(release_diff(hub.catalog, element.uuid, version, against)))

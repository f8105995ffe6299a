"""Manifests: the compatible endpoints, their deprecated app aliases, and batches of pins."""

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.convertors import StringConvertor, register_url_convertor

from mirel.api.auth import RELEASES_READ, RELEASES_WRITE, AuthorDep, require
from mirel.api.bodies import CommitMessage, ManifestPut, PinBatch, PinPut
from mirel.api.constraints import NAME
from mirel.api.deps import DEPRECATED, AppDep, ElementDep, HubDep
from mirel.core.manifest import manifest_path
from mirel.core.manifest_reader import manifest_from_api
from mirel.http.envelope import ok
from mirel.http.models import (
    ChangeRequestPublic,
    Envelope,
    ManifestList,
    ManifestOne,
    ManifestPublic,
)

router = APIRouter(prefix="/source_control/manifests", tags=["manifests"])


class ManifestSegment(StringConvertor):
    """A path segment naming a manifest: anything but `_batch`, which is the batch route's own
    path, so that `GET /manifests/_batch` is the 405 of that route (Allow: POST), not a GET of
    a manifest with an invalid name. Other invalid names still reach the route's 400."""

    regex = "(?!_batch$)[^/]+"


register_url_convertor("manifest", ManifestSegment())

Name = Annotated[
    str, Path(description="The manifest's name: manifests/<name>.yaml.", json_schema_extra=NAME)
]


@router.get("", dependencies=[require(RELEASES_READ)], response_model=Envelope[ManifestList])
def list_manifests(hub: HubDep) -> Envelope[ManifestList]:
    """Return every manifest on the default branch."""
    names = hub.catalog.manifest_names()
    found = [ManifestPublic.of_manifest(hub.catalog.manifest(name)) for name in names]
    return ok(ManifestList(manifests=found))


@router.post(
    "/_batch", dependencies=[require(RELEASES_WRITE)], response_model=Envelope[ChangeRequestPublic]
)
def change_pins(body: PinBatch, hub: HubDep, author: AuthorDep) -> Envelope[ChangeRequestPublic]:
    """Return the change request pinning (or unpinning) many elements across manifests."""
    changes = [(change.manifest, change.element_uuid, change.release) for change in body.changes]
    return ok(
        ChangeRequestPublic.of(hub.manifests.change_pins(changes, author, body.commit_message))
    )


@router.get(
    "/{name:manifest}", dependencies=[require(RELEASES_READ)], response_model=Envelope[ManifestOne]
)
def get_manifest(name: Name, hub: HubDep) -> Envelope[ManifestOne]:
    """Return one manifest."""
    found = ManifestPublic.of_manifest(hub.catalog.manifest(name))
    return ok(ManifestOne(manifest=found))


@router.put(
    "/{name:manifest}",
    dependencies=[require(RELEASES_WRITE)],
    response_model=Envelope[ChangeRequestPublic],
)
def put_manifest(
    name: Name, body: ManifestPut, hub: HubDep, author: AuthorDep
) -> Envelope[ChangeRequestPublic]:
    """Return the change request creating or overwriting a whole manifest."""
    manifest = manifest_from_api(name, body.manifest, manifest_path(name))
    change = hub.manifests.put(manifest, author, body.commit_message)
    return ok(ChangeRequestPublic.of(change))


@router.post(
    "/{name}/delete",
    dependencies=[require(RELEASES_WRITE)],
    response_model=Envelope[ChangeRequestPublic],
)
def delete_manifest(
    name: Name, hub: HubDep, author: AuthorDep, body: CommitMessage | None = None
) -> Envelope[ChangeRequestPublic]:
    """Return the change request removing a manifest."""
    message = body.commit_message if body else None
    change = hub.manifests.delete(name, author, message)
    return ok(ChangeRequestPublic.of(change))


@router.put(
    "/{name}/{elementUuid}",
    dependencies=[require(RELEASES_WRITE)],
    response_model=Envelope[ChangeRequestPublic],
)
def set_pin(
    name: Name, element: ElementDep, body: PinPut, hub: HubDep, author: AuthorDep
) -> Envelope[ChangeRequestPublic]:
    """Return the change request pinning one element (creating the manifest if missing)."""
    return ok(
        ChangeRequestPublic.of(
            hub.manifests.set_pin(name, element.uuid, body.release, author, body.commit_message)
        )
    )


@router.post(
    "/{name}/{elementUuid}/delete",
    dependencies=[require(RELEASES_WRITE)],
    response_model=Envelope[ChangeRequestPublic],
)
def unset_pin(
    name: Name,
    element: ElementDep,
    hub: HubDep,
    author: AuthorDep,
    body: CommitMessage | None = None,
) -> Envelope[ChangeRequestPublic]:
    """Return the change request removing one element's pin."""
    message = body.commit_message if body else None
    change = hub.manifests.unset_pin(name, element.uuid, author, message)
    return ok(ChangeRequestPublic.of(change))


@router.put(
    "/{name}/apps/{appUuid}",
    dependencies=[require(RELEASES_WRITE), DEPRECATED],
    response_model=Envelope[ChangeRequestPublic],
    deprecated=True,
)
def set_app_pin(
    name: Name, app: AppDep, body: PinPut, hub: HubDep, author: AuthorDep
) -> Envelope[ChangeRequestPublic]:
    """Return the change request pinning one app (deprecated: use PUT /{name}/{elementUuid})."""
    return ok(
        ChangeRequestPublic.of(
            hub.manifests.set_pin(name, app.uuid, body.release, author, body.commit_message)
        )
    )


@router.post(
    "/{name}/apps/{appUuid}/delete",
    dependencies=[require(RELEASES_WRITE), DEPRECATED],
    response_model=Envelope[ChangeRequestPublic],
    deprecated=True,
)
def unset_app_pin(
    name: Name, app: AppDep, hub: HubDep, author: AuthorDep, body: CommitMessage | None = None
) -> Envelope[ChangeRequestPublic]:
    """Return the change request unpinning one app (deprecated: use the element path)."""
    message = body.commit_message if body else None
    change = hub.manifests.unset_pin(name, app.uuid, author, message)
    return ok(ChangeRequestPublic.of(change))

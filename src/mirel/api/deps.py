"""Dependencies shared by the routes: the instance, its hub, and elements named in the path.

These modules avoid `from __future__ import annotations`: FastAPI reads the annotations of
dependencies at run time.
"""

from typing import Annotated

from fastapi import Depends, Path, Query, Request, Response

from mirel.api.constraints import API_TYPE, NAME
from mirel.core.catalog import Element
from mirel.core.kinds import APP, KINDS, ElementKind
from mirel.core.words import with_article
from mirel.errors import ElementNotFound, InvalidInput
from mirel.hub import Hub
from mirel.instance import Instance


def get_instance(request: Request) -> Instance:
    """Return the instance this application serves (callable from any thread)."""
    instance: Instance = request.app.state.instance
    return instance


# The dependencies below do no I/O: as coroutines they run on the event loop, where FastAPI
# would otherwise send each to the thread pool, a hop costing more than what they do.


async def instance_dependency(request: Request) -> Instance:
    """Return the instance this application serves, as a route's dependency."""
    return get_instance(request)


InstanceDep = Annotated[Instance, Depends(instance_dependency)]


async def get_hub(instance: InstanceDep) -> Hub:
    """Return the hub of the shared repository."""
    return instance.hub


HubDep = Annotated[Hub, Depends(get_hub)]

ELEMENT_TYPES = ", ".join(kind.api_type for kind in KINDS)


def path_element(
    hub: HubDep,
    element_uuid: Annotated[
        str,
        Path(
            alias="elementUuid",
            description="The element's uuid (or, in mirel, its name).",
            json_schema_extra=NAME,
        ),
    ],
    element_type: Annotated[
        str | None,
        Query(
            alias="elementType",
            description=f"When given, it must be the element's type: {ELEMENT_TYPES}.",
            json_schema_extra=API_TYPE,
        ),
    ] = None,
) -> Element:
    """Return the element named in the path; a given `elementType` must be its type."""
    kind = KINDS.by_api_type(element_type) if element_type is not None else None
    element = hub.catalog.element(element_uuid)
    if kind is not None and kind != element.kind:
        # The pair (uuid, type) names no element: a 404, as for an unknown uuid. The document
        # cannot say which type a uuid has, so a 400 here would refuse a request it allows.
        raise ElementNotFound(
            f"there is no {element_type} {element.uuid}: element {element.name} is "
            f"{with_article(element.kind.name)}, elementType {element.kind.api_type}; drop "
            "elementType or correct it"
        )
    return element


ElementDep = Annotated[Element, Depends(path_element)]


def path_app(
    hub: HubDep,
    app_uuid: Annotated[
        str,
        Path(
            alias="appUuid",
            description="The app's uuid (or, in mirel, its name).",
            json_schema_extra=NAME,
        ),
    ],
) -> Element:
    """Return the app named in a deprecated `/apps/{appUuid}` path; other kinds are refused."""
    element = hub.catalog.element(app_uuid)
    if element.kind != APP:
        raise InvalidInput(
            f"element {element.uuid} ({element.name}) is {with_article(element.kind.name)}, "
            "not an app; use the path without /apps/ (this alias is for apps only)"
        )
    return element


AppDep = Annotated[Element, Depends(path_app)]


def mark_deprecated(response: Response) -> None:
    """Mark the answer of a deprecated alias with the `Deprecation` header (RFC 9745)."""
    response.headers["Deprecation"] = "true"


DEPRECATED = Depends(mark_deprecated)


def kind_named(text: str) -> ElementKind:
    """Return the element kind named `text`: app, apps, workflow, ... or an API type (PAGE)."""
    for kind in KINDS:
        if text in (kind.name, kind.plural, kind.api_type):
            return kind
    return KINDS.get(text)  # raises InvalidInput listing the kinds

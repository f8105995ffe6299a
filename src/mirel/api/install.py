"""Adding the REST API (SPEC.md §5) to an instance's application, under /api/v2."""

from typing import Any

from fastapi import FastAPI

from mirel.api.auth import check_declared
from mirel.api.routes import instance as instance_routes
from mirel.api.routes import manifests, releases, source_control, source_control_config
from mirel.http.envelope import API_PREFIX
from mirel.http.models import ErrorEnvelope

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": description}
    for status, description in (
        (400, "Invalid input"),
        (401, "Missing or unknown token"),
        (403, "The token lacks the route's scope"),
        (404, "Not found"),
        (409, "Conflicts with the repository's state"),
        (500, "An unexpected failure; the details are in the server's log"),
    )
}


def install_api(app: FastAPI) -> None:
    """Add the API's routes to `app` (which holds the instance in `app.state.instance`)."""
    for router in (
        manifests.router,
        releases.router,
        source_control.router,
        source_control_config.router,
        instance_routes.router,
    ):
        app.include_router(router, prefix=API_PREFIX, responses=_ERRORS)
    check_declared(app)


def describe_invalid_input_as_400(document: dict[str, Any]) -> None:
    """Edit an OpenAPI document so that invalid input is the 400 the error pipeline answers,
    not FastAPI's 422."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)

"""The REST API application of one instance (SPEC.md §5), under /api/v2."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

import mirel
from mirel.api.auth import check_declared
from mirel.api.envelope import API_PREFIX, install_error_pipeline
from mirel.api.models import ErrorEnvelope
from mirel.api.routes import instance as instance_routes
from mirel.api.routes import manifests, releases, source_control
from mirel.instance import Instance

_ERRORS: dict[int | str, dict[str, object]] = {
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


def create_app(instance: Instance) -> FastAPI:
    """Return the application serving `instance`: the REST API under /api/v2 and the web pages;
    its lifespan runs the instance's poller."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(instance.poller.start)
        try:
            yield
        finally:
            await run_in_threadpool(instance.poller.stop)

    app = FastAPI(
        title="mirel",
        version=mirel.__version__,
        summary="Multi-instance releases: which release of each app and workflow is live here.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.instance = instance
    for router in (
        manifests.router,
        releases.router,
        source_control.router,
        instance_routes.router,
    ):
        app.include_router(router, prefix=API_PREFIX, responses=_ERRORS)
    # Imported here: the pages build on mirel.api's auth and error pipeline, so a module-level
    # import would make mirel.api and mirel.web import each other.
    from mirel.web.app import install_web

    install_error_pipeline(app)
    # After the pipeline: the pages' headers wrap its last-resort 500 answer too.
    install_web(app)
    check_declared(app)
    app.openapi = _openapi_without_422(app)  # type: ignore[method-assign]
    return app


def _openapi_without_422(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """Return an OpenAPI builder that documents invalid input as 400, the status mirel answers."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            schemas = document.get("components", {}).get("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            app.openapi_schema = document
        return app.openapi_schema

    return openapi

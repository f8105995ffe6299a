"""One instance's application: the REST API under /api/v2 and the web pages, over one error
pipeline, with the instance's poller running for the application's lifetime."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

import mirel
from mirel.api import describe_invalid_input_as_400, install_api
from mirel.api.auth import check_access
from mirel.api.docs import install_docs
from mirel.http.address import AddressCheck
from mirel.http.envelope import API_PREFIX
from mirel.http.limits import BodyLimit, BodyLimits
from mirel.http.logs import RequestIds
from mirel.http.pipeline import install_error_pipeline
from mirel.instance import Instance
from mirel.server.observability import install_observability
from mirel.web import install_web
from mirel.web.render import error_page


class _Application(FastAPI):
    """An application whose OpenAPI document says what the error pipeline answers."""

    def openapi(self) -> dict[str, Any]:
        """Return the OpenAPI document, built once, at the first request for it."""
        if self.openapi_schema is None:
            describe_invalid_input_as_400(super().openapi())
        return super().openapi()


def create_app(instance: Instance) -> FastAPI:
    """Return the application serving `instance`; its lifespan runs the instance's poller and
    closes the instance's database when it ends."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(instance.poller.start)
        try:
            yield
        finally:
            await run_in_threadpool(instance.poller.stop)
            # uvicorn ends the process by the signal that stopped it, so nothing after its run
            # does: the database is closed here (on SQLite, its write-ahead log folded back).
            await run_in_threadpool(instance.database.close)

    app = _Application(
        title="mirel",
        version=mirel.__version__,
        summary="Multi-instance releases: which release of each app and workflow is live here.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # served by install_docs, with its assets, for readers without internet
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.instance = instance
    install_api(app)
    install_docs(app)
    install_error_pipeline(app, pages=error_page, access=check_access)
    # After the pipeline: the pages' headers wrap its last-resort 500 answer too.
    install_web(app)
    app.add_middleware(AddressCheck)
    # A body over its limit is refused before anything else runs or reads it.
    settings = instance.settings
    app.add_middleware(
        BodyLimit,
        limits=BodyLimits(settings.max_request_bytes, settings.max_upload_bytes),
    )
    # Outside everything: every answer is counted, refusals at the edge included.
    app.state.metrics = install_observability(app, instance)
    _probes_and_static_first(app)
    # Outermost: every answer carries its request id, and every record written meanwhile.
    app.add_middleware(RequestIds)
    return app


# Addresses that only their own route serves (tests/server/test_routing.py checks it), asked for
# most often: load balancers' probes, the scraper and every page's stylesheet and script.
FIRST_ROUTES = ("/static", "/healthz", "/readyz", "/metrics")


def _probes_and_static_first(app: FastAPI) -> None:
    """Move FIRST_ROUTES to the front of the router: it tries routes in order, each at some cost,
    and these would otherwise be tried after every page and API route."""
    first = [route for route in app.router.routes if getattr(route, "path", None) in FIRST_ROUTES]
    rest = [route for route in app.router.routes if route not in first]
    app.router.routes[:] = first + rest

"""Adding the pages to an instance's application: routes, static files, headers, errors."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mirel.web.auth import check_pages_declared
from mirel.web.routes import (
    config,
    deployments,
    elements,
    home,
    manifests,
    pulls,
    releases_tab,
    session,
    source_control,
    tokens,
    users,
)

# Pages load only their own stylesheet and script: no inline code, no frames, no other origins.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class PageHeaders:
    """ASGI middleware: the security headers of every page (the API keeps its own answers)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add PAGE_HEADERS to answers outside /api/."""
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path.startswith("/api/"):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in PAGE_HEADERS.items():
                    headers.setdefault(name, value)
                if not path.startswith("/static/"):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)


def install_web(app: FastAPI) -> None:
    """Add the pages to `app` (which must hold the instance in `app.state.instance`)."""
    for router in (
        session.router,
        home.router,
        elements.router,
        config.router,
        manifests.router,
        releases_tab.router,
        source_control.router,
        users.router,
        tokens.router,
        pulls.router,
        deployments.router,
    ):
        app.include_router(router, include_in_schema=False)
    app.mount("/static", StaticFiles(packages=[("mirel.web", "static")]), name="static")
    check_pages_declared(app)
    app.add_middleware(PageHeaders)

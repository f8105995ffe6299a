"""Adding the pages to an instance's application: routes, static files, headers, errors."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import FileResponse
from starlette.staticfiles import NotModifiedResponse, StaticFiles
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


class PackagedFiles:
    """ASGI app: the packaged static files, read once at start-up and answered from memory.

    Starlette's StaticFiles sends each request's stat, open, read and close to the thread pool;
    these files change only with a new release of mirel. The headers and the 304 rule are
    StaticFiles' own (its `FileResponse` headers, its `is_not_modified`); anything else (another
    method, a range, an unknown name) goes to StaticFiles itself, so it answers as it did.
    """

    def __init__(self, package: str, folder: str) -> None:
        self.files = StaticFiles(packages=[(package, folder)])
        self._assets: dict[str, tuple[Headers, bytes]] = {}
        for directory in self.files.all_directories:
            for path in sorted(Path(directory).rglob("*")):
                name = os.path.normpath(path.relative_to(directory))
                if path.is_file() and name not in self._assets:
                    head = FileResponse(path, stat_result=path.stat()).headers
                    self._assets[name] = (Headers(raw=head.raw), path.read_bytes())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a GET or HEAD of a packaged file from memory; pass anything else on."""
        asset = None
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            asset = self._assets.get(self.files.get_path(scope))
        request_headers = Headers(scope=scope)
        if asset is None or "range" in request_headers:
            await self.files(scope, receive, send)
            return
        headers, body = asset
        if self.files.is_not_modified(headers, request_headers):
            await NotModifiedResponse(headers)(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers.raw})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )


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
    app.mount("/static", PackagedFiles("mirel.web", "static"), name="static")
    check_pages_declared(app)
    app.add_middleware(PageHeaders)

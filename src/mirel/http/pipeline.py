"""The one error pipeline of a server: every failed request, API or page, is answered here.

Under /api/ a failure is the JSON envelope; anywhere else (the web pages) the same status and
message go to the page renderer the server installs (`PageErrors`), which shows them as a
readable page. A failure is
- a `MirelError`'s own HTTP status and message (400 input, 401, 403, 404, 409);
- 400 for a request FastAPI cannot parse or validate, with a one-line message naming the field
  (not FastAPI's default 422 with a list of error objects), once the caller's access is checked;
- 404 / 405 for unknown routes and methods;
- 500 with a generic message for anything unexpected; the traceback goes to the log only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mirel.errors import MirelError
from mirel.http.envelope import INTERNAL_MESSAGE, describe_validation, failure
from mirel.http.routes import flat_routes

log = logging.getLogger("mirel.api")

# Renders a failed page request: (request, status, one-line message, the error or None).
PageErrors = Callable[[StarletteRequest, int, str, MirelError | None], Response]
# Raises Unauthenticated or Forbidden when the request may not use its route at all.
AccessCheck = Callable[[StarletteRequest], None]


def _page_errors(request: StarletteRequest) -> PageErrors | None:
    """Return the page renderer when the request is for a page, None for the API."""
    if request.url.path == "/api" or request.url.path.startswith("/api/"):
        return None
    if request.headers.get("x-requested-with") == "fetch":
        return None  # a page's script asked: it reads the JSON envelope, not a page
    renderer: PageErrors | None = getattr(request.app.state, "page_errors", None)
    return renderer


def _check_access(request: StarletteRequest) -> None:
    check: AccessCheck | None = getattr(request.app.state, "access_check", None)
    if check is not None:
        check(request)


def reply_to(
    request: StarletteRequest,
    status: int,
    message: str,
    error: MirelError | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Return a failed answer: the JSON envelope for the API, a page for the pages."""
    render = _page_errors(request)
    if render is not None:
        return render(request, status, " ".join(message.split()), error)
    return failure(status, message, headers)


async def _mirel_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, MirelError)
    if error.http_status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, error.message)
    headers = {"WWW-Authenticate": "Bearer"} if error.http_status == 401 else None
    return reply_to(request, error.http_status, error.message, error, headers)


async def _invalid_request(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    try:
        # A malformed body is found before the route's dependencies run: check access first,
        # so that callers without it are told only that.
        _check_access(request)
    except MirelError as denied:
        return await _mirel_error(request, denied)
    return reply_to(request, 400, describe_validation(error.errors()))


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 404 and _page_errors(request) is not None:
        message = f"there is no page at {request.url.path}; start again from the home page"
    elif error.status_code == 404:
        message = (
            f"no endpoint {request.method} {request.url.path}; the API is described at "
            "/api/v2/openapi.json"
        )
    elif error.status_code == 405:
        allowed = allowed_methods(request) or (error.headers or {}).get("Allow", "")
        error.headers = {**(error.headers or {}), "Allow": allowed}
        message = f"{request.method} is not allowed on {request.url.path}" + (
            f"; use {allowed}" if allowed else ""
        )
    else:
        message = str(error.detail)
    return reply_to(request, error.status_code, message, None, dict(error.headers or {}))


def allowed_methods(request: StarletteRequest) -> str:
    """Return the `Allow` of a 405: every method of every route serving the request's path.

    Starlette answers with the methods of the first route whose path matches, but one path may be
    served by several routes (GET and PUT /manifests/{name}). When a literal route and a route
    with parameters both match (`/manifests/_batch` and `/manifests/{name}`), the literal one
    names the resource: the routes with the fewest parameters are the path's.
    """
    path: str = request.scope["path"]
    path = path.removeprefix(request.scope.get("root_path", "")) or path
    found: dict[int, set[str]] = {}
    for route in flat_routes(request.app):
        methods, regex = getattr(route, "methods", None), getattr(route, "path_regex", None)
        if methods and regex is not None and regex.match(path):
            found.setdefault(len(getattr(route, "param_convertors", {})), set()).update(methods)
    if not found:
        return ""
    return ", ".join(sorted(found[min(found)]))


class CatchAll:
    """ASGI middleware: an unexpected exception becomes a 500 envelope, logged with its traceback.

    Starlette's own last-resort handler answers too but then raises the exception again into the
    server; this one answers once and keeps the traceback in mirel's log.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the application, answering 500 for an exception raised before any answer."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            log.exception("%s %s failed unexpectedly", scope.get("method"), scope.get("path"))
            if started:
                raise
            request = StarletteRequest(scope)
            try:
                answer = reply_to(request, 500, INTERNAL_MESSAGE)
            except Exception:  # the page renderer itself failed: the plain envelope still works
                log.exception("the error page could not be rendered")
                answer = failure(500, INTERNAL_MESSAGE)
            await answer(scope, receive, send)


def install_error_pipeline(
    app: FastAPI, *, pages: PageErrors | None = None, access: AccessCheck | None = None
) -> None:
    """Register the one error pipeline on `app`: `pages` renders failed page requests (without
    it every failure is JSON), `access` checks a caller before an invalid request is described."""
    app.state.page_errors = pages
    app.state.access_check = access
    app.add_exception_handler(MirelError, _mirel_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(CatchAll)

"""The envelope of every answer, and the one error pipeline that produces failed answers.

The pipeline serves both faces of a server: under /api/ a failure is the JSON envelope below;
anywhere else (the web pages) the same status and message go to the page renderer that the web
package registers (`PageErrors`), which shows them as a readable page.

Success: `{"success": true, "data": ...}`. Failure: `{"success": false, "message": "..."}` with
- a `MirelError`'s own HTTP status and message (400 input, 401, 403, 404, 409);
- 400 for a request FastAPI cannot parse or validate, with a one-line message naming the field
  (not FastAPI's default 422 with a list of error objects);
- 404 / 405 for unknown routes and methods;
- 500 with a generic message for anything unexpected; the traceback goes to the log only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mirel.api.auth import check_access
from mirel.errors import MirelError

log = logging.getLogger("mirel.api")

API_PREFIX = "/api/v2"

# Renders a failed page request: (request, status, one-line message, the error or None).
PageErrors = Callable[[StarletteRequest, int, str, MirelError | None], Response]

INTERNAL_MESSAGE = (
    "internal error: the server failed unexpectedly; the details are in its log. "
    "Nothing was changed by this request unless its answer said so"
)
_LOCATIONS = {"path": "path parameter", "query": "query parameter", "header": "header"}


def ok(data: Any) -> dict[str, Any]:
    """Return a successful answer carrying `data`."""
    return {"success": True, "data": data}


def failure(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Return a failed answer with `status` and a one-line `message`."""
    one_line = " ".join(message.split()) or "request failed"
    return JSONResponse(
        {"success": False, "message": one_line}, status_code=status, headers=headers
    )


def describe_validation(errors: Sequence[Any]) -> str:
    """Return a one-line message for FastAPI's validation errors: the first, and how many more."""
    if not errors:
        return "the request is not valid"
    first = errors[0]
    kind = first.get("type", "")
    loc = [str(part) for part in first.get("loc", ())]
    more = len(errors) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    if kind == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "invalid JSON")
        at = f" at character {loc[1]}" if len(loc) > 1 else ""
        return f"the request body is not valid JSON: {reason}{at}; send a JSON object"
    if loc[:1] == ["body"]:
        if len(loc) == 1:
            if kind == "missing":
                return "the request has no body; send a JSON object" + suffix
            return f"the request body must be a JSON object: {first.get('msg', '')}" + suffix
        field = _dotted(loc[1:])
        where = f"body field {field}"
    elif loc and loc[0] in _LOCATIONS:
        where = f"{_LOCATIONS[loc[0]]} {_dotted(loc[1:])}"
    else:
        where = _dotted(loc) or "the request"
    if kind == "missing":
        return f"{where} is missing" + suffix
    return f"{where}: {first.get('msg', 'is not valid')}" + suffix


def _dotted(parts: Sequence[str]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if part.isdigit() else (f".{part}" if text else part)
    return text


def _page_errors(request: StarletteRequest) -> PageErrors | None:
    """Return the page renderer when the request is for a page, None for the API."""
    if request.url.path == "/api" or request.url.path.startswith("/api/"):
        return None
    if request.headers.get("x-requested-with") == "fetch":
        return None  # a page's script asked: it reads the JSON envelope, not a page
    renderer: PageErrors | None = getattr(request.app.state, "page_errors", None)
    return renderer


def _reply(
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
    return _reply(request, error.http_status, error.message, error, headers)


async def _invalid_request(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    try:
        # A malformed body is found before the route's dependencies run: check access first,
        # so that callers without it are told only that.
        check_access(request)
    except MirelError as denied:
        return await _mirel_error(request, denied)
    return _reply(request, 400, describe_validation(error.errors()))


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
        allowed = (error.headers or {}).get("Allow", "")
        message = f"{request.method} is not allowed on {request.url.path}" + (
            f"; use {allowed}" if allowed else ""
        )
    else:
        message = str(error.detail)
    return _reply(request, error.status_code, message, None, dict(error.headers or {}))


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
                answer = _reply(request, 500, INTERNAL_MESSAGE)
            except Exception:  # the page renderer itself failed: the plain envelope still works
                log.exception("the error page could not be rendered")
                answer = failure(500, INTERNAL_MESSAGE)
            await answer(scope, receive, send)


def install_error_pipeline(app: FastAPI) -> None:
    """Register the one error pipeline on `app`."""
    app.add_exception_handler(MirelError, _mirel_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(CatchAll)

"""Request body limits, enforced before the body is read.

A request whose `Content-Length` is over its route's limit is answered 413 at once, before
authentication and before a byte of the body is read; a body sent without a length (chunked) is
counted as it arrives and cut off at the limit (answered 413 there), so that no request costs
more memory than its limit, whoever sends it. Most routes take a small body (`default_bytes`);
the few that carry file contents (commits, new elements, the page editor, webhooks) take
`upload_bytes`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.requests import Request as StarletteRequest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mirel.errors import BodyTooLarge
from mirel.http.pipeline import reply_to

MIB = 1024 * 1024

# The routes whose bodies carry file contents.
UPLOAD_PATHS = re.compile(
    r"/api/v2/source_control/branches/.+/commits"
    r"|/api/v2/source_control/elements"
    r"|/api/v2/webhooks/[^/]+"
    r"|/edit"
)


@dataclass(frozen=True)
class BodyLimits:
    """The largest body each kind of route accepts, in bytes."""

    default_bytes: int = 2 * MIB
    upload_bytes: int = 64 * MIB

    def for_path(self, path: str) -> int:
        """Return the limit of the route at `path`."""
        return self.upload_bytes if UPLOAD_PATHS.fullmatch(path) else self.default_bytes


def _too_large(path: str, limit: int) -> BodyTooLarge:
    return BodyTooLarge(
        f"the request body is over the {limit:,} bytes {path} accepts; send less (an "
        "instance's limits are MIREL_MAX_REQUEST_BYTES and MIREL_MAX_UPLOAD_BYTES)"
    )


def _declared_length(scope: Scope) -> int | None:
    """Return the Content-Length of a request, None when absent; -1 when unreadable."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else -1
    return None


class BodyLimit:
    """ASGI middleware holding every request body to its route's limit (see the module)."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a declared body over the limit at once; count an undeclared one."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        limit = self.limits.for_path(path)
        declared = _declared_length(scope)
        if declared is not None and (declared < 0 or declared > limit):
            await self._refuse(scope, receive, send, path, limit)
            return
        received = 0
        refused = False

        async def counted() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not refused:
                    # Answer here: FastAPI would turn an error raised while it reads the body
                    # into a 400. The application is told the client left, and its own
                    # answer, if it makes one, goes nowhere.
                    refused = True
                    await self._refuse(scope, receive, send, path, limit)
                    return {"type": "http.disconnect"}
            return message

        async def unless_refused(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counted, unless_refused)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, path: str, limit: int
    ) -> None:
        error = _too_large(path, limit)
        answer = reply_to(StarletteRequest(scope), error.http_status, error.message, error)
        answer.headers["Connection"] = "close"  # the unread body is not drained
        await answer(scope, receive, send)

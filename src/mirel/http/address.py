"""Refusing, at the edge, an address no name or path of mirel can hold.

A request path or query holding NUL (`%00`) or another control character is answered 400 here,
before any route runs: no element, manifest, file or search can contain one, and PostgreSQL text
cannot even be compared with one (it would fail as a 500 in the first query).
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

from starlette.requests import Request as StarletteRequest
from starlette.types import ASGIApp, Receive, Scope, Send

from mirel.errors import InvalidInput
from mirel.http.pipeline import reply_to

# Exactly Unicode's categories Cc (controls) and Cs (surrogates): one search, not a lookup per
# character.
_UNUSABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _unusable(text: str) -> str | None:
    """Return the first character of `text` no name or path may hold, or None."""
    found = _UNUSABLE.search(text)
    return None if found is None else found[0]


class AddressCheck:
    """ASGI middleware answering 400 for a path or query holding a control character."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass a usable address on; answer 400 for the others."""
        if scope["type"] == "http":
            query = unquote_plus(scope.get("query_string", b"").decode("latin-1"))
            found = _unusable(scope.get("path", "")) or _unusable(query)
            if found is not None:
                error = InvalidInput(
                    f"the address holds the control character {found!r}, which no name, path "
                    "or search can hold; remove it"
                )
                answer = reply_to(StarletteRequest(scope), 400, error.message, error)
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)

"""The envelope of every answer: `{"success": true, "data": ...}` or
`{"success": false, "message": "..."}`, and the one-line message of an invalid request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from fastapi.responses import JSONResponse

from mirel.http.models import API_PREFIX as API_PREFIX  # re-exported: the faces import it here
from mirel.http.models import Envelope

INTERNAL_MESSAGE = (
    "internal error: the server failed unexpectedly; the details are in its log. "
    "Nothing was changed by this request unless its answer said so"
)
_LOCATIONS = {"path": "path parameter", "query": "query parameter", "header": "header"}
DataT = TypeVar("DataT")


def ok(data: DataT) -> Envelope[DataT]:
    """Return a successful answer carrying `data`."""
    return Envelope(data=data)


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

"""Logs people can read and machines can parse: one format for mirel's loggers and uvicorn's,
text or one JSON object per line (`--log-format` / MIREL_LOG_FORMAT), and a request id on every
record written while a request is served.

The id is the caller's `X-Request-ID` when it is a plain token (so that a proxy's id follows the
request through), else a new one; every answer carries it back in `X-Request-ID`, refusals at
the edge included, so that a person reporting an answer can name the log lines it left.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOG_FORMATS = ("text", "json")
HEADER = "X-Request-ID"

# Set for the time a request is served; sync routes run in worker threads, which anyio starts
# with a copy of the request's context, so their records carry it too.
REQUEST_ID: ContextVar[str | None] = ContextVar("mirel_request_id", default=None)
# What an incoming id may be: it is written in logs and headers, so nothing else is taken.
_PLAIN_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

access = logging.getLogger("mirel.access")

# The attributes every LogRecord has; the others came in `extra=` and are written as fields.
# uvicorn's `color_message` is its message again, with terminal colours: not a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}


class RequestIdFilter(logging.Filter):
    """Give every record the id of the request being served (None outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id, extra fields,
    and the traceback as text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """A line a person reads: time, level, logger, the request id when there is one, message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s%(request)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.request = f" [{request_id}]" if request_id else ""
        return super().format(record)


def log_config(log_format: str, level: str) -> dict[str, Any]:
    """Return the logging configuration (logging.config.dictConfig's) of a server: mirel's and
    uvicorn's records through one handler on stderr, in `log_format`, from `level` up.
    uvicorn's own access line is off: RequestIds writes one with the request id instead."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r}: choose text or json")
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    handler = {"class": "logging.StreamHandler", "formatter": "mirel", "filters": ["request"]}
    handler["stream"] = "ext://sys.stderr"
    loggers = {
        name: {"handlers": ["stderr"], "level": level.upper(), "propagate": False}
        for name in ("mirel", "uvicorn", "uvicorn.error")
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": RequestIdFilter}},
        "formatters": {"mirel": {"()": formatter}},
        "handlers": {"stderr": handler},
        "loggers": loggers,
    }


def request_id_of(scope: Scope) -> str:
    """Return the caller's plain X-Request-ID, else a new id."""
    for key, value in scope.get("headers", ()):
        if key == b"x-request-id":
            text: str = value.decode("latin-1")
            if _PLAIN_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


class RequestIds:
    """ASGI middleware, outermost: give each request its id, send it back in X-Request-ID, and
    write one access record per answer (method, path, status, duration in ms, client)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500  # what the server answers when the application ends before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if access.isEnabledFor(logging.INFO):
                _log_access(scope, status, time.perf_counter() - started)
            REQUEST_ID.reset(token)


def _log_access(scope: Scope, status: int, seconds: float) -> None:
    client = scope.get("client")
    path = scope.get("path", "")
    access.info(
        "%s %s %d",
        scope.get("method", ""),
        json.dumps(path, ensure_ascii=False)[1:-1],  # a decoded %0A must not start a line
        status,
        extra={
            "method": scope.get("method", ""),
            "path": path,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "client": f"{client[0]}:{client[1]}" if client else None,
        },
    )

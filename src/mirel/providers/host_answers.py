"""Reading a host's answers, the same way for every adapter: an answer of another status than
the call expects, or one that is not the JSON it should be, is the host's failure (a moved or
hidden repository, a refusal mirel does not expect), never the user's input, and says what to
check."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import httpx

from mirel.errors import RemoteUnreachable

Describe = Callable[[httpx.Response], str]  # what the host says is wrong, in one short line


def error_body(answer: httpx.Response) -> dict[str, Any] | None:
    """Return the answer's JSON object, or None when it has none (an HTML error page...)."""
    try:
        found = answer.json()
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def expect_json(
    answer: httpx.Response,
    statuses: Collection[int],
    *,
    host: str,
    describe: Describe,
    check: str,
) -> Any:
    """Return the answer's JSON if its status is one of `statuses`; else raise RemoteUnreachable
    quoting the host and naming what to `check`."""
    if answer.status_code not in statuses:
        raise RemoteUnreachable(
            f"{host} answered {answer.status_code} ({describe(answer)}); check {check}"
        )
    try:
        return answer.json()
    except ValueError as error:
        raise RemoteUnreachable(f"{host} answered something that is not JSON") from error


def expect_object(
    answer: httpx.Response,
    statuses: Collection[int],
    *,
    host: str,
    describe: Describe,
    check: str,
    what: str = "a pull request",
) -> dict[str, Any]:
    """Return the answer's JSON object, as `expect_json`; raise when it is not an object."""
    found = expect_json(answer, statuses, host=host, describe=describe, check=check)
    if not isinstance(found, dict):
        raise RemoteUnreachable(f"{host} answered {what} with something else")
    return found

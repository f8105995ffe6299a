"""Rendering the pages: one Jinja2 environment, the context every page shares, the error page.

Templates live in `templates/`, autoescaped, with `StrictUndefined` so that a misspelt name is an
error in the tests rather than an empty cell. Every page gets `viewer` (or None on the sign-in
page), `instance_name`, `csrf_token`, the session's one-time messages (`flash`) and `urls`.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import Response

import mirel
from mirel.errors import MirelError, NotFound, Unauthenticated
from mirel.git.repository import CommitInfo
from mirel.instance.accounts.sessions import take_flash
from mirel.instance.accounts.users import Role
from mirel.web import urls
from mirel.web.auth import Viewer, instance_of, session_of


def _moment(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def when(value: object) -> str:
    """Return a time as `2026-12-01 18:15 UTC` (empty when unknown)."""
    moment = _moment(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def ago(value: object) -> str:
    """Return how long ago a time was: `just now`, `5 minutes ago`, `3 days ago`."""
    moment = _moment(value)
    if moment is None:
        return ""
    seconds = (datetime.now(UTC) - moment).total_seconds()
    if seconds < 45:
        return "just now"
    for size, unit in ((86_400, "day"), (3_600, "hour"), (60, "minute")):
        if seconds >= size:
            count = round(seconds / size)
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "just now"


def duration(start: object, end: object) -> str:
    """Return the time between two moments: `0.12 s`, `4.2 s`, `2 min 5 s` (empty if open)."""
    first, last = _moment(start), _moment(end)
    if first is None or last is None:
        return ""
    seconds = max(0.0, (last - first).total_seconds())
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = math.floor(seconds / 60)
    return f"{minutes} min {round(seconds - minutes * 60)} s"


def short(sha: object) -> str:
    """Return the first 10 characters of a commit id."""
    return str(sha)[:10] if sha else ""


def diff_lines(text: str) -> list[tuple[str, str]]:
    """Return the lines of a unified diff, each with its kind: add, del, hunk, head or ''."""
    lines: list[tuple[str, str]] = []
    for line in text.splitlines():
        if line.startswith(("+++", "---", "diff ", "index ")):
            kind = "head"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        elif line.startswith("@@"):
            kind = "hunk"
        else:
            kind = ""
        lines.append((kind, line))
    return lines


_MERGE = re.compile(r"Merge pull request #(\d+) from \S+")


def described(commit: CommitInfo) -> tuple[str, int | None]:
    """Return what a commit did as people read it, and the pull request it merged (if any).

    A merge's subject names only the branch; the pull request's title is in its body.
    """
    match = _MERGE.match(commit.summary)
    if match is None:
        return commit.summary, None
    body = [line for line in commit.message.splitlines()[1:] if line.strip()]
    return (body[0] if body else commit.summary), int(match[1])


def plural(count: int, noun: str) -> str:
    """Return `1 change`, `2 changes`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


environment = Environment(
    loader=PackageLoader("mirel.web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(when=when, ago=ago, short=short)
environment.globals.update(
    urls=urls,
    Role=Role,
    duration=duration,
    plural=plural,
    diff_lines=diff_lines,
    described=described,
    mirel_version=mirel.__version__,
)


def page(
    request: Request,
    viewer: Viewer | None,
    template: str,
    *,
    status: int = 200,
    **context: object,
) -> HTMLResponse:
    """Return a rendered page with the context every page shares."""
    instance = instance_of(request)
    flash = (
        take_flash(instance.sessions, viewer.session.id_hash)
        if viewer is not None and viewer.session.flash
        else []
    )
    html = environment.get_template(template).render(
        request=request,
        viewer=viewer,
        instance_name=instance.settings.name,
        csrf_token=viewer.csrf_token if viewer is not None else context.pop("csrf_token", ""),
        flash=flash,
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status)


_TITLES = {
    400: "That did not work",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    409: "That conflicts with the repository",
    500: "Something went wrong",
}


def error_page(
    request: Request, status: int, message: str, error: MirelError | None = None
) -> Response:
    """Return the page of a failed request: a sign-in redirect, or the status and message.

    This is the web side of the one error pipeline (mirel.api.envelope): the API shows the same
    status and message as JSON.
    """
    signed_in = _viewer_or_none(request)
    if (
        status == 401
        and request.method in ("GET", "HEAD")
        and (error is None or isinstance(error, Unauthenticated))
    ):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(urls.query("/login", next=target), status_code=303)
    title = _TITLES.get(status, "That did not work")
    if isinstance(error, NotFound):
        title = "Not found"
    return page(
        request,
        signed_in,
        "error.html",
        status=status,
        title=title,
        message=message,
        status_code=status,
    )


def _viewer_or_none(request: Request) -> Viewer | None:
    try:
        session = session_of(request)
    except Exception:  # the database itself failing must not hide the original error
        return None
    return Viewer(session) if session is not None else None

"""Who may see and do what on the pages: sign-in sessions, CSRF tokens and one role per route.

Every page route declares what it needs once, in its signature: `ViewerDep`, `EditorDep` or
`AdminDep` (a signed-in user with at least that role), or `dependencies=[PUBLIC]` for the few
pages anyone may open (sign-in, static files). `check_pages_declared` refuses to build an
application with a page route that declares none, as the API does for scopes.

Checks run in this order: a session (else sign in), then, for a POST, its CSRF token (a form
field or the `X-CSRF-Token` header, compared in constant time), then the role. A forged or
replayed form therefore changes nothing, whoever's browser sends it.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant

from mirel.core.words import with_article
from mirel.errors import Forbidden, Unauthenticated
from mirel.git.repository import Author
from mirel.http.routes import app_routes, dependencies_of
from mirel.instance import Instance
from mirel.instance.accounts.sessions import SessionInfo, load_session
from mirel.instance.accounts.users import Role, UserInfo

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class SignInRequired(Unauthenticated):
    """The page needs a signed-in user; GET requests are sent to the sign-in page."""


class CsrfRefused(Forbidden):
    """A form post without this session's CSRF token."""


def instance_of(request: Request) -> Instance:
    """Return the instance the application serves."""
    instance: Instance = request.app.state.instance
    return instance


def cookie_name(instance: Instance, purpose: str = "session") -> str:
    """Return the cookie name of this instance's sessions.

    Browsers share cookies between ports of one host, so every instance of `mirel up` on
    127.0.0.1 needs its own name, or signing in to one would sign you out of the others.
    """
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", instance.settings.name).strip("-")[:40] or "mirel"
    return f"mirel_{purpose}_{slug}"


def session_of(request: Request) -> SessionInfo | None:
    """Return the request's live session, or None (read once per request)."""
    if "mirel_session" not in request.scope:
        instance = instance_of(request)
        secret = request.cookies.get(cookie_name(instance))
        request.scope["mirel_session"] = load_session(instance.sessions, secret)
    found: SessionInfo | None = request.scope["mirel_session"]
    return found


@dataclass(frozen=True)
class Viewer:
    """The signed-in person behind a page request."""

    session: SessionInfo

    @property
    def user(self) -> UserInfo:
        """Return the signed-in user."""
        return self.session.user

    @property
    def author(self) -> Author:
        """Return the git author of the changes this person makes."""
        return self.session.user.author

    @property
    def csrf_token(self) -> str:
        """Return the token every form of this session carries."""
        return self.session.csrf_token

    def can(self, role: Role | str) -> bool:
        """Return whether this person holds `role` or a higher one."""
        return self.session.user.can(Role(role))


def tokens_match(given: str | None, expected: str) -> bool:
    """Return whether a presented CSRF token is the expected one (constant time)."""
    if not given or len(given) > 200:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


async def presented_csrf(request: Request) -> str | None:
    """Return the CSRF token a request presents: the header, else the form field."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    form = await request.form()
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else None


class PageAccess:
    """A dependency that passes signed-in users holding `role`, checking CSRF on posts."""

    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(self, request: Request) -> Viewer:
        """Return the viewer; raise SignInRequired, CsrfRefused or Forbidden."""
        session = session_of(request)
        if session is None:
            raise SignInRequired("sign in to use this page; your session may have ended")
        if request.method not in ("GET", "HEAD", "OPTIONS") and not tokens_match(
            await presented_csrf(request), session.csrf_token
        ):
            raise CsrfRefused(
                "this form was refused: it did not carry this page's security token; "
                "reload the page and try again"
            )
        if not session.user.can(self.role):
            raise Forbidden(
                f"this needs the {self.role} role and {session.user.username} is "
                f"{with_article(str(session.user.role))}; ask an admin for the role"
            )
        return Viewer(session)


ViewerDep = Annotated[Viewer, Depends(PageAccess(Role.VIEWER))]
EditorDep = Annotated[Viewer, Depends(PageAccess(Role.EDITOR))]
AdminDep = Annotated[Viewer, Depends(PageAccess(Role.ADMIN))]


def public_page() -> None:
    """Declare a page anyone may open (sign-in, static files)."""


PUBLIC = Depends(public_page)
PUBLIC_ACCESS = "public"


# -- the declared roles -----------------------------------------------------------------------


def _declared(dependant: Dependant) -> list[str]:
    """Return the roles (or PUBLIC_ACCESS) declared in a dependency tree."""
    found: list[str] = []
    for call in dependencies_of(dependant):
        if isinstance(call, PageAccess):
            found.append(str(call.role))
        elif call is public_page:
            found.append(PUBLIC_ACCESS)
    return found


def page_roles(app: FastAPI) -> dict[tuple[str, str], str | None]:
    """Return `(method, path) -> role or "public"` for every page route (None: a defect)."""
    table: dict[tuple[str, str], str | None] = {}
    for path, methods, dependant in app_routes(app):
        if path.startswith("/api/"):
            continue
        declared = _declared(dependant)
        for method in sorted(methods):
            table[(method, path)] = declared[0] if len(set(declared)) == 1 else None
    return table


def check_pages_declared(app: FastAPI) -> None:
    """Raise RuntimeError unless every page route declares exactly one role (or PUBLIC)."""
    missing = [f"{method} {path}" for (method, path), role in page_roles(app).items() if not role]
    if missing:
        raise RuntimeError(
            "page routes without exactly one declared role (ViewerDep, EditorDep, AdminDep or "
            "PUBLIC): " + ", ".join(missing)
        )

"""Signing in and out."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mirel.errors import SignInThrottled
from mirel.instance.accounts import throttle
from mirel.instance.accounts.sessions import SESSION_LIFETIME, close_session, open_session
from mirel.instance.accounts.users import authenticate
from mirel.web import urls
from mirel.web.auth import (
    PUBLIC,
    CsrfRefused,
    ViewerDep,
    cookie_name,
    instance_of,
    session_of,
    tokens_match,
)
from mirel.web.forms import redirect
from mirel.web.render import page

router = APIRouter()

Text = Annotated[str, Form(max_length=2000)]


def _secure(request: Request) -> bool:
    public = instance_of(request).settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


def _login_page(
    request: Request,
    next_page: str,
    *,
    message: str | None = None,
    status: int = 200,
    username: str = "",
) -> HTMLResponse:
    # Signing in has no session yet, so its form is protected by a token that must match a
    # cookie set with the form (a "double submit"): another site can set neither.
    token = secrets.token_urlsafe(32)
    answer = page(
        request,
        None,
        "login.html",
        status=status,
        csrf_token=token,
        next_page=urls.safe_next(next_page),
        message=message,
        username=username,
    )
    answer.set_cookie(
        cookie_name(instance_of(request), "signin"),
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/login",
    )
    return answer


@router.get("/login", dependencies=[PUBLIC], response_class=HTMLResponse)
def login_form(
    request: Request, next_page: Annotated[str, Query(alias="next", max_length=2000)] = "/"
) -> Response:
    """Return the sign-in page (or the next page for someone signed in already)."""
    if session_of(request) is not None:
        return redirect(urls.safe_next(next_page))
    return _login_page(request, next_page)


@router.post("/login", dependencies=[PUBLIC], response_class=HTMLResponse)
def login(
    request: Request,
    username: Text = "",
    password: Text = "",
    csrf_token: Text = "",
    next_page: Annotated[str, Form(alias="next", max_length=2000)] = "/",
) -> Response:
    """Sign in and go to the next page; a wrong name or password shows the form again."""
    instance = instance_of(request)
    expected = request.cookies.get(cookie_name(instance, "signin"), "")
    if not expected or not tokens_match(csrf_token, expected):
        raise CsrfRefused(
            "the sign-in form was refused: its security token is missing or stale; "
            "allow cookies for this site and reload the sign-in page"
        )
    name = username.strip()
    address = request.client.host if request.client is not None else "unknown"
    try:
        # Before the password is even looked at: while an account waits, no guess is tried.
        throttle.check(instance.sessions, name, address)
    except SignInThrottled as error:
        return _login_page(
            request, next_page, message=error.message, status=error.http_status, username=name
        )
    user = authenticate(instance.sessions, name, password)
    if user is None:
        throttle.failed(instance.sessions, name, address)
        return _login_page(
            request,
            next_page,
            message="wrong user name or password; try again, or ask an admin to reset it",
            status=401,
            username=name,
        )
    throttle.succeeded(instance.sessions, name, address)
    secret = open_session(instance.sessions, user)
    answer: RedirectResponse = redirect(urls.safe_next(next_page))
    answer.set_cookie(
        cookie_name(instance),
        secret,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    answer.delete_cookie(cookie_name(instance, "signin"), path="/login")
    return answer


@router.post("/logout")
def logout(request: Request, viewer: ViewerDep) -> Response:
    """Sign out and go to the sign-in page."""
    instance = instance_of(request)
    close_session(instance.sessions, viewer.session.id_hash)
    answer = redirect("/login")
    answer.delete_cookie(cookie_name(instance), path="/")
    return answer

"""Settings → API tokens (admin): create a token (its secret shown once) and revoke one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from mirel.errors import MirelError
from mirel.instance.accounts.tokens import create_token, revoke_token
from mirel.web.auth import AdminDep, Viewer, instance_of
from mirel.web.forms import NO_ERROR, FormError, Text, form_page, redirect, tell
from mirel.web.views.accounts import tokens_page

router = APIRouter()

Scopes = Annotated[list[str], Form(max_length=20)]


def _tokens(
    request: Request,
    viewer: Viewer,
    *,
    new_token: str | None = None,
    form_error: FormError = NO_ERROR,
) -> HTMLResponse:
    view = tokens_page(instance_of(request).sessions, new_token)
    return form_page(
        request, viewer, "tokens.html", view, form_error, section="settings", tab="tokens"
    )


@router.get("/settings/tokens", response_class=HTMLResponse)
def tokens(request: Request, viewer: AdminDep) -> Response:
    """Return the API tokens of this instance (never their secrets)."""
    return _tokens(request, viewer)


@router.post("/settings/tokens", response_class=HTMLResponse)
def add_token(
    request: Request,
    viewer: AdminDep,
    name: Text = "",
    scopes: Scopes = [],  # noqa: B006 - FastAPI copies it
) -> Response:
    """Create a token and show its secret this once (it is not kept, so it is not redirected)."""
    try:
        secret = create_token(instance_of(request).sessions, name, list(scopes))
    except MirelError as error:
        return _tokens(request, viewer, form_error=FormError.of("add-token", error, name=name))
    return _tokens(request, viewer, new_token=secret)


@router.post("/settings/tokens/{token_id}/revoke", response_class=HTMLResponse)
def remove_token(request: Request, viewer: AdminDep, token_id: int) -> Response:
    """Revoke a token."""
    try:
        info = revoke_token(instance_of(request).sessions, token_id)
    except MirelError as error:
        return _tokens(request, viewer, form_error=FormError.of(f"token-{token_id}", error))
    tell(request, viewer, f"Token {info.name} is revoked.")
    return redirect("/settings/tokens")

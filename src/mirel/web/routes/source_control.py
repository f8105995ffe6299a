"""Settings → Source control: the connection to the repository's host (stored for the instance's
next start) and the source control settings. Everyone may look; changing them is an admin's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from mirel.errors import InvalidInput, MirelError
from mirel.web.auth import AdminDep, Viewer, ViewerDep, instance_of
from mirel.web.forms import NO_ERROR, FormError, form_page, redirect, tell
from mirel.web.views.source_control import (
    posted_config,
    posted_settings,
    slug_of,
    source_control_page,
    typed_values,
)

router = APIRouter()

PAGE = "/settings/source-control"
MAX_FIELDS = 50


async def _posted(request: Request) -> dict[str, str]:
    """Return the fields of a posted form (each provider's form has its own)."""
    form = await request.form()
    fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    if len(fields) > MAX_FIELDS:
        raise InvalidInput(f"a source control form has at most {MAX_FIELDS} fields")
    return fields


Posted = Annotated[dict[str, str], Depends(_posted)]
ProviderSlug = Annotated[str | None, Query(max_length=40)]


def _page(
    request: Request,
    viewer: Viewer,
    provider: str | None = None,
    form_error: FormError = NO_ERROR,
) -> HTMLResponse:
    view = source_control_page(instance_of(request), provider)
    return form_page(
        request,
        viewer,
        "source_control.html",
        view,
        form_error,
        section="settings",
        tab="source-control",
    )


@router.get(PAGE, response_class=HTMLResponse)
def source_control(request: Request, viewer: ViewerDep, provider: ProviderSlug = None) -> Response:
    """Return the connection in use, the stored one, the form of a provider and the settings."""
    return _page(request, viewer, provider)


@router.post(PAGE, response_class=HTMLResponse)
def save_connection(request: Request, viewer: AdminDep, posted: Posted) -> Response:
    """Store a provider's configuration (used from the instance's next start)."""
    store = instance_of(request).source_control
    try:
        stored = store.put_config(posted_config(posted, store.config()))
    except MirelError as error:
        failed = FormError.of("connection", error, **typed_values(posted))
        return _page(request, viewer, slug_of(posted.get("provider", "")), failed)
    tell(
        request,
        viewer,
        f"The {stored['provider']} configuration is stored; the instance uses it from its next "
        "start and keeps its present connection until then.",
    )
    return redirect(PAGE)


@router.post(f"{PAGE}/forget", response_class=HTMLResponse)
def forget_connection(request: Request, viewer: AdminDep) -> Response:
    """Forget the stored configuration: the instance's own settings apply from its next start."""
    if instance_of(request).source_control.delete_config():
        message = (
            "The stored configuration is forgotten; from its next start the instance connects "
            "with its own settings."
        )
    else:
        message = "No configuration was stored; nothing changed."
    tell(request, viewer, message)
    return redirect(PAGE)


@router.post(f"{PAGE}/settings", response_class=HTMLResponse)
def save_settings(request: Request, viewer: AdminDep, posted: Posted) -> Response:
    """Replace the source control settings."""
    try:
        instance_of(request).source_control.put_settings(posted_settings(posted))
    except MirelError as error:
        return _page(request, viewer, form_error=FormError.of("settings", error))
    tell(request, viewer, "The source control settings are saved.")
    return redirect(PAGE)


@router.post(f"{PAGE}/test", response_class=HTMLResponse)
def test_connection(request: Request, viewer: AdminDep) -> Response:
    """Check the connection in use (a read, a probe reference written and removed, the host's
    API) and say what it found."""
    check = instance_of(request).hub.catalog.check_connection()
    tell(request, viewer, check.message, kind="success" if check.connected else "error")
    return redirect(PAGE)

"""Manifests: Create manifest (a branch with a new, empty one) and one manifest's page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from mirel.errors import MirelError
from mirel.web.auth import EditorDep, Viewer, ViewerDep, instance_of
from mirel.web.forms import NO_ERROR, FormError, Text, redirect, tell_change
from mirel.web.render import page
from mirel.web.views.settings import manifest_page

router = APIRouter()


def _new_manifest(
    request: Request, viewer: Viewer, form_error: FormError = NO_ERROR
) -> HTMLResponse:
    return page(
        request,
        viewer,
        "manifest_new.html",
        status=form_error.status,
        form_error=form_error,
        section="settings",
        tab="overview",
    )


@router.get("/settings/manifests/new", response_class=HTMLResponse)
def new_manifest(request: Request, viewer: EditorDep) -> Response:
    """Return Create manifest: a name, then a branch with the new manifest."""
    return _new_manifest(request, viewer)


@router.post("/settings/manifests", response_class=HTMLResponse)
def create_manifest(request: Request, viewer: EditorDep, name: Text = "") -> Response:
    """Propose a new, empty manifest."""
    try:
        change = instance_of(request).hub.manifests.create(name.strip(), viewer.author)
    except MirelError as error:
        return _new_manifest(request, viewer, FormError.of("create-manifest", error, name=name))
    tell_change(request, viewer, f"Manifest {name.strip()} is ready on its branch.", change)
    return redirect("/settings")


@router.get("/manifests/{name}", response_class=HTMLResponse)
def manifest(request: Request, viewer: ViewerDep, name: str) -> Response:
    """Return one manifest: each pin, what it resolves to, and who publishes it."""
    view = manifest_page(instance_of(request).hub, name)
    return page(request, viewer, "manifest.html", view=view, section="settings", tab="overview")

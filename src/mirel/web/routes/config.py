"""Source control settings, the Releases pane: the manifest this instance publishes (Edit config),
every manifest, and what each instance sharing the repository reported."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from mirel.errors import MirelError
from mirel.web.auth import AdminDep, Viewer, ViewerDep, instance_of
from mirel.web.forms import NO_ERROR, FormError, Text, redirect, tell
from mirel.web.render import page
from mirel.web.views.settings import config_page, settings_page

router = APIRouter()


@router.get("/settings", response_class=HTMLResponse)
def settings(request: Request, viewer: ViewerDep) -> Response:
    """Return the Releases pane: the manifest this instance publishes, every manifest."""
    view = settings_page(instance_of(request))
    return page(request, viewer, "settings.html", view=view, section="settings", tab="overview")


def _config(request: Request, viewer: Viewer, form_error: FormError = NO_ERROR) -> HTMLResponse:
    return page(
        request,
        viewer,
        "config.html",
        status=form_error.status,
        view=config_page(instance_of(request)),
        form_error=form_error,
        section="settings",
        tab="overview",
    )


@router.get("/settings/config", response_class=HTMLResponse)
def edit_config(request: Request, viewer: AdminDep) -> Response:
    """Return Edit config: pick the manifest this instance publishes from `manifests/`."""
    return _config(request, viewer)


@router.post("/settings/config", response_class=HTMLResponse)
def save_config(request: Request, viewer: AdminDep, manifest: Text = "") -> Response:
    """Choose the manifest this instance publishes (empty: none); its next deploy applies it."""
    try:
        chosen = instance_of(request).state.select_manifest(manifest or None)
    except MirelError as error:
        return _config(request, viewer, FormError.of("config", error))
    tell(
        request,
        viewer,
        f"This instance publishes {chosen or 'no manifest (working versions)'} from its next "
        "deploy, which the poller runs within seconds.",
        link="/deployments",
        link_text="See the deployments",
    )
    return redirect("/settings")

"""The Releases tab: every element against every manifest, the release picker of one cell, the
pending changes (add, remove, clear), Review, and Create pull request for all of them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from mirel.errors import MirelError
from mirel.instance.accounts.sessions import save_draft, update_draft
from mirel.web import urls
from mirel.web.auth import EditorDep, Viewer, ViewerDep, instance_of
from mirel.web.forms import (
    NO_ERROR,
    FormError,
    PageNumber,
    Search,
    Text,
    redirect,
    tell,
    tell_change,
)
from mirel.web.render import page
from mirel.web.views.releases_tab import (
    draft_change,
    draft_without,
    matrix_page,
    pin_changes,
    release_pick,
    review_page,
)

router = APIRouter()

Back = Annotated[str, Query(max_length=2000)]


@router.get("/settings/releases", response_class=HTMLResponse)
def releases_tab(
    request: Request,
    viewer: ViewerDep,
    q: Search = "",
    kind: Search = "",
    page_number: PageNumber = 1,
) -> Response:
    """Return the Releases tab: every element (a page of them) against every manifest."""
    view = matrix_page(instance_of(request).hub, viewer.session.draft, q, kind, page_number)
    return page(
        request,
        viewer,
        "matrix.html",
        view=view,
        q=q,
        kind=kind,
        back=urls.releases_tab(q, kind, page_number),
        section="releases",
        tab="releases",
    )


@router.get("/settings/releases/pick", response_class=HTMLResponse)
def pick(
    request: Request,
    viewer: EditorDep,
    element: Search = "",
    manifest: Search = "",
    back: Back = "/settings/releases",
) -> Response:
    """Return the release picker of one cell (the Releases tab without JavaScript)."""
    view = release_pick(instance_of(request).hub, viewer.session.draft, element, manifest)
    return page(
        request,
        viewer,
        "pick.html",
        view=view,
        back=urls.safe_next(back, "/settings/releases"),
        section="releases",
        tab="releases",
    )


def _wants_json(request: Request) -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


@router.post("/settings/releases/draft", response_class=HTMLResponse)
def add_to_draft(
    request: Request,
    viewer: EditorDep,
    element: Text = "",
    manifest: Text = "",
    release: Text = "",
    back: Text = "/settings/releases",
) -> Response:
    """Add one cell's change to the pending changes (or drop it when it restores the pin)."""
    instance = instance_of(request)
    # A refusal goes through the error pipeline: a page, or for the script the JSON envelope.
    draft = update_draft(
        instance.sessions,
        viewer.session.id_hash,
        lambda current: draft_change(instance.hub, current, manifest, element, release),
    )
    if _wants_json(request):
        return JSONResponse({"count": len(draft), "changes": draft})
    return redirect(urls.safe_next(back, "/settings/releases"))


@router.post("/settings/releases/draft/remove", response_class=HTMLResponse)
def remove_from_draft(
    request: Request, viewer: EditorDep, manifest: Text = "", element: Text = ""
) -> Response:
    """Take one change out of the pending changes."""
    kept = draft_without(viewer.session.draft, manifest, element)
    save_draft(instance_of(request).sessions, viewer.session.id_hash, kept)
    return redirect("/settings/releases/review" if kept else "/settings/releases")


@router.post("/settings/releases/draft/clear", response_class=HTMLResponse)
def clear_draft(request: Request, viewer: EditorDep) -> Response:
    """Forget every pending change."""
    save_draft(instance_of(request).sessions, viewer.session.id_hash, [])
    tell(request, viewer, "The pending changes are discarded.")
    return redirect("/settings/releases")


def _review(request: Request, viewer: Viewer, form_error: FormError = NO_ERROR) -> HTMLResponse:
    return page(
        request,
        viewer,
        "review.html",
        status=form_error.status,
        view=review_page(instance_of(request).hub, viewer.session.draft),
        form_error=form_error,
        section="releases",
        tab="releases",
    )


@router.get("/settings/releases/review", response_class=HTMLResponse)
def review(request: Request, viewer: EditorDep) -> Response:
    """Return Review: each pending change, what each instance would change once they are
    merged, and Create pull request for all of them."""
    return _review(request, viewer)


@router.post("/settings/releases/review", response_class=HTMLResponse)
def create_pull_request(request: Request, viewer: EditorDep, message: Text = "") -> Response:
    """Propose every pending change in one branch and pull request."""
    instance = instance_of(request)
    changes = pin_changes(viewer.session.draft)
    try:
        change = instance.hub.manifests.change_pins(changes, viewer.author, message.strip() or None)
    except MirelError as error:
        return _review(request, viewer, FormError.of("review", error, message=message))
    save_draft(instance.sessions, viewer.session.id_hash, [])
    tell_change(request, viewer, f"{len(changes)} pin changes are ready on one branch.", change)
    return redirect("/settings/releases")

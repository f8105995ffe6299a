"""Pull requests (local provider), branches, and editing an element's files on a branch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from mirel.errors import InvalidInput, MergeRefused, MirelError, Problem
from mirel.web import urls
from mirel.web.auth import AdminDep, EditorDep, Viewer, ViewerDep, instance_of
from mirel.web.forms import NO_ERROR, FormError, Search, Text, redirect, tell, tell_change
from mirel.web.render import page
from mirel.web.views.branches import (
    FileEditor,
    branch_page,
    file_editor,
    file_editor_again,
)
from mirel.web.views.pulls import pull_list, pull_page

router = APIRouter()

Number = Annotated[int, Path(ge=1, le=2**31)]
Content = Annotated[str, Form(max_length=5_000_000)]


@router.get("/pulls", response_class=HTMLResponse)
def pulls(
    request: Request,
    viewer: ViewerDep,
    state: Search = "open",
    before: Annotated[int | None, Query(ge=1, le=2**31)] = None,
) -> Response:
    """Return pull requests, newest first, 50 at a time."""
    view = pull_list(instance_of(request).hub, state, before)
    return page(request, viewer, "pulls.html", view=view, section="pulls")


def _pull(
    request: Request,
    viewer: Viewer,
    number: int,
    form_error: FormError = NO_ERROR,
    refused: Sequence[Problem] | None = None,
) -> HTMLResponse:
    view = pull_page(instance_of(request).hub, number, refused)
    return page(
        request,
        viewer,
        "pull.html",
        status=form_error.status,
        view=view,
        form_error=form_error,
        section="pulls",
    )


@router.get("/pulls/{number}", response_class=HTMLResponse)
def pull(request: Request, viewer: ViewerDep, number: Number) -> Response:
    """Return one pull request: what each instance would change if it were merged now, what
    would refuse its merge, the source of the releases it adds, and its diff."""
    return _pull(request, viewer, number)


@router.post("/pulls/{number}/merge", response_class=HTMLResponse)
def merge(request: Request, viewer: AdminDep, number: Number, head_sha: Text = "") -> Response:
    """Merge a pull request into the default branch, as it was shown (`head_sha`); instances
    deploy it next."""
    pulls = instance_of(request).hub.pulls
    try:
        merged = pulls.merge(number, viewer.author, head_sha or None)
    except MergeRefused as error:
        return _pull(request, viewer, number, FormError.of("merge", error), error.problems)
    except MirelError as error:
        return _pull(request, viewer, number, FormError.of("merge", error))
    tell(
        request,
        viewer,
        f"Pull request #{number} is merged into {merged.base_branch}; the instances deploy it now.",
        link="/deployments",
        link_text="See this instance's deployments",
    )
    return redirect(urls.pull(number))


@router.post("/pulls/{number}/close", response_class=HTMLResponse)
def close(request: Request, viewer: EditorDep, number: Number) -> Response:
    """Close a pull request without merging (its branch goes, freeing what it claimed)."""
    pulls = instance_of(request).hub.pulls
    try:
        pulls.close(number, viewer.author)
    except MirelError as error:
        return _pull(request, viewer, number, FormError.of("merge", error))
    tell(request, viewer, f"Pull request #{number} is closed without merging.")
    return redirect(urls.pull(number))


# -- branches -------------------------------------------------------------------------------------


@router.get("/branches/{branch:path}", response_class=HTMLResponse)
def branch(request: Request, viewer: ViewerDep, branch: str) -> Response:
    """Return a branch: what it changes, its commits, its pull request or hotfix."""
    view = branch_page(instance_of(request).hub, branch)
    return page(request, viewer, "branch.html", view=view, section="pulls")


# -- editing a file -------------------------------------------------------------------------------


def _editor(
    request: Request,
    viewer: Viewer,
    view: FileEditor,
    message: str = "",
    form_error: FormError = NO_ERROR,
) -> HTMLResponse:
    return page(
        request,
        viewer,
        "edit.html",
        status=form_error.status,
        view=view,
        message=message,
        form_error=form_error,
        section="pulls" if view.branch else "home",
    )


@router.get("/edit", response_class=HTMLResponse)
def edit(
    request: Request,
    viewer: EditorDep,
    element: Search = "",
    path: Search = "",
    branch: Search = "",
) -> Response:
    """Return the editor of one file of an element, on a branch or on a new branch from main."""
    return _editor(request, viewer, file_editor(instance_of(request).hub, element, path, branch))


@router.post("/edit", response_class=HTMLResponse)
def commit_edit(
    request: Request,
    viewer: EditorDep,
    element: Text = "",
    path: Text = "",
    branch: Text = "",
    content: Content = "",
    message: Text = "",
) -> Response:
    """Commit the edited file: on top of the branch, or on a new branch with a pull request."""
    hub = instance_of(request).hub
    # Browsers send a textarea's lines ending in CRLF; files in the repository keep LF.
    text = content.replace("\r\n", "\n")
    try:
        if not path.strip():
            raise InvalidInput("name the file: its path inside the element's folder")
        change = hub.elements.edit_file(
            element,
            path,
            text.encode("utf-8"),
            viewer.author,
            branch=branch or None,
            message=(message.strip() + "\n") if message.strip() else None,
        )
    except MirelError as error:
        typed = file_editor_again(hub, element, path, branch, text)
        return _editor(request, viewer, typed, message, FormError.of("edit", error))
    if branch:
        tell(request, viewer, f"Committed {path.strip()} to {branch}.")
        return redirect(urls.branch(branch))
    tell_change(request, viewer, f"Your change to {path.strip()} is on a new branch.", change)
    if change.pull_request is not None:
        return redirect(urls.pull(change.pull_request.number))
    return redirect(urls.branch(change.branch_name))

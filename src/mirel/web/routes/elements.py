"""An element's page and its Releases and history: create, publish, hotfix, compare, delete."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from mirel.core.versions import Bump
from mirel.errors import HotfixHasCommits, InvalidInput, MirelError
from mirel.web import urls
from mirel.web.auth import EditorDep, Viewer, ViewerDep, instance_of
from mirel.web.forms import (
    NO_ERROR,
    FormError,
    Search,
    Text,
    form_page,
    redirect,
    tell,
    tell_change,
)
from mirel.web.render import page
from mirel.web.views.elements import (
    element_at,
    element_page,
    hotfix_to_close,
    live_file,
    patch_release,
    publish_confirmation,
    release_comparison,
    release_form,
    release_to_delete,
    repeated_release,
)

router = APIRouter(prefix="/elements/{kind}/{name}")


def _element(
    request: Request,
    viewer: Viewer,
    kind: str,
    name: str,
    *,
    releases_open: bool,
    before: str = "",
    form_error: FormError = NO_ERROR,
) -> HTMLResponse:
    view = element_page(instance_of(request), kind, name, before)
    return form_page(
        request,
        viewer,
        "element.html",
        view,
        form_error,
        releases_open=releases_open,
        section="home",
    )


@router.get("", response_class=HTMLResponse)
def element(
    request: Request, viewer: ViewerDep, kind: str, name: str, before: Search = ""
) -> Response:
    """Return an element's page: its live version, files and history."""
    return _element(request, viewer, kind, name, releases_open=False, before=before)


@router.get("/releases", response_class=HTMLResponse)
def releases(
    request: Request, viewer: ViewerDep, kind: str, name: str, before: Search = ""
) -> Response:
    """Return an element's page with Releases and history open."""
    return _element(request, viewer, kind, name, releases_open=True, before=before)


# -- create a release -------------------------------------------------------------------------


def _bump(text: str) -> Bump:
    try:
        return Bump(text)
    except ValueError:
        raise InvalidInput(f"choose major, minor or patch, not {text[:20]!r}") from None


def _new_release(
    request: Request, viewer: Viewer, kind: str, name: str, bump: str, description: str
) -> HTMLResponse:
    view = release_form(instance_of(request).hub, kind, name)
    return page(
        request,
        viewer,
        "release_new.html",
        view=view,
        bump=str(_bump(bump)),
        description=description,
        section="home",
    )


def _confirm(
    request: Request,
    viewer: Viewer,
    kind: str,
    name: str,
    bump: str,
    description: str,
    form_error: FormError = NO_ERROR,
) -> HTMLResponse:
    hub = instance_of(request).hub
    view = release_form(hub, kind, name)
    chosen = _bump(bump)
    version = view.versions[str(chosen)]
    return page(
        request,
        viewer,
        "release_confirm.html",
        status=form_error.status,
        view=view,
        version=version,
        same_as=repeated_release(hub, view.element, version),
        bump=str(chosen),
        description=description,
        form_error=form_error,
        section="home",
    )


@router.get("/releases/new", response_class=HTMLResponse)
def new_release(
    request: Request, viewer: EditorDep, kind: str, name: str, bump: Search = "minor"
) -> Response:
    """Return the Create new form: Major, Minor or Patch with the number each gives."""
    return _new_release(request, viewer, kind, name, bump, "")


# The two steps before a release is created are posts that change nothing: a description can be
# longer than an address may be, and it must survive going back and forth.


@router.post("/releases/new", response_class=HTMLResponse)
def new_release_again(
    request: Request,
    viewer: EditorDep,
    kind: str,
    name: str,
    bump: Text = "minor",
    description: Text = "",
) -> Response:
    """Return the Create new form again with what was chosen (Back from the confirmation)."""
    return _new_release(request, viewer, kind, name, bump, description)


@router.post("/releases/confirm", response_class=HTMLResponse)
def confirm_release(
    request: Request,
    viewer: EditorDep,
    kind: str,
    name: str,
    bump: Text = "minor",
    description: Text = "",
) -> Response:
    """Return the confirmation step: the version and description the release will have."""
    return _confirm(request, viewer, kind, name, bump, description)


@router.post("/releases", response_class=HTMLResponse)
def create_release(
    request: Request,
    viewer: EditorDep,
    kind: str,
    name: str,
    version: Text = "",
    bump: Text = "minor",
    description: Text = "",
    allow_same: Text = "",
) -> Response:
    """Create the release's branch with its artifact and pull request; say where it is."""
    hub = instance_of(request).hub
    element = element_at(hub, kind, name)
    try:
        change = hub.releases.create(
            element.reference,
            viewer.author,
            version=version,
            description=description,
            allow_same=allow_same == "yes",
        )
    except MirelError as error:
        failed = FormError.of("create-release", error)
        return _confirm(request, viewer, kind, name, bump, description, failed)
    tell_change(
        request, viewer, f"Release {version} of {element.name} is ready on its branch.", change
    )
    return redirect(urls.element(kind, name, releases=True))


# -- one release: publish, hotfix, compare, delete ----------------------------------------------


@router.get("/releases/{version}/publish", response_class=HTMLResponse)
def confirm_publish(
    request: Request,
    viewer: EditorDep,
    kind: str,
    name: str,
    version: str,
    manifest: Search = "",
) -> Response:
    """Return the confirmation of publishing a release to a manifest: the pin it replaces and
    what each instance would change once it is merged (or why it cannot be proposed)."""
    try:
        view = publish_confirmation(instance_of(request).hub, kind, name, version, manifest)
    except MirelError as error:
        failed = FormError.of(f"release-{version}", error)
        return _element(request, viewer, kind, name, releases_open=True, form_error=failed)
    return page(request, viewer, "publish_confirm.html", view=view, section="home")


@router.post("/releases/{version}/publish", response_class=HTMLResponse)
def publish(
    request: Request,
    viewer: EditorDep,
    kind: str,
    name: str,
    version: str,
    manifest: Text = "",
) -> Response:
    """Propose pinning a release in a manifest (Publish to ...)."""
    hub = instance_of(request).hub
    element = element_at(hub, kind, name)
    try:
        change = hub.manifests.set_pin(manifest, element.reference, version, viewer.author)
    except MirelError as error:
        failed = FormError.of(f"release-{version}", error)
        return _element(request, viewer, kind, name, releases_open=True, form_error=failed)
    tell_change(request, viewer, f"Publishing {element.name} {version} to {manifest}.", change)
    return redirect(urls.element(kind, name, releases=True))


@router.post("/releases/{version}/hotfix", response_class=HTMLResponse)
def create_hotfix(
    request: Request, viewer: EditorDep, kind: str, name: str, version: str
) -> Response:
    """Make the hotfix branch of a release's line, holding that line's newest files."""
    hub = instance_of(request).hub
    element = element_at(hub, kind, name)
    try:
        change = hub.hotfixes.create(element.reference, version, viewer.author)
    except MirelError as error:
        failed = FormError.of(f"release-{version}", error)
        return _element(request, viewer, kind, name, releases_open=True, form_error=failed)
    tell(
        request,
        viewer,
        f"Hotfix branch {change.branch_name} is open with the files of the {version} line. "
        "Commit your fix to it, then create the patch release.",
        link=urls.branch(change.branch_name),
        link_text="Open the hotfix branch",
    )
    return redirect(urls.element(kind, name, releases=True))


@router.get("/releases/{version}/compare", response_class=HTMLResponse)
def compare(
    request: Request,
    viewer: ViewerDep,
    kind: str,
    name: str,
    version: str,
    against: Search = "",
) -> Response:
    """Return the files that differ between a release and another one (default: the one
    before it)."""
    view = release_comparison(instance_of(request).hub, kind, name, version, against or None)
    return page(request, viewer, "compare.html", view=view, section="home")


def _delete_page(
    request: Request,
    viewer: Viewer,
    kind: str,
    name: str,
    version: str,
    form_error: FormError = NO_ERROR,
) -> HTMLResponse:
    view = release_to_delete(instance_of(request).hub, kind, name, version)
    return page(
        request,
        viewer,
        "release_delete.html",
        status=form_error.status,
        view=view,
        form_error=form_error,
        section="home",
    )


@router.get("/releases/{version}/delete", response_class=HTMLResponse)
def confirm_delete(
    request: Request, viewer: EditorDep, kind: str, name: str, version: str
) -> Response:
    """Return the confirmation step of deleting a release (or why it cannot go)."""
    return _delete_page(request, viewer, kind, name, version)


@router.post("/releases/{version}/delete", response_class=HTMLResponse)
def delete_release(
    request: Request, viewer: EditorDep, kind: str, name: str, version: str
) -> Response:
    """Propose removing a release's artifact; refused while a manifest pins it."""
    hub = instance_of(request).hub
    element = element_at(hub, kind, name)
    try:
        change = hub.releases.delete(element.reference, version, viewer.author)
    except MirelError as error:
        failed = FormError.of("delete-release", error)
        return _delete_page(request, viewer, kind, name, version, failed)
    tell_change(request, viewer, f"Deleting release {version} of {element.name}.", change)
    return redirect(urls.element(kind, name, releases=True))


# -- hotfixes ---------------------------------------------------------------------------------


def _patch_confirm(
    request: Request,
    viewer: Viewer,
    kind: str,
    name: str,
    line: str,
    description: str,
    form_error: FormError = NO_ERROR,
) -> HTMLResponse:
    view = patch_release(instance_of(request).hub, kind, name, line)
    return page(
        request,
        viewer,
        "hotfix_release.html",
        status=form_error.status,
        view=view,
        description=description,
        form_error=form_error,
        section="home",
    )


@router.get("/hotfixes/{line}/release", response_class=HTMLResponse)
def confirm_patch_release(
    request: Request, viewer: EditorDep, kind: str, name: str, line: str
) -> Response:
    """Return the confirmation step of a hotfix's patch release."""
    return _patch_confirm(request, viewer, kind, name, line, "")


@router.post("/hotfixes/{line}/confirm", response_class=HTMLResponse)
def confirm_patch_release_described(
    request: Request, viewer: EditorDep, kind: str, name: str, line: str, description: Text = ""
) -> Response:
    """Return the confirmation step of a patch release with the description already written."""
    return _patch_confirm(request, viewer, kind, name, line, description)


@router.post("/hotfixes/{line}/release", response_class=HTMLResponse)
def create_patch_release(
    request: Request,
    viewer: EditorDep,
    kind: str,
    name: str,
    line: str,
    description: Text = "",
    allow_same: Text = "",
) -> Response:
    """Propose the patch release built from the hotfix branch (only the artifact merges)."""
    hub = instance_of(request).hub
    element = element_at(hub, kind, name)
    try:
        change = hub.hotfixes.release(
            element.reference,
            line,
            viewer.author,
            description,
            allow_same=allow_same == "yes",
        )
    except MirelError as error:
        failed = FormError.of("patch-release", error)
        return _patch_confirm(request, viewer, kind, name, line, description, failed)
    version = change.branch_name.rsplit("/", 1)[-1]
    tell_change(
        request,
        viewer,
        f"Patch release {version} of {element.name} is ready on its branch.",
        change,
    )
    return redirect(urls.element(kind, name, releases=True))


def _close_confirm(
    request: Request,
    viewer: Viewer,
    kind: str,
    name: str,
    line: str,
    form_error: FormError = NO_ERROR,
) -> HTMLResponse:
    view = hotfix_to_close(instance_of(request).hub, kind, name, line)
    return page(
        request,
        viewer,
        "hotfix_close.html",
        status=form_error.status,
        view=view,
        form_error=form_error,
        section="home",
    )


@router.get("/hotfixes/{line}/close", response_class=HTMLResponse)
def confirm_close_hotfix(
    request: Request, viewer: EditorDep, kind: str, name: str, line: str
) -> Response:
    """Return the confirmation of closing a hotfix, with the commits it would drop."""
    return _close_confirm(request, viewer, kind, name, line)


@router.post("/hotfixes/{line}/close", response_class=HTMLResponse)
def close_hotfix(
    request: Request,
    viewer: EditorDep,
    kind: str,
    name: str,
    line: str,
    commit_sha: Text = "",
    confirmed: Text = "",
) -> Response:
    """Drop an element's hotfix branch at the commit the person saw; one with commits after its
    start only once they confirmed it on the page listing them."""
    hub = instance_of(request).hub
    element = element_at(hub, kind, name)
    try:
        closed = hub.hotfixes.close(
            element.reference,
            line,
            drop_commits=confirmed == "yes",
            expected_sha=commit_sha or None,
        )
    except HotfixHasCommits:
        return _close_confirm(request, viewer, kind, name, line)
    except MirelError as error:
        if confirmed:
            return _close_confirm(
                request, viewer, kind, name, line, FormError.of("close-hotfix", error)
            )
        failed = FormError.of(f"hotfix-{line}", error)
        return _element(request, viewer, kind, name, releases_open=True, form_error=failed)
    tell(request, viewer, f"Hotfix branch {closed.branch_name} is closed.")
    return redirect(urls.element(kind, name, releases=True))


# -- files ------------------------------------------------------------------------------------


@router.get("/files/{path:path}", response_class=HTMLResponse)
def live_file_page(
    request: Request, viewer: ViewerDep, kind: str, name: str, path: str
) -> Response:
    """Return one file of what this instance serves for the element."""
    view = live_file(instance_of(request), kind, name, path)
    return page(request, viewer, "file.html", view=view, section="home")

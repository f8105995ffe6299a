"""Source control settings: the Releases pane, manifests, the Releases tab, users and tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from mirel.errors import MirelError
from mirel.instance.accounts.sessions import save_draft, update_draft
from mirel.instance.accounts.tokens import create_token, revoke_token
from mirel.instance.accounts.users import (
    UserInfo,
    create_user,
    delete_user,
    set_password,
    set_role,
)
from mirel.web import urls
from mirel.web.auth import AdminDep, EditorDep, Viewer, ViewerDep, instance_of
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
from mirel.web.views.accounts import tokens_page, users_page
from mirel.web.views.releases_tab import (
    draft_change,
    draft_without,
    matrix_page,
    pin_changes,
    release_pick,
)
from mirel.web.views.settings import config_page, manifest_page, settings_page

router = APIRouter()


# -- the Releases pane ----------------------------------------------------------------------------


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


# -- manifests ------------------------------------------------------------------------------------


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


# -- the Releases tab -----------------------------------------------------------------------------

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
        draft=viewer.session.draft,
        form_error=form_error,
        section="releases",
        tab="releases",
    )


@router.get("/settings/releases/review", response_class=HTMLResponse)
def review(request: Request, viewer: EditorDep) -> Response:
    """Return Review: each pending change, and Create pull request for all of them."""
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


# -- users ----------------------------------------------------------------------------------------


def _users(request: Request, viewer: Viewer, form_error: FormError = NO_ERROR) -> HTMLResponse:
    view = users_page(instance_of(request).sessions)
    return page(
        request,
        viewer,
        "users.html",
        status=form_error.status,
        view=view,
        form_error=form_error.placed(view.forms),
        section="settings",
        tab="users",
    )


@router.get("/settings/users", response_class=HTMLResponse)
def users(request: Request, viewer: AdminDep) -> Response:
    """Return the users of this instance and the form to add one."""
    return _users(request, viewer)


@router.post("/settings/users", response_class=HTMLResponse)
def add_user(
    request: Request,
    viewer: AdminDep,
    username: Text = "",
    email: Text = "",
    role: Text = "viewer",
    password: Text = "",
) -> Response:
    """Create a user."""
    try:
        user = create_user(instance_of(request).sessions, username.strip(), password, role, email)
    except MirelError as error:
        failed = FormError.of("add-user", error, username=username, email=email, role=role)
        return _users(request, viewer, failed)
    tell(request, viewer, f"User {user.username} can sign in now, as {user.role}.")
    return redirect("/settings/users")


def _user_change(
    request: Request,
    viewer: Viewer,
    username: str,
    change: Callable[[sessionmaker[Session]], UserInfo],
    done: Callable[[UserInfo], str],
) -> Response:
    """Apply one change to a user; say what it did, or show why not beside their row."""
    try:
        user = change(instance_of(request).sessions)
    except MirelError as error:
        return _users(request, viewer, FormError.of(f"user-{username}", error))
    tell(request, viewer, done(user))
    return redirect("/settings/users")


@router.post("/settings/users/{username}/role", response_class=HTMLResponse)
def change_role(request: Request, viewer: AdminDep, username: str, role: Text = "") -> Response:
    """Give a user another role."""
    return _user_change(
        request,
        viewer,
        username,
        lambda sessions: set_role(sessions, username, role),
        lambda user: f"{user.username} is {user.role} now.",
    )


@router.post("/settings/users/{username}/password", response_class=HTMLResponse)
def change_password(
    request: Request, viewer: AdminDep, username: str, password: Text = ""
) -> Response:
    """Give a user a new password (their sessions end)."""
    return _user_change(
        request,
        viewer,
        username,
        lambda sessions: set_password(sessions, username, password),
        lambda user: f"{user.username} has a new password.",
    )


@router.post("/settings/users/{username}/delete", response_class=HTMLResponse)
def remove_user(request: Request, viewer: AdminDep, username: str) -> Response:
    """Delete a user."""
    return _user_change(
        request,
        viewer,
        username,
        lambda sessions: delete_user(sessions, username),
        lambda user: f"User {user.username} is deleted.",
    )


# -- tokens ---------------------------------------------------------------------------------------

Scopes = Annotated[list[str], Form(max_length=20)]


def _tokens(
    request: Request,
    viewer: Viewer,
    *,
    new_token: str | None = None,
    form_error: FormError = NO_ERROR,
) -> HTMLResponse:
    view = tokens_page(instance_of(request).sessions, new_token)
    return page(
        request,
        viewer,
        "tokens.html",
        status=form_error.status,
        view=view,
        form_error=form_error.placed(view.forms),
        section="settings",
        tab="tokens",
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

"""Settings → Users (admin): add users, change their roles and passwords, delete them."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from mirel.errors import MirelError
from mirel.instance.accounts.users import (
    UserInfo,
    create_user,
    delete_user,
    set_password,
    set_role,
)
from mirel.web.auth import AdminDep, Viewer, instance_of
from mirel.web.forms import NO_ERROR, FormError, Text, form_page, redirect, tell
from mirel.web.views.accounts import users_page

router = APIRouter()


def _users(request: Request, viewer: Viewer, form_error: FormError = NO_ERROR) -> HTMLResponse:
    view = users_page(instance_of(request).sessions)
    return form_page(
        request, viewer, "users.html", view, form_error, section="settings", tab="users"
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

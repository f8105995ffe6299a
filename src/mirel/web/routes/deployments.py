"""Deployments of this instance: the last 100, one with its log, Deploy latest, Test deploy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from mirel.errors import MirelError
from mirel.instance import SUCCESS, UNFINISHED
from mirel.instance.values import caller_trigger
from mirel.web import urls
from mirel.web.auth import AdminDep, EditorDep, Viewer, ViewerDep, instance_of
from mirel.web.forms import NO_ERROR, FormError, Text, redirect, tell
from mirel.web.render import page
from mirel.web.views.deployments import (
    DryRunPage,
    deployments_page,
    dry_run,
    dry_run_page,
)

router = APIRouter()


@router.get("/deployments", response_class=HTMLResponse)
def deployments(request: Request, viewer: ViewerDep) -> Response:
    """Return the last 100 deployments, newest first."""
    view = deployments_page(instance_of(request))
    return page(request, viewer, "deployments.html", view=view, section="deployments")


def _dry_run(
    request: Request,
    viewer: Viewer,
    view: DryRunPage,
    form_error: FormError = NO_ERROR,
) -> HTMLResponse:
    return page(
        request,
        viewer,
        "test_deploy.html",
        status=form_error.status,
        view=view,
        form_error=form_error,
        section="deployments",
    )


@router.get("/deployments/test", response_class=HTMLResponse)
def dry_run_form(request: Request, viewer: EditorDep) -> Response:
    """Return Test deploy: a commit or an open pull request to try on this instance."""
    return _dry_run(request, viewer, dry_run_page(instance_of(request)))


@router.post("/deployments/test", response_class=HTMLResponse)
def dry_run_result(
    request: Request, viewer: EditorDep, commit: Text = "", pull: Text = ""
) -> Response:
    """Return what this instance's deploy of a commit, or of an open pull request merged now,
    would change and what would stop it; nothing changes."""
    instance = instance_of(request)
    try:
        view = dry_run(instance, commit, pull)
    except MirelError as error:
        failed = FormError.of("test-deploy", error)
        return _dry_run(request, viewer, dry_run_page(instance, commit, pull), failed)
    return _dry_run(request, viewer, view)


@router.get("/deployments/{deployment_id}", response_class=HTMLResponse)
def deployment(
    request: Request, viewer: ViewerDep, deployment_id: Annotated[int, Path(ge=1, le=2**62)]
) -> Response:
    """Return one deployment: its changes, errors and log."""
    return page(
        request,
        viewer,
        "deployment.html",
        deployment=instance_of(request).deployments.get(deployment_id),
        section="deployments",
    )


@router.post("/deployments", response_class=HTMLResponse)
def deploy_latest(request: Request, viewer: AdminDep) -> Response:
    """Deploy the default branch's head now, even when it was deployed already."""
    # Named as the seed API names a person: triggered_by `user_<id>`.
    trigger = caller_trigger(viewer.user.username, "user", viewer.user.id)
    done = instance_of(request).deployer.deploy(trigger, force=True)
    if done.status in UNFINISHED:
        # Another deploy held the lease: it looks at the head again when it ends.
        message, kind = (
            f"Deployment #{done.id} is running; this instance deploys the head once more when "
            "it ends.",
            "success",
        )
    elif done.status == SUCCESS:
        message, kind = f"Deployment #{done.id} ended SUCCESS.", "success"
    else:
        message, kind = f"Deployment #{done.id} ended ERROR: nothing went live.", "error"
    tell(request, viewer, message, kind=kind)
    return redirect(urls.deployment(done.id))

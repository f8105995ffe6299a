"""The home page: this instance, its manifest and deployment, and what it serves."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from mirel.web.auth import PUBLIC, ViewerDep, instance_of
from mirel.web.forms import PageNumber, Search
from mirel.web.render import page
from mirel.web.views.home import home_page

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    viewer: ViewerDep,
    q: Search = "",
    kind: Search = "",
    page_number: PageNumber = 1,
) -> Response:
    """Return the home page: the instance, its last deployment, a page of its elements."""
    view = home_page(instance_of(request), q, kind, page_number)
    return page(request, viewer, "home.html", view=view, q=q, section="home")


@router.get("/favicon.ico", dependencies=[PUBLIC])
def favicon() -> Response:
    """Return the site's icon (browsers ask for it on every site)."""
    return Response(_ICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


_ICON = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    b'<rect width="16" height="16" rx="3" fill="#2f5d8a"/>'
    b'<path d="M3 12V4l5 4 5-4v8" stroke="#fff" stroke-width="1.8" fill="none"/></svg>'
)

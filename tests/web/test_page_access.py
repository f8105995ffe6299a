"""Who may see and do what: sign-in, sessions, CSRF tokens and the role of every page route."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.responses import Response
from hypothesis import given
from hypothesis import strategies as st
from web_support import PASSWORD, Browser

from mirel.instance import Instance
from mirel.instance.accounts.users import list_users
from mirel.server import create_app
from mirel.web import urls
from mirel.web.auth import PUBLIC, check_pages_declared, page_roles
from support import refs

ROOT = Path(__file__).resolve().parents[2]
Make = Callable[[str | None], Browser]
SAMPLE = {
    "kind": "app",
    "name": "billing",
    "version": "0.1.0",
    "line": "0.1",
    "number": "1",
    "username": "ada",
    "token_id": "1",
    "deployment_id": "1",
    "branch:path": "main",
    "path:path": "main.rsx",
}


def filled(path: str) -> str:
    """Return a route's path with sample values for its parameters."""
    return re.sub(r"\{([^}]+)\}", lambda match: SAMPLE[match[1]], path)


def state(instance: Instance) -> tuple[dict[str, str], list[object]]:
    """Return what a refused request must leave as it was: every ref and every user."""
    return refs(instance.hub.repo.path), list_users(instance.sessions)


# -- signing in -----------------------------------------------------------------------------------


def test_pages_send_people_who_are_not_signed_in_to_the_sign_in_page(browser: Make) -> None:
    anonymous = browser(None)
    answer = anonymous.request("GET", "/elements/app/billing?before=x")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Felements%2Fapp%2Fbilling%3Fbefore%3Dx"
    page = anonymous.get("/login?next=/settings")
    assert page.form("/login").fields["next"] == "/settings"
    landed = anonymous.submit(page.form("/login"), username="eve", password=PASSWORD)
    assert str(landed.response.url).endswith("/settings")
    assert "Source control settings" in landed.text


def test_a_wrong_password_shows_the_form_again_and_signs_nobody_in(browser: Make) -> None:
    anonymous = browser(None)
    page = anonymous.sign_in("eve", "not the password")
    assert page.status == 401
    assert "wrong user name or password" in page.text
    assert page.form("/login").fields["username"] == "eve"
    assert anonymous.request("GET", "/").status_code == 303  # still signed out


def test_the_session_cookie_is_http_only_and_same_site(instance: Instance) -> None:
    client = Browser(create_app(instance))
    login = client.get("/login")
    signin_cookie = login.response.headers["set-cookie"]
    assert "HttpOnly" in signin_cookie
    assert "SameSite=strict" in signin_cookie
    answer = client.request(
        "POST",
        "/login",
        data={
            "username": "eve",
            "password": PASSWORD,
            "csrf_token": client.csrf or login.form("/login").fields["csrf_token"],
            "next": "/",
        },
    )
    cookies = answer.headers.get_list("set-cookie")
    session = next(cookie for cookie in cookies if cookie.startswith("mirel_session_web="))
    assert "HttpOnly" in session
    assert "SameSite=lax" in session
    assert "Path=/" in session
    client.close()


def test_signing_in_without_the_forms_token_is_refused(browser: Make) -> None:
    anonymous = browser(None)
    answer = anonymous.request(
        "POST", "/login", data={"username": "eve", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert answer.status_code == 403
    assert "security token" in answer.text
    assert anonymous.request("GET", "/").status_code == 303


def test_signing_out_ends_the_session(browser: Make) -> None:
    eve = browser("eve")
    cookie = dict(eve.client.cookies)
    page = eve.post("/logout")
    assert "Sign in to web" in page.text
    eve.client.cookies.clear()
    eve.client.cookies.update(cookie)  # the old cookie, replayed
    assert eve.request("GET", "/").status_code == 303


@given(st.text(max_size=60))
def test_the_next_page_after_sign_in_never_leaves_the_site(target: str) -> None:
    chosen = urls.safe_next(target)
    parts = urlsplit(chosen)
    assert chosen.startswith("/")
    assert not chosen.startswith("//")
    assert not parts.scheme
    assert not parts.netloc
    assert "\\" not in chosen


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example", "/\\evil.example", "javascript:x", ""]
)
def test_known_open_redirects_go_home(target: str) -> None:
    assert urls.safe_next(target) == "/"


# -- CSRF and roles -------------------------------------------------------------------------------


def post_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Return (path, role) of every page route that posts."""
    return sorted(
        (path, str(role))
        for (method, path), role in page_roles(app).items()
        if method == "POST" and path != "/login"
    )


def test_a_form_post_without_the_csrf_token_is_refused_everywhere(
    browser: Make, instance: Instance
) -> None:
    ada = browser("ada")
    before = state(instance)
    for path, _ in post_routes(create_app(instance)):
        for token in (None, "not-the-token"):
            data = {"csrf_token": token} if token else {}
            answer = ada.request("POST", filled(path), data={**data, "manifest": "prod"})
            assert answer.status_code == 403, (path, answer.status_code)
            assert "security token" in answer.text, path
    assert state(instance) == before
    assert ada.get("/").status == 200  # the session itself is fine


def test_a_viewer_is_refused_every_change_even_with_a_valid_form(
    browser: Make, instance: Instance
) -> None:
    vic = browser("vic")
    vic.get("/")
    before = state(instance)
    refused = 0
    for path, role in post_routes(create_app(instance)):
        if role == "viewer":
            continue  # signing out
        answer = vic.request(
            "POST",
            filled(path),
            data={"csrf_token": vic.csrf, "manifest": "prod", "version": "9.0.0", "name": "x"},
        )
        assert answer.status_code == 403, (path, answer.status_code)
        assert "vic is a viewer" in answer.text
        refused += 1
    assert refused > 20
    assert state(instance) == before


def test_an_editor_is_refused_what_needs_an_admin(browser: Make, instance: Instance) -> None:
    eve = browser("eve")
    eve.get("/")
    before = state(instance)
    admin_only = [path for path, role in post_routes(create_app(instance)) if role == "admin"]
    assert "/pulls/{number}/merge" in admin_only
    assert "/deployments" in admin_only
    for path in admin_only:
        answer = eve.request("POST", filled(path), data={"csrf_token": eve.csrf})
        assert answer.status_code == 403, path
        assert "needs the admin role and eve is an editor" in answer.text
    for path in ("/settings/users", "/settings/tokens", "/settings/config"):
        assert eve.get(path).status == 403
    assert state(instance) == before


def test_every_page_route_declares_one_role_and_the_docs_list_them(instance: Instance) -> None:
    table = page_roles(create_app(instance))
    assert all(table.values())
    doc = (ROOT / "docs" / "web.md").read_text(encoding="utf-8")
    documented = {
        (method, path): role
        for method, path, role in re.findall(
            r"^\| (GET|POST) \| `([^`]+)` \| (\w+) \|$", doc, flags=re.MULTILINE
        )
    }
    assert documented == table


def test_an_application_with_an_undeclared_page_refuses_to_start(instance: Instance) -> None:
    app = create_app(instance)

    def sneaky() -> None:
        return None

    app.add_api_route("/sneaky", sneaky, methods=["POST"])
    with pytest.raises(RuntimeError, match="POST /sneaky"):
        check_pages_declared(app)


def test_pages_carry_security_headers_and_the_api_keeps_its_own(browser: Make) -> None:
    eve = browser("eve")
    headers = eve.request("GET", "/").headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    assert "content-security-policy" not in eve.request("GET", "/api/v2/docs").headers


def test_a_crash_is_a_500_page_with_the_page_headers(instance: Instance) -> None:
    app = create_app(instance)

    def boom() -> Response:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom, methods=["GET"], dependencies=[PUBLIC])
    client = Browser(app, raise_app_exceptions=False)
    try:
        answer = client.request("GET", "/boom")
    finally:
        client.close()
    assert answer.status_code == 500
    assert "Something went wrong" in answer.text
    assert "a bug" not in answer.text
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]

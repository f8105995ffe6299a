"""The JSON shape of every answer, pinned: one error pipeline for every kind of failure."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from api_support import Api, Seed, TokenMaker, data, failed

from mirel.http.envelope import INTERNAL_MESSAGE, describe_validation
from mirel.instance import Instance
from mirel.server import create_app


@pytest.fixture
def api(sqlite_api: Api) -> Api:
    """Return the client on SQLite: the shape of answers does not depend on the database."""
    return sqlite_api


@pytest.fixture
def make_token(sqlite_make_token: TokenMaker) -> TokenMaker:
    """Return the token maker of the SQLite instance."""
    return sqlite_make_token


@pytest.fixture
def token(make_token: TokenMaker) -> str:
    """Return a token with every scope."""
    return make_token()


def test_success_is_success_and_data(api: Api, token: str) -> None:
    body = api.get("/source_control/manifests", token).json()
    assert list(body) == ["success", "data"]
    assert body["success"] is True


def test_missing_token_is_401(api: Api) -> None:
    response = api.get("/source_control/manifests")
    assert response.json() == {
        "success": False,
        "message": "no API token; send 'Authorization: Bearer <token>' (create one with "
        "'mirel token create')",
    }
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    ["Bearer mirel_unknown", "Bearer ", "Basic dXNlcjpwYXNz", "mirel_x", "Bearer \xe9t\xe9"],
)
def test_unknown_or_malformed_token_is_401(api: Api, header: str) -> None:
    # Header values travel as bytes; latin-1 keeps non-ASCII ones as they are.
    value = header.encode("latin-1")
    response = api.get("/source_control/manifests", headers={"Authorization": value})
    failed(response, 401)


def test_missing_scope_is_403_naming_it(api: Api, make_token: TokenMaker) -> None:
    token = make_token("source_control:read")
    response = api.get("/source_control/manifests", token)
    assert response.json() == {
        "success": False,
        "message": "this token lacks the scope source_control:releases:read; create a token "
        "with 'mirel token create --scope source_control:releases:read'",
    }
    assert response.status_code == 403


def test_unknown_route_is_404(api: Api, token: str) -> None:
    message = failed(api.get("/source_control/nothing-here", token), 404)
    assert message == (
        "no endpoint GET /api/v2/source_control/nothing-here; the API is described at "
        "/api/v2/openapi.json"
    )
    failed(api.get("/api/v1/anything"), 404)
    failed(api.get("/api/"), 404)  # the pages (tests/web) answer everything outside /api/


def test_wrong_method_is_405(api: Api, token: str) -> None:
    response = api.request("DELETE", "/source_control/manifests", token)
    assert (
        failed(response, 405)
        == "DELETE is not allowed on /api/v2/source_control/manifests; use GET"
    )


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/source_control/manifests/dev", "GET, PUT"),
        ("/source_control/manifests/_batch", "POST"),  # the literal route, not /{name}
        ("/source_control/releases/billing", "GET, POST"),
        ("/source_control/releases/apps/billing", "GET, POST"),
        ("/source_control/elements", "GET, POST"),
        ("/source_control/hotfixes", "GET, POST"),
        ("/source_control/releases_config", "GET, PUT"),
        ("/instance", "GET"),
    ],
)
def test_405_allows_every_method_of_the_path(api: Api, token: str, path: str, allowed: str) -> None:
    # One path served by several routes: Starlette's Allow named the first route's method only.
    response = api.request("OPTIONS", path, token)
    assert failed(response, 405).endswith(f"; use {allowed}")
    assert response.headers["Allow"] == allowed


def test_not_found_is_404_with_the_error_message(api: Api, token: str) -> None:
    assert "staging" in failed(api.get("/source_control/manifests/staging", token), 404)


def test_conflict_is_409(api: Api, token: str, seed: Seed) -> None:
    body = {"release_version": "1.1.0"}
    message = failed(api.post(f"/source_control/releases/{seed.billing}", token, json=body), 409)
    assert "1.1.0" in message


def test_bad_name_is_400(api: Api, token: str) -> None:
    assert "not a valid manifest name" in failed(
        api.get("/source_control/manifests/-bad", token), 400
    )


def test_malformed_json_is_400(api: Api, token: str, seed: Seed) -> None:
    response = api.put(
        f"/source_control/manifests/dev/{seed.billing}",
        token,
        content=b'{"release": ',
        headers={"Content-Type": "application/json"},
    )
    message = failed(response, 400)
    assert message.startswith("the request body is not valid JSON: ")


def test_malformed_json_without_a_token_is_still_401(api: Api, seed: Seed) -> None:
    response = api.put(
        f"/source_control/manifests/dev/{seed.billing}",
        content=b"{",
        headers={"Content-Type": "application/json"},
    )
    failed(response, 401)


def test_malformed_json_without_the_scope_is_403(
    api: Api, make_token: TokenMaker, seed: Seed
) -> None:
    response = api.put(
        f"/source_control/manifests/dev/{seed.billing}",
        make_token("source_control:releases:read"),
        content=b"{",
        headers={"Content-Type": "application/json"},
    )
    assert "source_control:releases:write" in failed(response, 403)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "body field release is missing"),
        ({"release": 1}, "body field release: Input should be a valid string"),
        ([], "the request body must be a JSON object"),
        (None, "the request has no body; send a JSON object"),
    ],
)
def test_invalid_body_is_400_with_one_line(
    api: Api, token: str, seed: Seed, body: object, message: str
) -> None:
    response = api.put(f"/source_control/manifests/dev/{seed.billing}", token, json=body)
    assert failed(response, 400).startswith(message)


def test_invalid_query_parameter_is_400(api: Api, token: str) -> None:
    message = failed(api.get("/source_control/pulls", token, params={"limit": "many"}), 400)
    assert message.startswith("query parameter limit: ")


def test_invalid_path_parameter_is_400(api: Api, token: str) -> None:
    message = failed(api.get("/source_control/pulls/0", token), 400)
    assert message.startswith("path parameter number: ")


def test_text_that_is_not_unicode_is_400(api: Api, token: str, seed: Seed) -> None:
    response = api.put(
        f"/source_control/manifests/dev/{seed.billing}",
        token,
        content=b'{"release": "latest", "commit_message": "\\ud800"}',
        headers={"Content-Type": "application/json"},
    )
    assert "not a Unicode character" in failed(response, 400)


def test_several_problems_are_counted() -> None:
    errors = [
        {"type": "missing", "loc": ("body", "a"), "msg": "Field required"},
        {"type": "missing", "loc": ("body", "b"), "msg": "Field required"},
        {"type": "missing", "loc": ("body", "c"), "msg": "Field required"},
    ]
    assert describe_validation(errors) == "body field a is missing (and 2 more problems)"
    nested = [{"type": "string_type", "loc": ("body", "changes", 0, "manifest"), "msg": "bad"}]
    assert describe_validation(nested) == "body field changes[0].manifest: bad"


@pytest.fixture
def crashing(sqlite_instance: Instance) -> Iterator[Api]:
    """Return a client of an application with one extra route that fails unexpectedly."""
    app = create_app(sqlite_instance)

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/api/v2/_boom", boom)
    client = Api(app, raise_app_exceptions=False)
    yield client
    client.close()


def test_unexpected_exception_is_500_with_a_generic_message(
    crashing: Api, caplog: pytest.LogCaptureFixture
) -> None:
    response = crashing.get("/_boom")
    assert response.json() == {"success": False, "message": INTERNAL_MESSAGE}
    assert response.status_code == 500
    assert "a bug" not in response.text
    assert any("a bug" in (record.exc_text or "") for record in caplog.records)


def test_openapi_document_is_served(api: Api) -> None:
    response = api.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == "mirel"
    assert "/api/v2/source_control/manifests" in document["paths"]
    assert "422" not in str(
        document["paths"]["/api/v2/source_control/manifests/{name}"]["put"]["responses"]
    )


def test_success_answers_hold_only_success_and_data(api: Api, token: str, seed: Seed) -> None:
    assert data(api.get(f"/source_control/releases/{seed.billing}", token))


def test_a_repository_removed_under_the_server_is_a_clear_4xx(
    sqlite_api: Api, sqlite_make_token: TokenMaker, seed: Seed
) -> None:
    token = sqlite_make_token()
    shutil.rmtree(seed.hub.repo.path)
    for path in ("/api/v2/source_control/manifests", "/api/v2/source_control/elements"):
        message = failed(sqlite_api.get(path, token), 400)
        assert "cannot be read" in message
        assert str(seed.hub.repo.path) in message

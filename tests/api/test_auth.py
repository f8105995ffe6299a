"""Acceptance 4: every route needs a token (401) holding its one declared scope, or the write
scope that grants it (403).

The table below is the contract of SPEC.md §5. The tests walk every route of the application, so a
new route either declares a scope and appears here, or fails these tests (and the application
refuses to start: `check_declared`).
"""

from __future__ import annotations

import re

import pytest
from api_support import Api, Seed, TokenMaker, failed, path_values
from fastapi import FastAPI

from mirel.api.auth import WEBHOOK_AUTH, check_declared, require, route_scopes
from mirel.instance import Instance
from mirel.instance.accounts.tokens import IMPLIED, SCOPES
from mirel.server import create_app

RR = "source_control:releases:read"
RW = "source_control:releases:write"
R = "source_control:read"
W = "source_control:write"
D = "source_control:deploy"
T = "source_control:test_deploy"
P = "/api/v2/source_control"

EXPECTED = {
    # compatible endpoints
    ("GET", f"{P}/manifests"): RR,
    # {name:manifest}: any segment but _batch, the batch route's own (so GET _batch is a 405)
    ("GET", f"{P}/manifests/{{name:manifest}}"): RR,
    ("PUT", f"{P}/manifests/{{name:manifest}}"): RW,
    ("POST", f"{P}/manifests/{{name}}/delete"): RW,
    ("PUT", f"{P}/manifests/{{name}}/{{elementUuid}}"): RW,
    ("POST", f"{P}/manifests/{{name}}/{{elementUuid}}/delete"): RW,
    ("GET", f"{P}/releases/{{elementUuid}}"): RR,
    ("POST", f"{P}/releases/{{elementUuid}}"): RW,
    ("PUT", f"{P}/manifests/{{name}}/apps/{{appUuid}}"): RW,
    ("POST", f"{P}/manifests/{{name}}/apps/{{appUuid}}/delete"): RW,
    ("GET", f"{P}/releases/apps/{{appUuid}}"): RR,
    ("POST", f"{P}/releases/apps/{{appUuid}}"): RW,
    ("POST", f"{P}/deploy"): D,
    ("GET", f"{P}/deployment/{{id}}"): D,
    ("POST", f"{P}/deployment/{{id}}/rollback"): RW,
    ("GET", f"{P}/deployments"): D,
    ("POST", f"{P}/test_deploy"): T,
    ("GET", f"{P}/test_connection"): R,
    # mirel's own
    ("GET", f"{P}/elements"): RR,
    ("POST", f"{P}/elements"): W,
    ("POST", f"{P}/branches/{{branch:path}}/commits"): W,
    ("POST", f"{P}/manifests/_batch"): RW,
    ("POST", f"{P}/releases/{{elementUuid}}/{{version}}/delete"): RW,
    ("GET", f"{P}/releases/{{elementUuid}}/{{version}}/diff"): RR,
    ("GET", f"{P}/hotfixes"): RR,
    ("POST", f"{P}/hotfixes"): RW,
    ("POST", f"{P}/hotfixes/{{elementUuid}}/{{line}}/release"): RW,
    ("POST", f"{P}/hotfixes/{{elementUuid}}/{{line}}/close"): RW,
    ("GET", f"{P}/pulls"): R,
    ("GET", f"{P}/pulls/{{number}}"): R,
    ("POST", f"{P}/pulls/{{number}}/merge"): W,
    ("POST", f"{P}/pulls/{{number}}/close"): W,
    ("GET", f"{P}/releases_config"): R,
    ("PUT", f"{P}/releases_config"): W,
    ("GET", f"{P}/config"): R,
    ("POST", f"{P}/config"): W,
    ("PUT", f"{P}/config"): W,
    ("DELETE", f"{P}/config"): W,
    ("GET", f"{P}/settings"): R,
    ("PUT", f"{P}/settings"): W,
    ("GET", "/api/v2/instance"): RR,
    ("GET", "/api/v2/elements"): RR,
    ("GET", "/api/v2/elements/{uuid}"): RR,
    ("GET", "/api/v2/elements/{uuid}/files/{path:path}"): RR,
    ("POST", "/api/v2/webhooks/{provider}"): WEBHOOK_AUTH,
}


def concrete(path: str, seed: Seed) -> str:
    """Return a URL for a route path, with plausible values for its parameters."""
    values = path_values(seed, "feature/auth-check")
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda match: values[match[1]], path)


def test_every_route_declares_the_documented_scope(api: Api) -> None:
    assert route_scopes(api.app) == EXPECTED


def test_the_table_covers_every_route_in_the_openapi_document(api: Api) -> None:
    documented = {
        (method.upper(), path)
        for path, operations in api.get("/openapi.json").json()["paths"].items()
        for method in operations
    }
    tabled = {(method, re.sub(r":\w+}", "}", path)) for method, path in EXPECTED}
    assert documented == tabled


def test_an_application_with_an_undeclared_route_refuses_to_start(instance: Instance) -> None:
    app = create_app(instance)

    def sneaky() -> None:
        return None

    app.add_api_route("/api/v2/sneaky", sneaky, methods=["GET"])
    with pytest.raises(RuntimeError, match="GET /api/v2/sneaky"):
        check_declared(app)


def test_two_scopes_on_one_route_are_refused() -> None:
    app = FastAPI()

    def greedy() -> None:
        return None

    app.add_api_route("/api/v2/x", greedy, dependencies=[require(RR), require(W)])
    with pytest.raises(RuntimeError, match="GET /api/v2/x"):
        check_declared(app)


def test_every_route_needs_a_token_and_its_scope(
    api: Api, make_token: TokenMaker, seed: Seed
) -> None:
    only = {scope: make_token(scope, name=f"only {scope}") for scope in SCOPES}
    # Every scope but the route's and the one that grants it (a write scope grants its read).
    others = {
        scope: make_token(
            *[s for s in SCOPES if s != scope and IMPLIED.get(s) != scope],
            name=f"all but {scope}",
        )
        for scope in SCOPES
    }
    problems: list[str] = []
    for (method, path), scope in sorted(route_scopes(api.app).items()):
        if scope == WEBHOOK_AUTH:
            continue  # test_webhook.py checks its signature
        assert scope is not None, f"{method} {path} declares no scope"
        url = concrete(path, seed)
        body = {} if method in {"POST", "PUT"} else None
        where = f"{method} {path}"

        anonymous = api.request(method, url, json=body)
        if anonymous.status_code != 401 or anonymous.json().get("success") is not False:
            problems.append(f"{where} without a token: {anonymous.status_code}")

        denied = api.request(method, url, others[scope], json=body)
        if denied.status_code != 403:
            problems.append(f"{where} without {scope}: {denied.status_code}")
        elif scope not in failed(denied, 403):
            problems.append(f"{where}: the 403 does not name {scope}")

        allowed = api.request(method, url, only[scope], json=body)
        if allowed.status_code in {401, 403} or allowed.status_code >= 500:
            problems.append(f"{where} with {scope}: {allowed.status_code} {allowed.text}")
    assert problems == []


def test_a_write_scope_grants_its_read_scope_and_nothing_else(
    api: Api, make_token: TokenMaker
) -> None:
    # As in the seed API: a script that may write may read what it writes.
    assert IMPLIED == {RW: RR, W: R}
    releases_writer = make_token(RW, name="releases writer")
    assert api.get("/source_control/manifests", releases_writer).status_code == 200
    assert R in failed(api.get("/source_control/pulls", releases_writer), 403)
    writer = make_token(W, name="writer")
    assert api.get("/source_control/pulls", writer).status_code == 200
    assert RR in failed(api.get("/source_control/manifests", writer), 403)
    # A read scope grants no write, deploy grants no test deploy, and the other way round.
    reader = make_token(RR, R, name="reader")
    assert RW in failed(api.post("/source_control/manifests/dev/delete", reader), 403)
    assert W in failed(api.put("/source_control/releases_config", reader, json={}), 403)
    deployer = make_token(D, name="deployer")
    body = {"deploy_params": {"commit_sha": "main"}}
    assert T in failed(api.post("/source_control/test_deploy", deployer, json=body), 403)
    tester = make_token(T, name="tester")
    assert D in failed(api.post("/source_control/deploy", tester), 403)

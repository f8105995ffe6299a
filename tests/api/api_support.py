"""Helpers of the API tests: the application in process over httpx.ASGITransport, and tokens."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from mirel.http.envelope import API_PREFIX
from mirel.hub import Hub
from mirel.instance import Instance
from mirel.settings import Settings

SECRET = "test-webhook-secret"
SECRET_KEY = "the instance's secret key, long and random enough for a test"

# make_token(*scopes, name=...) -> the secret of a new token (every scope when none are given)
TokenMaker = Callable[..., str]


class Api:
    """A synchronous client of one application, run in process on one event loop."""

    def __init__(self, app: FastAPI, *, raise_app_exceptions: bool = True) -> None:
        self.app = app
        self._runner = asyncio.Runner()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        self._client = httpx.AsyncClient(transport=transport, base_url="http://mirel.test")

    def request(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Return the answer to one request; `path` is relative to /api/v2 unless absolute."""
        url = path if path.startswith("/api/") else API_PREFIX + path
        headers = dict(kwargs.pop("headers", None) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self._runner.run(self._client.request(method, url, headers=headers, **kwargs))

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        """Return the answer to a GET."""
        return self.request("GET", path, token, **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        """Return the answer to a POST."""
        return self.request("POST", path, token, **kwargs)

    def put(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        """Return the answer to a PUT."""
        return self.request("PUT", path, token, **kwargs)

    def close(self) -> None:
        """Close the client and its event loop."""
        self._runner.run(self._client.aclose())
        self._runner.close()


def data(response: httpx.Response, status: int = 200) -> Any:
    """Return the `data` of a successful answer, checking its status and envelope."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"success", "data"}, body
    assert body["success"] is True
    return body["data"]


def failed(response: httpx.Response, status: int) -> str:
    """Return the message of a failed answer, checking its status and envelope."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"success", "message"}, body
    assert body["success"] is False
    assert isinstance(body["message"], str)
    assert body["message"]
    assert "\n" not in body["message"]
    return str(body["message"])


def assert_change_request(found: Any) -> None:
    """Check the shape every write answers."""
    assert set(found) == {"commit_sha", "url", "branch_name", "pull_request"}
    assert isinstance(found["commit_sha"], str)
    assert len(found["commit_sha"]) == 40
    assert isinstance(found["branch_name"], str)
    assert isinstance(found["url"], str)
    assert set(found["pull_request"]) == {"number", "url", "state"}
    assert found["pull_request"]["state"] == "open"


@dataclass(frozen=True)
class Seed:
    """The repository every API test starts from."""

    hub: Hub
    billing: str  # app: releases 1.0.0 and 1.1.0
    nightly: str  # workflow: release 1.0.0
    draft: str  # app without releases


def path_values(seed: Seed, branch: str) -> dict[str, str]:
    """Return, per path parameter of the API, a value naming something in the seeded
    repository (`branch` for {branch}: each test writes to its own)."""
    return {
        "name": "dev",
        "elementUuid": seed.billing,
        "appUuid": seed.billing,
        "uuid": seed.billing,
        "version": "1.0.0",
        "line": "1.0",
        "number": "1",
        "id": "1",
        "branch": branch,
        "path": "main.rsx",
        "provider": "local",
    }


def open_instance(seed: Seed, url: str) -> Instance:
    """Return an instance over the seeded repository publishing `dev`, polling off."""
    settings = Settings(
        name="test",
        repo=str(seed.hub.repo.path),
        database_url=url,
        manifest="dev",
        poll_interval=0,
        webhook_secret=SECRET,
        secret_key=SecretStr(SECRET_KEY),
    )
    return Instance(settings, seed.hub)

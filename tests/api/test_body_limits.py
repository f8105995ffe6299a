"""Request bodies are held to their route's limit before they are read (issue 11, item 1):
413 with a message naming the limit, for anyone, whatever the body claims or streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from api_support import Api, Seed, data, failed

from mirel.instance import Instance
from mirel.instance.accounts.tokens import SCOPES, create_token
from mirel.server.app import create_app
from mirel.settings import Settings
from support import refs

SMALL = 1_000  # most routes, in these tests
UPLOAD = 5_000  # the routes carrying files


@pytest.fixture
def limited(sqlite_instance: Instance) -> Iterator[Api]:
    """Return a client of an application whose limits are SMALL and UPLOAD bytes."""
    sqlite_instance.settings = sqlite_instance.settings.model_copy(
        update={"max_request_bytes": SMALL, "max_upload_bytes": UPLOAD}
    )
    client = Api(create_app(sqlite_instance))
    yield client
    client.close()


@pytest.fixture
def token(sqlite_instance: Instance) -> str:
    return create_token(sqlite_instance.sessions, "ci-bot", list(SCOPES))


def commit_body(size: int) -> bytes:
    """Return a commit body of exactly `size` bytes."""
    body = {"message": "Big", "files": {"apps/billing/big.txt": ""}}
    padding = size - len(json.dumps(body).encode())
    body["files"]["apps/billing/big.txt"] = "x" * padding
    encoded = json.dumps(body).encode()
    assert len(encoded) == size
    return encoded


COMMITS = "/source_control/branches/feature/big/commits"
JSON = {"Content-Type": "application/json"}


def test_a_declared_body_over_the_limit_is_413_before_the_token_is_checked(
    limited: Api, seed: Seed
) -> None:
    before = refs(seed.hub.repo.path)
    message = failed(limited.post(COMMITS, content=commit_body(UPLOAD + 1), headers=JSON), 413)
    assert message == (
        "the request body is over the 5,000 bytes /api/v2/source_control/branches/feature/big/"
        "commits accepts; send less (an instance's limits are MIREL_MAX_REQUEST_BYTES and "
        "MIREL_MAX_UPLOAD_BYTES)"
    )
    assert refs(seed.hub.repo.path) == before


def test_a_streamed_body_is_cut_off_at_the_limit(limited: Api, seed: Seed, token: str) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(1_000):  # 1 MB offered, without a Content-Length
            sent += 1_000
            yield b"x" * 1_000

    before = refs(seed.hub.repo.path)
    message = failed(limited.post(COMMITS, token, content=chunks(), headers=JSON), 413)
    assert "over the 5,000 bytes" in message
    assert sent <= UPLOAD + 2_000  # the rest was never asked for
    assert refs(seed.hub.repo.path) == before


def test_a_body_within_the_limit_is_taken(limited: Api, seed: Seed, token: str) -> None:
    found = data(limited.post(COMMITS, token, content=commit_body(UPLOAD), headers=JSON))
    assert found["branch_name"] == "feature/big"


def test_other_routes_take_the_small_limit(limited: Api, seed: Seed, token: str) -> None:
    pins = {"manifest": {"apps": [{"uuid": seed.billing, "release": "x" * 2 * SMALL}]}}
    message = failed(limited.put("/source_control/manifests/qa", token, json=pins), 413)
    assert "over the 1,000 bytes /api/v2/source_control/manifests/qa accepts" in message
    # A body of that size is fine where files go.
    assert data(limited.post(COMMITS, token, content=commit_body(2 * SMALL), headers=JSON))


def test_a_page_over_the_limit_is_a_413_page(sqlite_instance: Instance) -> None:
    sqlite_instance.settings = sqlite_instance.settings.model_copy(
        update={"max_request_bytes": SMALL}
    )
    transport = httpx.ASGITransport(app=create_app(sqlite_instance))

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://mirel.test") as client:
            body = b"username=" + b"a" * 2 * SMALL
            return await client.post("/login", content=body, headers={"Content-Type": "text/plain"})

    answer = asyncio.run(post())
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert "over the 1,000 bytes /login accepts" in answer.text


def test_the_defaults_are_two_and_sixty_four_mebibytes() -> None:
    settings = Settings(repo="/nowhere")
    assert settings.max_request_bytes == 2 * 1024 * 1024
    assert settings.max_upload_bytes == 64 * 1024 * 1024

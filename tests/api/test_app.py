"""The application's lifespan runs the instance's poller; the documents it serves."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from api_support import Api, Seed

from mirel.instance import Instance
from mirel.server import create_app
from mirel.settings import Settings


@pytest.fixture
def polling(seed: Seed, database_url: str) -> Iterator[Instance]:
    """Return an instance that polls every 50 ms."""
    settings = Settings(
        name="polling",
        repo=str(seed.hub.repo.path),
        database_url=database_url,
        manifest="dev",
        poll_interval=0.05,
    )
    instance = Instance(settings, seed.hub)
    yield instance
    instance.close()


def pollers() -> list[str]:
    """Return the names of the poller threads alive now."""
    return [
        thread.name for thread in threading.enumerate() if thread.name == "mirel-poller-polling"
    ]


def test_lifespan_starts_and_stops_the_poller(polling: Instance) -> None:
    app = create_app(polling)

    async def run() -> None:
        async with app.router.lifespan_context(app):
            assert pollers() == ["mirel-poller-polling"]
            deadline = time.monotonic() + 30
            while not polling.deployments.recent() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        assert pollers() == []

    asyncio.run(run())
    (deployment,) = polling.deployments.recent()
    assert deployment.triggered_by == "poller"


def test_docs_page_is_served(api: Api) -> None:
    response = api.get("/docs")
    assert response.status_code == 200
    assert "/api/v2/openapi.json" in response.text

"""Fixtures of the page tests: the demo repository, an instance over a real database, users of
each role, and a client per user."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from web_support import Browser, open_web_instance

from mirel.hub import Hub
from mirel.hub.demo import build_demo
from mirel.instance import Instance
from mirel.server import create_app


@pytest.fixture
def demo(tmp_path: Path) -> Hub:
    """Return the demo repository: billing 0.1.0-0.3.0, crm, status-board, nightly-sync, and
    manifests dev, staging and prod."""
    return build_demo(tmp_path / "demo")


@pytest.fixture
def instance(demo: Hub, tmp_path: Path) -> Iterator[Instance]:
    """Return the instance on SQLite."""
    opened = open_web_instance(demo, f"sqlite:///{tmp_path / 'web.db'}")
    yield opened
    opened.close()


@pytest.fixture
def browser(instance: Instance) -> Iterator[Callable[[str | None], Browser]]:
    """Return a function giving a client signed in as one user (None: not signed in)."""
    app = create_app(instance)
    made: list[Browser] = []

    def make(username: str | None) -> Browser:
        client = Browser(app)
        made.append(client)
        if username is not None:
            client.sign_in(username)
        return client

    yield make
    for client in made:
        client.close()

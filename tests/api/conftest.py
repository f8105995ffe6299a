"""Fixtures of the API tests: a seeded repository, an instance over a real database, a client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import Api, Seed, TokenMaker, open_instance

from mirel.hub import Hub
from mirel.instance import Instance
from mirel.instance.accounts.tokens import SCOPES, create_token
from mirel.server import create_app
from support import AUTHOR, add_element, merge, release


def seed_repository(hub: Hub) -> Seed:
    """Fill `hub` with two apps, a workflow, releases and manifests dev and prod."""
    billing = add_element(hub, "app", "billing")
    nightly = add_element(
        hub, "workflow", "nightly", {"flow.json": b'{"steps": []}\n', "lib/run.py": b"print(1)\n"}
    )
    draft = add_element(hub, "app", "draft")
    release(hub, "billing", "1.0.0", "first")
    hub_files = {"main.rsx": b"<App name='billing' v='2'/>\n"}
    merge(hub, hub.elements.push("billing", hub_files, AUTHOR))
    release(hub, "billing", "1.1.0", "second")
    release(hub, "nightly", "1.0.0", "night")
    merge(hub, hub.manifests.set_pin("dev", billing, "latest", AUTHOR))
    merge(hub, hub.manifests.set_pin("dev", nightly, "1.0.0", AUTHOR))
    merge(hub, hub.manifests.set_pin("prod", billing, "1.0.0", AUTHOR))
    return Seed(hub, billing, nightly, draft)


@pytest.fixture
def seed(hub: Hub) -> Seed:
    """Return the seeded repository."""
    return seed_repository(hub)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """Return the URL of a new SQLite database file."""
    return f"sqlite:///{tmp_path / 'api.db'}"


@pytest.fixture
def instance(seed: Seed, database_url: str) -> Iterator[Instance]:
    """Return an instance on SQLite, then on PostgreSQL."""
    opened = open_instance(seed, database_url)
    yield opened
    opened.close()


@pytest.fixture
def sqlite_instance(seed: Seed, sqlite_url: str) -> Iterator[Instance]:
    """Return an instance on SQLite only (for tests of shapes that do not touch the database)."""
    opened = open_instance(seed, sqlite_url)
    yield opened
    opened.close()


@pytest.fixture
def api(instance: Instance) -> Iterator[Api]:
    """Return a client of the application over the instance, on both databases."""
    client = Api(create_app(instance))
    yield client
    client.close()


@pytest.fixture
def sqlite_api(sqlite_instance: Instance) -> Iterator[Api]:
    """Return a client of the application over the instance on SQLite."""
    client = Api(create_app(sqlite_instance))
    yield client
    client.close()


def _maker(instance: Instance) -> TokenMaker:
    def make(*scopes: str, name: str = "ci-bot") -> str:
        return create_token(instance.sessions, name, list(scopes or SCOPES))

    return make


@pytest.fixture
def make_token(instance: Instance) -> TokenMaker:
    """Return a function making a token with the given scopes (all when none are given)."""
    return _maker(instance)


@pytest.fixture
def sqlite_make_token(sqlite_instance: Instance) -> TokenMaker:
    """Return `make_token` for the SQLite-only instance."""
    return _maker(sqlite_instance)

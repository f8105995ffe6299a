"""The router tries the probes and the static files first (server/app.py): safe only while no
other route can answer their addresses, which this checks for every route the application has."""

from __future__ import annotations

from pathlib import Path

import pytest

from mirel.http.routes import flat_routes
from mirel.hub import Hub
from mirel.instance import Instance
from mirel.server import create_app
from mirel.server.app import FIRST_ROUTES
from mirel.settings import load_settings

ASKED = ("/static/mirel.css", "/static/a/b.js", "/healthz", "/readyz", "/metrics")


@pytest.fixture
def instance(hub: Hub, tmp_path: Path) -> Instance:
    settings = load_settings(
        repo=str(hub.repo.path), database_url=f"sqlite:///{tmp_path / 'r.db'}", poll_interval="0"
    )
    return Instance(settings)


def test_the_first_routes_are_first_and_the_only_ones_serving_their_addresses(
    instance: Instance,
) -> None:
    app = create_app(instance)
    try:
        first = [getattr(route, "path", None) for route in app.router.routes[: len(FIRST_ROUTES)]]
        assert set(first) == set(FIRST_ROUTES)
        for address in ASKED:
            serving = {
                route.path
                for route in flat_routes(app)
                if getattr(route, "path_regex", None) is not None
                and route.path_regex.match(address)
            }
            assert len(serving) == 1, (address, serving)
            assert serving <= set(FIRST_ROUTES)
    finally:
        instance.close()

"""The pages on PostgreSQL: sessions, drafts and messages live in the database, so a flow that
uses all three runs here against the machine's server too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web_support import Browser, flash_link, open_web_instance

from mirel.hub import Hub
from mirel.instance import Instance
from mirel.server import create_app
from support import refs


@pytest.fixture
def pg_instance(demo: Hub, postgres_url: str) -> Iterator[Instance]:
    """Return the instance of the page tests on a new PostgreSQL database."""
    opened = open_web_instance(demo, postgres_url)
    yield opened
    opened.close()


def test_sign_in_pick_review_and_open_a_pull_request_on_postgres(
    pg_instance: Instance, demo: Hub
) -> None:
    app = create_app(pg_instance)
    eve, ada = Browser(app), Browser(app)
    try:
        eve.sign_in("eve")
        billing = demo.catalog.element("billing").uuid
        picker = eve.get(f"/settings/releases/pick?element={billing}&manifest=prod")
        eve.submit(picker.form("/settings/releases/draft"), release="0.3.0")
        review = eve.get("/settings/releases/review")
        assert "prod billing app 0.1.0 0.3.0" in review.text
        before = refs(demo.repo.path)
        forged = eve.post("/settings/releases/review", {"csrf_token": "forged"}, csrf=False)
        assert forged.status == 403
        assert refs(demo.repo.path) == before
        made = eve.submit(review.form("/settings/releases/review"))
        link = flash_link(made, "Open pull request")
        ada.sign_in("ada")
        merged = ada.submit(ada.get(link).form(f"{link}/merge"))
        assert "is merged into main" in merged.text
        assert eve.post("/logout").status == 200
        assert eve.request("GET", "/").status_code == 303
    finally:
        eve.close()
        ada.close()

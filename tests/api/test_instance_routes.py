"""mirel's own endpoints about this instance: its manifest, its state and what it serves,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import base64
import json

import pytest
from api_support import Api, Seed, TokenMaker, data, failed


@pytest.fixture
def token(make_token: TokenMaker) -> str:
    """Return a token with every scope."""
    return make_token(name="api-user")


def test_releases_config(api: Api, token: str) -> None:
    assert data(api.get("/source_control/releases_config", token)) == {"manifest": "dev"}
    assert data(api.put("/source_control/releases_config", token, json={"manifest": "prod"})) == {
        "manifest": "prod"
    }
    assert data(api.get("/source_control/releases_config", token)) == {"manifest": "prod"}
    failed(api.put("/source_control/releases_config", token, json={"manifest": "nope"}), 404)
    failed(api.put("/source_control/releases_config", token, json={"manifest": "../x"}), 400)
    assert data(api.get("/source_control/releases_config", token)) == {"manifest": "prod"}
    assert data(api.put("/source_control/releases_config", token, json={"manifest": None})) == {
        "manifest": None
    }


def test_instance_info(api: Api, token: str, seed: Seed) -> None:
    deployed = data(api.post("/source_control/deploy", token))
    found = data(api.get("/instance", token))
    assert found["name"] == "test"
    assert found["manifest"] == "dev"
    assert json.dumps(found).count(deployed["commit_sha"]) >= 1


def test_live_elements(api: Api, token: str, seed: Seed) -> None:
    deployed = data(api.post("/source_control/deploy", token))
    assert deployed["status"] == "SUCCESS", deployed
    found = data(api.get("/elements", token))
    rows = {row["name"]: row for row in found["elements"]}
    assert rows["billing"]["live_release"] == "1.1.0"
    assert rows["billing"]["in_manifest"] is True
    assert rows["nightly"]["live_release"] == "1.0.0"
    assert rows["draft"]["live_release"] is None
    assert rows["draft"]["in_manifest"] is False
    one = data(api.get(f"/elements/{seed.nightly}", token))
    assert one == rows["nightly"]
    failed(api.get("/elements/00000000-0000-4000-8000-000000000000", token), 404)


def test_live_files(api: Api, token: str, seed: Seed) -> None:
    data(api.post("/source_control/deploy", token))
    found = data(api.get(f"/elements/{seed.billing}/files/main.rsx", token))
    assert found == {
        "uuid": seed.billing,
        "path": "main.rsx",
        "encoding": "utf-8",
        "content": "<App name='billing' v='2'/>\n",
        "size": len("<App name='billing' v='2'/>\n"),
    }
    nested = data(api.get(f"/elements/{seed.nightly}/files/lib/run.py", token))
    assert base64.b64decode(nested["content"]) if nested["encoding"] == "base64" else nested
    failed(api.get(f"/elements/{seed.billing}/files/missing.txt", token), 404)

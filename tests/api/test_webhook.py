"""Webhooks: a provider's push event deploys, when its HMAC-SHA256 signature is right."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from api_support import SECRET, Api, Seed, data, failed

from mirel.instance import Instance
from mirel.providers.hooks import SIGNATURE_HEADER, sign
from mirel.server import create_app
from mirel.settings import Settings

BODY = json.dumps({"event": "merge", "branch": "main"}).encode()


def test_a_signed_event_deploys(api: Api, seed: Seed) -> None:
    response = api.post(
        "/webhooks/local", content=BODY, headers={SIGNATURE_HEADER: sign(BODY, SECRET)}
    )
    found = data(response)
    assert found["triggered_by"] == "webhook"
    assert found["commit_sha"] == seed.hub.head()


def test_github_signature_header_is_accepted(api: Api) -> None:
    response = api.post(
        "/webhooks/github", content=BODY, headers={"X-Hub-Signature-256": sign(BODY, SECRET)}
    )
    assert data(response)["triggered_by"] == "webhook"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {SIGNATURE_HEADER: ""},
        {SIGNATURE_HEADER: sign(BODY, "wrong secret")},
        {SIGNATURE_HEADER: sign(BODY + b" ", SECRET)},
        {SIGNATURE_HEADER: sign(BODY, SECRET).removeprefix("sha256=")},
        {SIGNATURE_HEADER: sign(BODY, SECRET).upper()},
        {"X-Hub-Signature": sign(BODY, SECRET)},
        {"Authorization": "Bearer " + SECRET},
    ],
)
def test_bad_or_missing_signatures_are_401_and_deploy_nothing(
    api: Api, instance: Instance, headers: dict[str, str]
) -> None:
    response = api.post("/webhooks/local", content=BODY, headers=headers)
    failed(response, 401)
    assert instance.deployments.recent() == []


def test_non_ascii_signature_is_401(api: Api) -> None:
    header = {SIGNATURE_HEADER: "sha256=\xe9".encode("latin-1")}
    failed(api.post("/webhooks/local", content=BODY, headers=header), 401)


@pytest.fixture
def without_secret(seed: Seed, sqlite_url: str) -> Iterator[Api]:
    """Return a client of an instance that has no webhook secret."""
    settings = Settings(repo=str(seed.hub.repo.path), database_url=sqlite_url, poll_interval=0)
    instance = Instance(settings, seed.hub)
    client = Api(create_app(instance))
    yield client
    client.close()
    instance.close()


def test_webhooks_are_off_without_a_secret(without_secret: Api) -> None:
    response = without_secret.post(
        "/webhooks/local", content=BODY, headers={SIGNATURE_HEADER: sign(BODY, "")}
    )
    assert "MIREL_WEBHOOK_SECRET" in failed(response, 401)


@pytest.mark.parametrize(
    "header", ["X-Mirel-Delivery", "X-GitHub-Delivery", "X-Gitlab-Event-UUID", "X-Request-UUID"]
)
def test_a_replayed_delivery_is_409_and_deploys_nothing(
    api: Api, instance: Instance, header: str
) -> None:
    signed = {SIGNATURE_HEADER: sign(BODY, SECRET), header: "d5a1c9e0-delivery-1"}
    assert data(api.post("/webhooks/github", content=BODY, headers=signed))
    deployments = instance.deployments.recent()
    message = failed(api.post("/webhooks/github", content=BODY, headers=signed), 409)
    assert message == (
        "webhook delivery d5a1c9e0-delivery-1 was already received; a replay is not acted on"
    )
    assert instance.deployments.recent() == deployments
    # Another delivery is acted on.
    other = {**signed, header: "d5a1c9e0-delivery-2"}
    assert data(api.post("/webhooks/github", content=BODY, headers=other))


def test_a_replay_with_a_bad_signature_is_still_401(api: Api) -> None:
    good = {SIGNATURE_HEADER: sign(BODY, SECRET), "X-GitHub-Delivery": "once"}
    assert data(api.post("/webhooks/github", content=BODY, headers=good))
    bad = {SIGNATURE_HEADER: sign(BODY, "guess"), "X-GitHub-Delivery": "once"}
    failed(api.post("/webhooks/github", content=BODY, headers=bad), 401)


@pytest.mark.parametrize("provider", ["nothing", "GitHub", "local2"])
def test_an_unknown_provider_is_refused(api: Api, instance: Instance, provider: str) -> None:
    signed = {SIGNATURE_HEADER: sign(BODY, SECRET)}
    message = failed(api.post(f"/webhooks/{provider}", content=BODY, headers=signed), 400)
    assert "provider" in message
    assert instance.deployments.recent() == []

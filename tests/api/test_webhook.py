"""Webhooks: a provider's push event deploys, when its HMAC-SHA256 signature is right."""

from __future__ import annotations

import base64
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
    assert (found["trigger"], found["triggered_by"]) == ("webhook", None)
    assert found["commit_sha"] == seed.hub.head()


def test_github_signature_header_is_accepted(api: Api) -> None:
    response = api.post(
        "/webhooks/github", content=BODY, headers={"X-Hub-Signature-256": sign(BODY, SECRET)}
    )
    assert data(response)["trigger"] == "webhook"


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


def proof(provider: str, body: bytes, secret: str) -> dict[str, str]:
    """Return the headers a host sends to prove a webhook is its own."""
    if provider in ("local", "git", "codecommit"):
        return {SIGNATURE_HEADER: sign(body, secret)}
    if provider == "github":
        return {"X-Hub-Signature-256": sign(body, secret)}
    if provider == "gitlab":
        return {"X-Gitlab-Token": secret}
    if provider == "bitbucket":
        return {"X-Hub-Signature": sign(body, secret)}
    assert provider == "azure"
    return {"Authorization": "Basic " + base64.b64encode(f"azure:{secret}".encode()).decode()}


PROVIDERS = ["local", "git", "codecommit", "github", "gitlab", "bitbucket", "azure"]
DELIVERY_HEADERS = {
    "local": "X-Mirel-Delivery",
    "github": "X-GitHub-Delivery",
    "gitlab": "X-Gitlab-Event-UUID",
    "bitbucket": "X-Request-UUID",
}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_each_host_proves_its_webhooks_its_own_way(
    api: Api, instance: Instance, provider: str
) -> None:
    good = proof(provider, BODY, SECRET)
    assert data(api.post(f"/webhooks/{provider}", content=BODY, headers=good))
    deployments = instance.deployments.recent()
    wrong = proof(provider, BODY, "a guessed secret")
    message = failed(api.post(f"/webhooks/{provider}", content=BODY, headers=wrong), 401)
    assert "does not match this instance's webhook secret" in message
    # Another host's proof, however valid, is not this host's.
    other = proof("gitlab" if provider != "gitlab" else "github", BODY, SECRET)
    message = failed(api.post(f"/webhooks/{provider}", content=BODY, headers=other), 401)
    assert "carries no proof of origin" in message
    assert instance.deployments.recent() == deployments


@pytest.mark.parametrize("provider", [*DELIVERY_HEADERS, "azure"])
def test_a_replayed_delivery_is_409_and_deploys_nothing(
    api: Api, instance: Instance, provider: str
) -> None:
    def delivery(name: str) -> tuple[bytes, dict[str, str]]:
        if provider == "azure":  # Azure DevOps names the event in its body
            body = json.dumps({"id": name, "eventType": "git.push"}).encode()
            return body, proof(provider, body, SECRET)
        return BODY, {**proof(provider, BODY, SECRET), DELIVERY_HEADERS[provider]: name}

    body, signed = delivery("d5a1c9e0-delivery-1")
    assert data(api.post(f"/webhooks/{provider}", content=body, headers=signed))
    deployments = instance.deployments.recent()
    message = failed(api.post(f"/webhooks/{provider}", content=body, headers=signed), 409)
    assert message == (
        "webhook delivery d5a1c9e0-delivery-1 was already received; a replay is not acted on"
    )
    assert instance.deployments.recent() == deployments
    # Another delivery is acted on.
    body, other = delivery("d5a1c9e0-delivery-2")
    assert data(api.post(f"/webhooks/{provider}", content=body, headers=other))


def test_a_replay_with_a_bad_signature_is_still_401(api: Api) -> None:
    good = {**proof("github", BODY, SECRET), "X-GitHub-Delivery": "once"}
    assert data(api.post("/webhooks/github", content=BODY, headers=good))
    bad = {**proof("github", BODY, "guess"), "X-GitHub-Delivery": "once"}
    failed(api.post("/webhooks/github", content=BODY, headers=bad), 401)


@pytest.mark.parametrize("provider", ["nothing", "GitHub", "local2"])
def test_an_unknown_provider_is_refused(api: Api, instance: Instance, provider: str) -> None:
    signed = {SIGNATURE_HEADER: sign(BODY, SECRET)}
    message = failed(api.post(f"/webhooks/{provider}", content=BODY, headers=signed), 400)
    assert "provider" in message
    assert instance.deployments.recent() == []

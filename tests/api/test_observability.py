"""What operations people watch (issue 11): /metrics in Prometheus's format, moving with deploys
and requests; /healthz; /readyz naming what keeps the instance from its work."""

from __future__ import annotations

import asyncio
import shutil

import httpx
from api_support import SECRET, Seed
from prometheus_client.parser import text_string_to_metric_families

from mirel.instance import Instance
from mirel.instance.accounts.tokens import SCOPES, create_token
from mirel.server.app import create_app


def get(instance: Instance, *requests: tuple[str, str, dict[str, str]]) -> list[httpx.Response]:
    """Send requests (method, path, headers) to one application; return the answers."""
    transport = httpx.ASGITransport(app=create_app(instance))

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=transport, base_url="http://mirel.test") as client:
            return [await client.request(m, p, headers=h) for m, p, h in requests]

    return asyncio.run(run())


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Return every sample of a scrape by name and labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_a_deploy_moves_the_deploy_counter_and_its_duration(instance: Instance, seed: Seed) -> None:
    token = create_token(instance.sessions, "ops", list(SCOPES))
    auth = {"Authorization": f"Bearer {token}"}
    before, deployed, missing, after = get(
        instance,
        ("GET", "/metrics", {}),
        ("POST", "/api/v2/source_control/deploy", auth),
        ("GET", "/api/v2/elements/nothing-here", auth),
        ("GET", "/metrics", {}),
    )
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/plain")
    assert deployed.status_code == 200, deployed.text
    assert missing.status_code == 404
    was, now = samples(before.text), samples(after.text)
    assert ("mirel_deployments_total", (("status", "SUCCESS"),)) not in was
    assert now[("mirel_deployments_total", (("status", "SUCCESS"),))] == 1
    assert now[("mirel_deployment_duration_seconds_count", ())] == 1
    assert now[("mirel_deployment_duration_seconds_sum", ())] > 0
    assert now[("mirel_live_elements", ())] == 3  # billing, nightly and draft on dev
    route = (("method", "POST"), ("route", "/api/v2/source_control/deploy"), ("status", "200"))
    assert now[("mirel_http_requests_total", route)] == 1
    unmatched = (("method", "GET"), ("route", "/api/v2/elements/{uuid}"), ("status", "404"))
    assert now[("mirel_http_requests_total", unmatched)] == 1
    assert now[("mirel_poll_lag_seconds", ())] == -1  # polling is off here


def test_healthz_and_readyz_answer(instance: Instance) -> None:
    health, ready = get(instance, ("GET", "/healthz", {}), ("GET", "/readyz", {}))
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


def test_readyz_names_an_unreadable_repository(instance: Instance, seed: Seed) -> None:
    path = seed.hub.repo.path
    shutil.move(path, path.with_name("moved.git"))
    try:
        [ready] = get(instance, ("GET", "/readyz", {}))
    finally:
        shutil.move(path.with_name("moved.git"), path)
    assert ready.status_code == 503
    assert ready.json()["status"] == "not ready"
    assert ready.json()["failing"][0].startswith("the repository cannot be read")


assert SECRET  # the instance of these tests is the API tests' own (webhooks on)

"""`mirel serve` as a process: settings from the environment, polling, webhooks, clean stops."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from e2e_support import Api, free_ports, start_server, stop, wait_until

from mirel.db.engine import open_database
from mirel.hub.demo import DEMO_AUTHOR, build_demo
from mirel.instance.accounts.tokens import SCOPES, create_token
from mirel.providers.hooks import sign

pytestmark = pytest.mark.slow


def admin_token(database_url: str) -> str:
    with open_database(database_url) as database:
        return create_token(database.sessions, "e2e", list(SCOPES))


def test_settings_from_the_environment_and_the_poller(tmp_path: Path) -> None:
    hub = build_demo(tmp_path / "demo")
    database_url = f"sqlite:///{tmp_path / 'staging.db'}"
    token = admin_token(database_url)
    env = {
        "MIREL_REPO": str(hub.repo.path),
        "MIREL_DATABASE_URL": database_url,
        "MIREL_PORT": str(free_ports(1)),
        "MIREL_MANIFEST": "staging",
        "MIREL_NAME": "from-the-environment",
        "MIREL_POLL_INTERVAL": "0.2",
    }
    process, output, url = start_server(None, None, env=env)
    api = Api(url, token)
    try:
        info = api.get("/instance")
        assert info["name"] == "from-the-environment"
        assert info["manifest"] == "staging"
        # The poller deploys at start, then picks up a merge with no hook registered.
        wait_until(lambda: api.get("/instance")["deployed_commit"], 10, "the first deploy")
        billing = hub.catalog.element("billing").uuid
        assert api.get(f"/elements/{billing}")["live_release"] == "0.2.0"
        change = hub.manifests.set_pin("staging", "billing", "0.3.0", DEMO_AUTHOR)
        assert change.pull_request is not None
        hub.pulls.merge(change.pull_request.number, DEMO_AUTHOR)
        wait_until(
            lambda: api.get(f"/elements/{billing}")["live_release"] == "0.3.0",
            10,
            "the poller deploys the merge",
        )
        assert api.get("/instance")["last_deployment"]["trigger"] == "poller"
    finally:
        api.close()
        # uvicorn shuts down gracefully, then lets SIGTERM end the process as it would have.
        assert stop(process, output) in (0, -15)
    assert "Application shutdown complete" in output.text()


def test_webhooks_need_the_signature(tmp_path: Path) -> None:
    hub = build_demo(tmp_path / "demo")
    database_url = f"sqlite:///{tmp_path / 'prod.db'}"
    token = admin_token(database_url)
    secret = "a shared secret"
    process, output, url = start_server(
        hub.repo.path,
        database_url,
        extra=("--poll-interval", "0"),
        env={"MIREL_WEBHOOK_SECRET": secret},
    )
    api = Api(url, token)
    hook = f"{url}/api/v2/webhooks/local"
    body = b'{"event": "merge"}'
    try:
        for headers in ({}, {"X-Mirel-Signature": sign(body, "another secret")}):
            refused = httpx.post(hook, content=body, headers=headers, timeout=10)
            assert refused.status_code == 401
            assert refused.json()["success"] is False
        assert api.get("/instance")["last_deployment"] is None

        signed = httpx.post(hook, content=body, headers={"X-Mirel-Signature": sign(body, secret)})
        assert signed.status_code == 200, signed.text
        assert signed.json()["data"]["trigger"] == "webhook"
        assert api.get("/instance")["deployed_commit"] == hub.head()

        # The repository's own deploy hook, as `mirel up` registers it: a merge deploys at once.
        hub.provider.hooks.add(hook, secret)
        change = hub.manifests.set_pin("prod", "crm", "0.2.0", DEMO_AUTHOR)
        assert change.pull_request is not None
        hub.pulls.merge(change.pull_request.number, DEMO_AUTHOR)
        crm = hub.catalog.element("crm").uuid
        assert api.get(f"/elements/{crm}")["live_release"] == "0.2.0"
    finally:
        api.close()
        stop(process, output)

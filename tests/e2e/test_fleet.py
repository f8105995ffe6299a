"""`mirel up` end to end: three servers over one repository (issue 3, acceptance 1 and 2)."""

from __future__ import annotations

import re
import socket
import time

import httpx
import pytest
from e2e_support import Api, Fleet, start_fleet, wait_until

from mirel.hub import Hub

pytestmark = pytest.mark.slow

# What the demo's manifests pin for billing (releases 0.1.0, 0.2.0 and 0.3.0): dev tracks latest.
DEMO_BILLING = {"dev": "0.3.0", "staging": "0.2.0", "prod": "0.1.0"}


def serving(api: Api, uuid: str) -> str | None:
    """Return the release an instance serves for an element (None: its working version)."""
    release: str | None = api.get(f"/elements/{uuid}")["live_release"]
    return release


def merge(api: Api, change: dict[str, object]) -> dict[str, object]:
    """Merge the pull request of a change through the API and return the pull request."""
    pull = change["pull_request"]
    assert isinstance(pull, dict)
    merged: dict[str, object] = api.post(f"/source_control/pulls/{pull['number']}/merge")
    return merged


def test_up_serves_each_manifest_on_its_own_instance(fleet: Fleet) -> None:
    billing = Hub.open(fleet.repo).catalog.element("billing").uuid
    for name in ("dev", "staging", "prod"):
        info = fleet.api(name).get("/instance")
        assert info["name"] == name
        assert info["manifest"] == name
        assert info["last_deployment"]["status"] == "SUCCESS"
        assert serving(fleet.api(name), billing) == DEMO_BILLING[name]
    dev = fleet.api("dev").get(f"/elements/{billing}")
    prod = fleet.api("prod").get(f"/elements/{billing}")
    assert dev["live_release"] != prod["live_release"]
    assert dev["in_manifest"]
    assert prod["in_manifest"]
    # Each release carries its own source: dev's main.rsx is the PDF export, prod's the first cut.
    dev_file = fleet.api("dev").get(f"/elements/{billing}/files/main.rsx")["content"]
    prod_file = fleet.api("prod").get(f"/elements/{billing}/files/main.rsx")["content"]
    assert "PDF export" in dev_file
    assert "Invoices v1" in prod_file


def test_the_printed_admin_login_signs_in_on_every_instance(fleet: Fleet) -> None:
    for name in ("dev", "staging", "prod"):
        with httpx.Client(base_url=fleet.urls[name], timeout=30) as client:
            form = client.get("/login")
            assert form.status_code == 200
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token is not None
            answer = client.post(
                "/login",
                data={
                    "username": "admin",
                    "password": fleet.admin_password,
                    "csrf_token": token[1],
                },
            )
            assert answer.status_code == 303, (name, answer.text[:300])
            home = client.get("/")
            assert home.status_code == 200
            assert f"<h1>{name}</h1>" in home.text
            wrong = client.post(
                "/login", data={"username": "admin", "password": "nope", "csrf_token": token[1]}
            )
            assert wrong.status_code in (401, 403)


def test_a_merged_pin_reaches_its_instance_at_once_and_only_it(fleet: Fleet) -> None:
    dev, staging, prod = fleet.api("dev"), fleet.api("staging"), fleet.api("prod")
    billing = Hub.open(fleet.repo).catalog.element("billing").uuid

    # New source on the default branch, then a release of it, both through dev's API.
    change = dev.post(
        "/source_control/branches/e2e-billing-v4/commits",
        {
            "message": "Billing v4",
            "files": {"apps/billing/main.rsx": '<App title="billing">v4 with credit notes</App>\n'},
        },
    )
    merge(dev, change)
    release = dev.post(
        f"/source_control/releases/{billing}",
        {"bump": "minor", "release_description": "Credit notes"},
    )
    assert release["branch_name"].endswith("/0.4.0")
    merge(dev, release)
    # dev tracks latest, so the release itself moves dev (and only dev).
    wait_until(lambda: serving(dev, billing) == "0.4.0", 2.0, "dev serves 0.4.0")
    assert serving(staging, billing) == "0.2.0"
    assert serving(prod, billing) == "0.1.0"

    # Pin it in staging through the API, merge: staging serves it within two seconds.
    pin = dev.put(f"/source_control/manifests/staging/{billing}", {"release": "0.4.0"})
    merged_at = time.monotonic()
    merge(dev, pin)
    wait_until(lambda: serving(staging, billing) == "0.4.0", 2.0, "staging serves 0.4.0")
    assert time.monotonic() - merged_at < 2.0 + 0.5
    content = staging.get(f"/elements/{billing}/files/main.rsx")["content"]
    assert "credit notes" in content
    assert serving(dev, billing) == "0.4.0"
    assert serving(prod, billing) == "0.1.0"
    deployment = staging.get("/instance")["last_deployment"]
    assert deployment["trigger"] == "webhook"
    assert [(c["name"], c["from"], c["to"]) for c in deployment["changes"]] == [
        ("billing", "0.2.0", "0.4.0")
    ]

    # Promote to prod the same way (through prod's own API this time).
    promote = prod.put(f"/source_control/manifests/prod/{billing}", {"release": "0.4.0"})
    merge(prod, promote)
    wait_until(lambda: serving(prod, billing) == "0.4.0", 2.0, "prod serves 0.4.0")
    assert serving(staging, billing) == "0.4.0"
    assert serving(dev, billing) == "0.4.0"
    # Every other element stays where it was on prod.
    crm = Hub.open(fleet.repo).catalog.element("crm").uuid
    assert serving(prod, crm) == "0.1.0"


def test_up_stops_its_servers_on_sigterm_and_comes_back(fleet: Fleet) -> None:
    ports = [int(url.rsplit(":", 1)[1]) for url in fleet.urls.values()]
    assert fleet.stop() == 0
    assert "stopped" in fleet.output.text()
    for port in ports:
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"


def test_up_again_reuses_the_folder_with_a_new_token(fleet: Fleet) -> None:
    billing = Hub.open(fleet.repo).catalog.element("billing").uuid
    change = fleet.api("dev").put(f"/source_control/manifests/prod/{billing}", {"release": "0.2.0"})
    merge(fleet.api("dev"), change)
    wait_until(lambda: serving(fleet.api("prod"), billing) == "0.2.0", 2.0, "prod serves 0.2.0")
    old_token = fleet.token
    port = int(fleet.urls["dev"].rsplit(":", 1)[1])
    fleet.stop()

    again = start_fleet(fleet.folder, port)
    try:
        assert again.token != old_token
        refused = httpx.get(
            f"{again.urls['prod']}/api/v2/instance",
            headers={"Authorization": f"Bearer {old_token}"},
        )
        assert refused.status_code == 401
        # The databases stayed: prod still serves the pin merged during the first run.
        assert serving(again.api("prod"), billing) == "0.2.0"
        hooks = Hub.open(again.repo).provider.hooks.urls()
        assert sorted(hooks) == sorted(
            f"{url}/api/v2/webhooks/local" for url in again.urls.values()
        )
    finally:
        again.stop()

"""Rollback (issue 13, acceptance 5): after a bad release went live, one rollback returns the
instance to exactly what a previous successful deployment served, as exact pins, so a later
`latest` release does not undo it."""

from __future__ import annotations

from pathlib import Path

import pytest
from instance_support import open_instance

from mirel.errors import Conflict, NothingToChange
from mirel.hub import Hub
from support import AUTHOR, add_element, merge, release


def test_a_rollback_restores_exactly_what_was_served_and_stays_put(
    hub: Hub, tmp_path: Path
) -> None:
    billing = add_element(hub, "app", "billing", {"main.rsx": b"v1"})
    crm = add_element(hub, "app", "crm", {"main.rsx": b"c1"})
    release(hub, "billing", "1.0.0")
    release(hub, "crm", "1.0.0")
    merge(hub, hub.manifests.set_pin("prod", "billing", "latest", AUTHOR))
    merge(hub, hub.manifests.set_pin("prod", "crm", "^1", AUTHOR))
    with open_instance(hub, f"sqlite:///{tmp_path / 'prod.db'}", manifest="prod") as prod:
        good = prod.deployer.deploy("test")
        assert good.status == "SUCCESS"
        # A bad release goes live through `latest`, and a crm pin is added meanwhile.
        merge(hub, hub.elements.push("billing", {"main.rsx": b"v2 broken"}, AUTHOR))
        release(hub, "billing", "2.0.0")
        release(hub, "crm", "1.1.0")
        assert prod.deployer.deploy("test").status == "SUCCESS"
        assert prod.live.element(billing).live_release == "2.0.0"

        change = prod.roll_back(good.id, AUTHOR)
        assert change.pull_request is not None
        assert change.pull_request.title.startswith("Roll back prod to what")
        merge(hub, change)
        listed = hub.catalog.manifest("prod").pins.values()
        pins = {pin.uuid: pin.release for kind_pins in listed for pin in kind_pins}
        assert pins == {billing: "1.0.0", crm: "1.0.0"}  # exact: neither latest nor ^1
        assert prod.deployer.deploy("test").status == "SUCCESS"
        assert prod.live.element(billing).live_release == "1.0.0"
        assert prod.live.element(crm).live_release == "1.0.0"
        # A later release does not move it.
        merge(hub, hub.elements.push("billing", {"main.rsx": b"v3"}, AUTHOR))
        release(hub, "billing", "3.0.0")
        assert prod.deployer.deploy("test").status == "SUCCESS"
        assert prod.live.element(billing).live_release == "1.0.0"
        # Rolling back again to the same state changes nothing, and says so.
        with pytest.raises(NothingToChange):
            prod.roll_back(good.id, AUTHOR)


def test_only_a_successful_deployment_of_a_manifest_can_be_gone_back_to(
    hub: Hub, tmp_path: Path
) -> None:
    add_element(hub, "app", "billing", {"main.rsx": b"v1"})
    with open_instance(hub, f"sqlite:///{tmp_path / 'dev.db'}") as dev:
        served = dev.deployer.deploy("test")
        assert served.status == "SUCCESS"
        with pytest.raises(Conflict, match="published no manifest"):
            dev.roll_back(served.id, AUTHOR)

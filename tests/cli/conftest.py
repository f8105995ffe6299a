"""Fixtures for the CLI tests: a repository with elements, releases and manifests merged."""

from __future__ import annotations

import pytest
from cli_support import BILLING_V1, BILLING_V2, Seeded

from mirel.hub import Hub
from support import AUTHOR, add_element, merge, release


@pytest.fixture
def seeded(hub: Hub) -> Seeded:
    """Return a repository with elements, releases and manifests, every change merged."""
    billing = add_element(hub, "app", "billing", dict(BILLING_V1))
    release(hub, "billing", "0.1.0", "first")
    merge(hub, hub.elements.push("billing", dict(BILLING_V2), AUTHOR))
    release(hub, "billing", "0.2.0", "second")
    sync = add_element(hub, "workflow", "sync", {"flow.yaml": b"steps: []\n"})
    merge(hub, hub.manifests.set_pin("prod", "billing", "0.1.0", AUTHOR))
    merge(hub, hub.manifests.set_pin("staging", "billing", "latest", AUTHOR))
    return Seeded(repo=hub.repo.path, hub=hub, billing=billing, sync=sync)

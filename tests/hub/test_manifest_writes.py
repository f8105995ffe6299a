"""Whole-manifest writes check their pins; release commits take the caller's message."""

from __future__ import annotations

import pytest

from mirel.core.manifest import Manifest
from mirel.errors import ManifestInvalid
from mirel.hub import Hub
from support import AUTHOR, add_element, refs, release

UNKNOWN = "0b7e9c3a-6f1d-4c8e-9a2b-3c4d5e6f7a8b"


def test_a_whole_manifest_with_an_unknown_element_or_release_is_refused(hub: Hub) -> None:
    billing = add_element(hub, "app", "billing")
    release(hub, "billing", "1.0.0")
    before = refs(hub.repo.path)
    manifest = Manifest.empty("prod").with_pin(
        hub.catalog.element("billing").kind, billing, "2.0.0"
    )
    manifest = manifest.with_pin(hub.catalog.element("billing").kind, UNKNOWN, "latest")

    with pytest.raises(ManifestInvalid) as refused:
        hub.manifests.put(manifest, AUTHOR)

    listed = [problem.message for problem in refused.value.problems]
    assert any("2.0.0" in message for message in listed)
    assert any(UNKNOWN in message for message in listed)
    assert refs(hub.repo.path) == before


def test_a_release_commit_takes_the_given_message(hub: Hub) -> None:
    add_element(hub, "app", "billing")
    change = hub.releases.create("billing", AUTHOR, version="1.0.0", message="Ship billing v1")
    assert hub.repo.commit(change.commit_sha).summary == "Ship billing v1"

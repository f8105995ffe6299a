"""Fixtures of the instance tests: the test repository of `instance_support.build_repo`."""

from __future__ import annotations

import pytest
from instance_support import Repo, build_repo

from mirel.hub import Hub


@pytest.fixture
def repo(hub: Hub) -> Repo:
    """Return the repository with billing, crm, status, nightly and manifests dev and prod."""
    return build_repo(hub)

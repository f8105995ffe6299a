"""The hub builds each of its parts the first time it is used, once: every caller and every part
that needs another (the plans need the pulls and the manifests) shares the one instance, with its
caches, however many threads ask at once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from mirel.hub import Hub
from mirel.hub.pending import Proposals
from support import AUTHOR, add_element

PARTS = (
    "catalog",
    "branches",
    "elements",
    "releases",
    "proposals",
    "manifests",
    "hotfixes",
    "pulls",
    "plans",
)


def test_each_part_is_built_once_and_shared(hub: Hub) -> None:
    first = {name: getattr(hub, name) for name in PARTS}
    assert {name: getattr(hub, name) for name in PARTS} == first
    assert all(first[name] is getattr(hub, name) for name in PARTS)
    # The parts built from others hold those very instances, not copies of their own.
    assert hub.manifests._proposals is hub.proposals
    assert hub.plans._pulls is hub.pulls
    assert hub.plans._manifests is hub.manifests
    assert hub.hotfixes._releases is hub.releases
    assert hub.pulls._catalog is hub.catalog


def test_a_part_used_first_builds_the_parts_it_is_made_of(tmp_path: Path) -> None:
    # The plans, used before anything else, build the pulls, the manifests, the proposals and the
    # catalog inside their own first use; the parts used afterwards are those ones.
    made = Hub.init(tmp_path / "hub.git", AUTHOR)
    add_element(made, "app", "billing")
    hub = Hub.open(made.repo.path)
    plans = hub.plans
    assert plans._catalog is hub.catalog
    assert plans._manifests is hub.manifests
    assert [element.name for element in hub.catalog.elements()] == ["billing"]


def test_threads_reading_a_part_at_once_share_one(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[Proposals] = []
    build = Proposals.__init__

    def slow_build(self: Proposals, *args: object) -> None:
        time.sleep(0.05)  # long enough for every thread to reach the part before it is built
        build(self, *args)
        built.append(self)

    monkeypatch.setattr(Proposals, "__init__", slow_build)
    start = threading.Barrier(8)
    seen: list[Proposals] = []

    def read() -> None:
        start.wait()
        seen.append(hub.proposals)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1
    assert len(seen) == 8
    assert all(found is built[0] for found in seen)

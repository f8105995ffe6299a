"""Resolving a manifest into the desired state of every element (SPEC.md §3, §4)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from mirel.core.catalog import Element, Release, list_elements, releases_of
from mirel.core.manifest import Manifest, Pin
from mirel.core.resolve import Desired, resolve_manifest
from mirel.core.snapshot import MemorySnapshot
from mirel.core.versions import Version
from mirel.errors import Problem

BILLING = "2ab90f76-3b1c-4d8e-9f10-2a3b4c5d6e7f"
PAYROLL = "100186a5-0e4f-4c2a-8d1b-9c8d7e6f5a4b"
NIGHTLY = "8079edae-5f6a-4b7c-8d9e-0f1a2b3c4d5e"
GHOST = "0d6f3a1e-4b2c-4e8f-9a7b-1c2d3e4f5a6b"


def _repository() -> MemorySnapshot:
    files: dict[str, bytes] = {}
    for name, uuid in (("billing", BILLING), ("payroll", PAYROLL)):
        files[f"apps/{name}/metadata.json"] = json.dumps({"pageUuid": uuid}).encode()
        files[f"apps/{name}/main.rsx"] = f"<App name='{name}'/>".encode()
    files["workflows/nightly/metadata.json"] = json.dumps({"uuid": NIGHTLY}).encode()
    for version in ("1.0.0", "1.2.0", "1.10.0", "1.1.5"):
        files[f"dist/apps/{BILLING}/{version}.zip"] = f"billing {version}".encode()
    for version in ("0.1.0", "0.2.0"):
        files[f"dist/workflows/{NIGHTLY}/{version}.zip"] = f"nightly {version}".encode()
    return MemorySnapshot(files)


REPO = _repository()
ELEMENTS = list_elements(REPO).elements


def releases_for(element: Element) -> Mapping[Version, Release]:
    return releases_of(REPO, element.kind, element.uuid)


def manifest(
    apps: dict[str, str] | None = None, workflows: dict[str, str] | None = None
) -> Manifest:
    return Manifest(
        "prod",
        {
            "apps": tuple(Pin(uuid, release) for uuid, release in (apps or {}).items()),
            "workflows": tuple(Pin(uuid, release) for uuid, release in (workflows or {}).items()),
        },
    )


def resolve(m: Manifest | None) -> tuple[dict[str, Desired], list[Problem]]:
    desired, problems = resolve_manifest(m, ELEMENTS, releases_for)
    assert len({item.element.uuid for item in desired}) == len(desired)
    return {item.element.name: item for item in desired}, problems


def test_latest_is_the_highest_release_by_number() -> None:
    desired, problems = resolve(manifest({BILLING: "latest"}))
    assert problems == []
    billing = desired["billing"]
    assert billing.version == Version(1, 10, 0)  # not 1.2.0: numeric, not textual
    assert billing.release is not None
    assert billing.release.path == f"dist/apps/{BILLING}/1.10.0.zip"
    assert billing.in_manifest
    assert billing.pin == "latest"


def test_latest_without_any_release_is_the_working_version() -> None:
    desired, problems = resolve(manifest({PAYROLL: "latest"}))
    assert problems == []
    payroll = desired["payroll"]
    assert payroll.release is None
    assert payroll.version is None
    assert payroll.in_manifest  # listed, served at its working version


def test_an_exact_pin_selects_that_release_even_below_latest() -> None:
    desired, problems = resolve(manifest({BILLING: "1.1.5"}, {NIGHTLY: "0.1.0"}))
    assert problems == []
    assert desired["billing"].version == Version(1, 1, 5)
    assert desired["nightly"].version == Version(0, 1, 0)
    assert desired["nightly"].release is not None
    assert desired["nightly"].release.path == f"dist/workflows/{NIGHTLY}/0.1.0.zip"


def test_elements_the_manifest_omits_are_served_at_their_working_version() -> None:
    desired, problems = resolve(manifest({BILLING: "1.0.0"}))
    assert problems == []
    assert set(desired) == {"billing", "payroll", "nightly"}
    for name in ("payroll", "nightly"):
        assert desired[name].release is None
        assert desired[name].pin is None
        assert not desired[name].in_manifest
    # nightly has releases, but without a pin it is not moved to any of them.
    assert desired["nightly"].version is None


def test_no_manifest_serves_every_element_at_its_working_version() -> None:
    desired, problems = resolve(None)
    assert problems == []
    assert set(desired) == {"billing", "payroll", "nightly"}
    assert all(item.release is None and not item.in_manifest for item in desired.values())


def test_an_unknown_uuid_is_a_problem_naming_the_manifest() -> None:
    desired, problems = resolve(manifest({GHOST: "latest", BILLING: "1.0.0"}))
    assert len(problems) == 1
    assert problems[0].path == "manifests/prod.yaml"
    assert GHOST in problems[0].message
    assert "does not exist" in problems[0].message
    # The other pins still resolve, and every element is still in the desired state.
    assert desired["billing"].version == Version(1, 0, 0)
    assert set(desired) == {"billing", "payroll", "nightly"}


def test_a_uuid_listed_under_the_wrong_kind_is_a_problem() -> None:
    _, problems = resolve(manifest(workflows={BILLING: "1.0.0"}))
    assert len(problems) == 1
    assert problems[0].path == "manifests/prod.yaml"
    assert f"workflow {BILLING}" in problems[0].message


def test_a_pin_on_a_missing_release_is_a_problem_naming_the_artifact() -> None:
    desired, problems = resolve(manifest({BILLING: "2.0.0", PAYROLL: "1.0.0"}, {NIGHTLY: "0.2.0"}))
    assert [problem.path for problem in problems] == ["manifests/prod.yaml"] * 2
    messages = " | ".join(problem.message for problem in problems)
    assert "billing 2.0.0" in messages
    assert f"dist/apps/{BILLING}/2.0.0.zip" in messages
    assert f"dist/apps/{PAYROLL}/1.0.0.zip" in messages
    assert desired["nightly"].version == Version(0, 2, 0)
    assert "billing" not in desired  # no state is invented for a broken pin


def test_desired_state_is_sorted_by_kind_then_name() -> None:
    desired, _ = resolve_manifest(None, list(reversed(ELEMENTS)), releases_for)
    assert [(item.element.kind.name, item.element.name) for item in desired] == [
        ("app", "billing"),
        ("app", "payroll"),
        ("workflow", "nightly"),
    ]

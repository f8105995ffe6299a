"""validate_change: the problems a commit brings that its base did not, reading only the change."""

from __future__ import annotations

import json

from mirel.core.artifact import build_artifact
from mirel.core.kinds import APP
from mirel.core.manifest import Manifest, write_manifest
from mirel.core.snapshot import MemorySnapshot
from mirel.core.validation import validate_change, validate_snapshot
from mirel.core.versions import Version

UUID = "2ab90f76-3b1c-4d8e-9f10-2a3b4c5d6e7f"
OTHER = "100186a5-0e4f-4c2a-8d1b-9c8d7e6f5a4b"
SOURCE = "0123456789abcdef0123456789abcdef01234567"


def _release(uuid: str, name: str, version: str) -> dict[str, bytes]:
    files = {"metadata.json": json.dumps({"pageUuid": uuid, "name": name}).encode()}
    artifact = build_artifact(
        kind=APP,
        uuid=uuid,
        name=name,
        version=Version.parse(version),
        description="",
        created_by="Ada <ada@example.com>",
        source_commit=SOURCE,
        files=files,
        created_at="2024-05-01T12:00:00Z",
    )
    return {APP.artifact_path(uuid, version): artifact}


def _base() -> dict[str, bytes]:
    """Return a valid repository: billing 1.0.0 and 1.1.0, orders, prod pinning billing 1.0.0."""
    files: dict[str, bytes] = {
        "apps/billing/metadata.json": json.dumps({"pageUuid": UUID, "name": "billing"}).encode(),
        "apps/orders/metadata.json": json.dumps({"pageUuid": OTHER, "name": "orders"}).encode(),
        **_release(UUID, "billing", "1.0.0"),
        **_release(UUID, "billing", "1.1.0"),
    }
    prod = Manifest.empty("prod").with_pin(APP, UUID, "1.0.0")
    files["manifests/prod.yaml"] = write_manifest(prod).encode()
    return files


def _change(changes: dict[str, bytes | None]) -> tuple[MemorySnapshot, MemorySnapshot]:
    """Return the base repository and the same with `changes` (None removes a file)."""
    base = _base()
    result = dict(base)
    for path, content in changes.items():
        if content is None:
            result.pop(path, None)
        else:
            result[path] = content
    return MemorySnapshot(base, "a" * 40), MemorySnapshot(result, "b" * 40)


def test_the_base_is_valid_and_no_change_brings_nothing() -> None:
    base, result = _change({})
    assert validate_snapshot(base) == []
    assert validate_change(base, result) == []


def test_deleting_a_pinned_release_is_a_new_problem() -> None:
    base, result = _change({APP.artifact_path(UUID, "1.0.0"): None})
    problems = [str(problem) for problem in validate_change(base, result)]
    assert problems == [
        f"manifests/prod.yaml: pins billing 1.0.0, which is not released "
        f"(missing dist/apps/{UUID}/1.0.0.zip)"
    ]


def test_a_new_corrupt_artifact_is_a_problem_naming_it() -> None:
    path = APP.artifact_path(UUID, "1.2.0")
    base, result = _change({path: b"junk"})
    [problem] = validate_change(base, result)
    assert problem.path == path


def test_an_element_removed_with_its_releases_left_behind() -> None:
    base, result = _change({"apps/billing/metadata.json": None})
    messages = [str(problem) for problem in validate_change(base, result)]
    assert f"dist/apps/{UUID}: holds releases of {UUID}, which is not an app" in messages
    assert any("pins app" in message for message in messages)  # prod's pin lost its element


def test_problems_the_base_already_had_are_not_the_change_s() -> None:
    broken = {"manifests/broken.yaml": b"not: [valid"}
    base_files = {**_base(), **broken}
    result_files = {**base_files, **_release(OTHER, "orders", "0.1.0")}
    base, result = MemorySnapshot(base_files), MemorySnapshot(result_files)
    assert validate_snapshot(base) != []
    assert validate_change(base, result) == []


def test_a_release_below_the_highest_on_a_new_line_does_not_move_forward() -> None:
    base, result = _change(dict(_release(UUID, "billing", "0.9.0")))
    [problem] = validate_change(base, result)
    assert "below its highest release 1.1.0" in problem.message
    # A patch on the 1.0 line is a hotfix, and above 1.0.0: it moves forward.
    base, result = _change(dict(_release(UUID, "billing", "1.0.1")))
    assert validate_change(base, result) == []

"""The catalog of one commit, read through a MemorySnapshot: elements, releases, manifests."""

from __future__ import annotations

import json

import pytest

from mirel.core.catalog import (
    MetadataCache,
    find_element,
    get_release,
    list_elements,
    list_manifest_names,
    load_element,
    load_manifest,
    load_manifests,
    releases_of,
)
from mirel.core.kinds import APP, WORKFLOW
from mirel.core.snapshot import MemorySnapshot
from mirel.core.versions import Version
from mirel.errors import (
    ElementNotFound,
    InvalidInput,
    InvalidName,
    ManifestInvalid,
    ManifestNotFound,
    MetadataInvalid,
    ReleaseNotFound,
)

BILLING = "2ab90f76-3b1c-4d8e-9f10-2a3b4c5d6e7f"
NIGHTLY = "8079edae-5f6a-4b7c-8d9e-0f1a2b3c4d5e"
SHARED = "100186a5-0e4f-4c2a-8d1b-9c8d7e6f5a4b"


def app(name: str, uuid: str, **extra: bytes) -> dict[str, bytes]:
    metadata = json.dumps({"pageUuid": uuid, "name": name}).encode()
    files = {f"apps/{name}/metadata.json": metadata, f"apps/{name}/main.rsx": b"<App/>\n"}
    files.update({f"apps/{name}/{path}": content for path, content in extra.items()})
    return files


def workflow(name: str, uuid: str) -> dict[str, bytes]:
    metadata = json.dumps({"uuid": uuid, "name": name}).encode()
    return {f"workflows/{name}/metadata.json": metadata, f"workflows/{name}/flow.json": b"{}\n"}


def snapshot(*parts: dict[str, bytes]) -> MemorySnapshot:
    files: dict[str, bytes] = {"apps/.gitkeep": b"", "workflows/.gitkeep": b""}
    for part in parts:
        files.update(part)
    return MemorySnapshot(files)


GOOD = snapshot(app("billing", BILLING), workflow("nightly", NIGHTLY))


# -- list_elements -----------------------------------------------------------------------------


def test_list_elements_finds_apps_and_workflows() -> None:
    listing = list_elements(GOOD)
    assert listing.problems == []
    found = {(element.kind, element.name, element.uuid) for element in listing.elements}
    assert found == {(APP, "billing", BILLING), (WORKFLOW, "nightly", NIGHTLY)}
    assert listing.by_uuid()[BILLING].source_dir == "apps/billing"
    assert listing.by_uuid()[NIGHTLY].source_dir == "workflows/nightly"


def test_the_working_version_is_the_folder_tree() -> None:
    before = list_elements(GOOD).by_uuid()[BILLING]
    after = list_elements(
        snapshot(app("billing", BILLING, **{"main.rsx": b"<App changed/>\n"}))
    ).by_uuid()[BILLING]
    assert before.tree_oid == GOOD.entry("apps/billing").oid  # type: ignore[union-attr]
    assert before.tree_oid != after.tree_oid


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (b"{not json", "is not valid JSON"),
        (b"\xff\xfe", "is not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"name": "broken"}', "'pageUuid' must be a lowercase uuid"),
        (b'{"uuid": "' + BILLING.encode() + b'"}', "'pageUuid' must be a lowercase uuid"),
        (b'{"pageUuid": "' + BILLING.upper().encode() + b'"}', "must be a lowercase uuid"),
        (b'{"pageUuid": "' + BILLING.encode() + b'", "name": "other"}', "make them equal"),
    ],
)
def test_broken_metadata_is_a_problem_naming_the_file(metadata: bytes, expected: str) -> None:
    broken = snapshot(
        app("billing", BILLING),
        {"apps/broken/metadata.json": metadata, "apps/broken/main.rsx": b"<App/>\n"},
    )
    listing = list_elements(broken)
    assert [element.name for element in listing.elements] == ["billing"]
    assert len(listing.problems) == 1
    problem = listing.problems[0]
    assert problem.path == "apps/broken/metadata.json"
    assert expected in problem.message


def test_missing_metadata_is_a_problem_naming_the_file() -> None:
    listing = list_elements(snapshot({"workflows/loose/flow.json": b"{}"}))
    assert listing.elements == []
    assert [(p.path, "is missing" in p.message) for p in listing.problems] == [
        ("workflows/loose/metadata.json", True)
    ]


def test_a_folder_with_an_invalid_name_is_a_problem() -> None:
    listing = list_elements(snapshot(app("bad name", BILLING)))
    assert listing.elements == []
    assert [p.path for p in listing.problems] == ["apps/bad name"]
    assert "not a valid element name" in listing.problems[0].message


def test_hidden_folders_and_loose_files_are_not_elements() -> None:
    listing = list_elements(
        snapshot(app("billing", BILLING), {"apps/.cache/x": b"", "apps/README.md": b"hi"})
    )
    assert [element.name for element in listing.elements] == ["billing"]
    assert listing.problems == []


def test_a_uuid_used_by_an_app_and_a_workflow_is_a_problem() -> None:
    listing = list_elements(snapshot(app("billing", SHARED), workflow("nightly", SHARED)))
    assert [element.source_dir for element in listing.elements] == ["apps/billing"]
    assert len(listing.problems) == 1
    problem = listing.problems[0]
    assert problem.path == "workflows/nightly/metadata.json"
    assert SHARED in problem.message
    assert "apps/billing" in problem.message


def test_a_uuid_used_by_two_apps_is_a_problem() -> None:
    listing = list_elements(snapshot(app("alpha", SHARED), app("beta", SHARED)))
    assert len(listing.elements) == 1
    assert [p.path for p in listing.problems] == ["apps/beta/metadata.json"]


def test_the_metadata_cache_gives_the_same_listing() -> None:
    cache = MetadataCache()
    broken = snapshot(app("billing", BILLING), {"apps/broken/metadata.json": b"{"})
    first = list_elements(broken, cache)
    second = list_elements(broken, cache)
    assert first.elements == second.elements
    assert first.problems == second.problems
    assert len(first.problems) == 1


# -- find_element ------------------------------------------------------------------------------


def test_find_element_by_name_kind_and_name_or_uuid() -> None:
    assert find_element(GOOD, "billing").uuid == BILLING
    assert find_element(GOOD, "app/billing").uuid == BILLING
    assert find_element(GOOD, "apps/billing").uuid == BILLING
    assert find_element(GOOD, "workflow/nightly").kind == WORKFLOW
    assert find_element(GOOD, BILLING).name == "billing"
    assert find_element(GOOD, NIGHTLY).name == "nightly"


def test_find_element_of_the_wrong_kind_is_not_found() -> None:
    with pytest.raises(ElementNotFound) as raised:
        find_element(GOOD, "workflow/billing")
    assert "'billing'" in str(raised.value)
    assert raised.value.cli_hint == "'mirel element list' shows them"


def test_find_element_with_an_unknown_name_or_uuid_is_not_found() -> None:
    with pytest.raises(ElementNotFound):
        find_element(GOOD, "payroll")
    with pytest.raises(ElementNotFound) as raised:
        find_element(GOOD, SHARED)
    assert SHARED in str(raised.value)


def test_a_name_used_by_an_app_and_a_workflow_is_ambiguous() -> None:
    both = snapshot(app("sync", BILLING), workflow("sync", NIGHTLY))
    with pytest.raises(InvalidInput) as raised:
        find_element(both, "sync")
    message = str(raised.value)
    assert "app/sync" in message
    assert "workflow/sync" in message
    assert find_element(both, "app/sync").uuid == BILLING
    assert find_element(both, "workflow/sync").uuid == NIGHTLY


def test_find_element_refuses_bad_names_and_kinds() -> None:
    for reference in ("bill ing", "app/..", "app/.hidden", "-billing"):
        with pytest.raises(InvalidName):
            find_element(GOOD, reference)
    with pytest.raises(InvalidInput) as raised:
        find_element(GOOD, "widget/billing")
    assert "unknown element kind 'widget'" in str(raised.value)


def test_finding_an_element_with_broken_metadata_says_what_is_wrong() -> None:
    broken = snapshot({"apps/broken/metadata.json": b"{", "apps/broken/main.rsx": b""})
    with pytest.raises(MetadataInvalid) as raised:
        find_element(broken, "broken")
    assert "apps/broken/metadata.json" in str(raised.value)
    assert load_element(broken, APP, "missing") is None


# -- releases ----------------------------------------------------------------------------------


def test_releases_of_lists_artifacts_and_skips_malformed_names() -> None:
    dist = f"dist/apps/{BILLING}"
    files = {
        f"{dist}/1.0.0.zip": b"one",
        f"{dist}/1.10.0.zip": b"ten",
        f"{dist}/1.2.0.zip": b"two",
        f"{dist}/1.0.zip": b"x",
        f"{dist}/v1.3.0.zip": b"x",
        f"{dist}/01.4.0.zip": b"x",
        f"{dist}/1.5.0.tar": b"x",
        f"{dist}/1.6.0.zip.bak": b"x",
        f"{dist}/notes.txt": b"x",
        f"{dist}/2.0.0.zip/inner": b"x",  # a folder, not an artifact
        f"dist/apps/{SHARED}/9.0.0.zip": b"another element",
        f"dist/workflows/{BILLING}/8.0.0.zip": b"another kind",
    }
    found = releases_of(snapshot(app("billing", BILLING), files), APP, BILLING)
    assert sorted(found) == [Version(1, 0, 0), Version(1, 2, 0), Version(1, 10, 0)]
    release = found[Version(1, 2, 0)]
    assert release.path == f"{dist}/1.2.0.zip"
    assert release.blob_oid == snapshot(files).entry(release.path).oid  # type: ignore[union-attr]
    assert (release.kind, release.uuid) == (APP, BILLING)


def test_releases_of_an_element_without_releases_is_empty() -> None:
    assert releases_of(GOOD, APP, BILLING) == {}


def test_get_release_names_the_existing_versions_when_missing() -> None:
    dist = f"dist/apps/{BILLING}"
    repo = snapshot(app("billing", BILLING), {f"{dist}/1.0.0.zip": b"a", f"{dist}/1.1.0.zip": b"b"})
    element = find_element(repo, "billing")
    assert get_release(repo, element, Version(1, 1, 0)).path == f"{dist}/1.1.0.zip"
    with pytest.raises(ReleaseNotFound) as raised:
        get_release(repo, element, Version(2, 0, 0))
    assert "billing has no release 2.0.0" in str(raised.value)
    assert "1.1.0, 1.0.0" in str(raised.value)
    with pytest.raises(ReleaseNotFound) as raised:
        get_release(GOOD, find_element(GOOD, "billing"), Version(1, 0, 0))
    assert "none yet" in str(raised.value)


# -- manifests ---------------------------------------------------------------------------------

PROD = f"version: 1.0.0\nname: prod\napps:\n  - uuid: {BILLING}\n    release: latest\n".encode()


def test_manifests_are_listed_and_loaded_by_name() -> None:
    repo = snapshot(
        {
            "manifests/prod.yaml": PROD,
            "manifests/.gitkeep": b"",
            "manifests/notes.txt": b"x",
            "manifests/dev.yaml": b"version: 1.0.0\nname: dev\n",
        }
    )
    assert list_manifest_names(repo) == ["dev", "prod"]
    prod = load_manifest(repo, "prod")
    found = prod.find(BILLING)
    assert found is not None
    assert found[1].release == "latest"


def test_a_missing_manifest_names_the_existing_ones() -> None:
    repo = snapshot({"manifests/prod.yaml": PROD})
    with pytest.raises(ManifestNotFound) as raised:
        load_manifest(repo, "staging")
    assert "'staging'" in str(raised.value)
    assert "manifests: prod" in str(raised.value)
    assert "create it first" in str(raised.value)
    assert raised.value.cli_hint == "'mirel manifest create staging' creates it"  # the CLI's hint


def test_load_manifests_reports_broken_ones_with_their_file() -> None:
    repo = snapshot(
        {
            "manifests/prod.yaml": PROD,
            "manifests/broken.yaml": b"version: 1.0.0\nname: broken\napps: [\n",
        }
    )
    manifests, problems = load_manifests(repo)
    assert list(manifests) == ["prod"]
    assert problems
    assert {problem.path for problem in problems} == {"manifests/broken.yaml"}
    with pytest.raises(ManifestInvalid) as raised:
        load_manifest(repo, "broken")
    assert "manifests/broken.yaml" in str(raised.value)

"""Acceptance 7: `mirel validate` lists every problem of a repository, each with its file."""

from __future__ import annotations

import io
import json
import random
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from mirel.core.artifact import files_digest
from mirel.git.repository import HEADS
from mirel.hub import Hub
from support import AUTHOR, CliResult, add_element, merge, release

Cli = Callable[..., CliResult]

SOURCE_COMMIT = "0123456789abcdef0123456789abcdef01234567"


def commit_to_main(hub: Hub, changes: Mapping[str, bytes | None]) -> str:
    """Commit straight onto the default branch, as a careless push would, bypassing mirel."""
    old = hub.head()
    tree = hub.repo.write_tree_changes(hub.repo.tree_of(old), changes)
    new = hub.repo.write_commit(
        tree_oid=tree, parents=[old], message="Direct push\n", author=AUTHOR
    )
    hub.repo.update_ref(HEADS + hub.default_branch, new, old)
    return new


def hand_made_zip(
    uuid: str,
    version: str,
    files: Mapping[str, bytes],
    *,
    digest: str | None = None,
    extra_entries: Mapping[str, bytes] | None = None,
) -> bytes:
    """Return an artifact built by hand; release.json holds `digest` (default: the right one)."""
    document = {
        "format": 1,
        "kind": "app",
        "uuid": uuid,
        "name": "billing",
        "version": version,
        "description": "built by hand",
        "created_at": "2024-05-01T12:00:00Z",
        "created_by": "Someone <someone@example.com>",
        "source_commit": SOURCE_COMMIT,
        "files_sha256": digest if digest is not None else files_digest(files),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, content in files.items():
            archive.writestr(f"files/{path}", content)
        for name, content in (extra_entries or {}).items():
            archive.writestr(name, content)
        archive.writestr("release.json", json.dumps(document, indent=2))
    return buffer.getvalue()


@pytest.fixture
def good(hub: Hub) -> Hub:
    """Return a valid repository: an app and a workflow with releases, and two manifests."""
    add_element(hub, "app", "billing")
    add_element(hub, "workflow", "nightly", {"flow.json": b"{}\n"})
    release(hub, "billing", "1.0.0", "first")
    release(hub, "billing", "1.1.0", "second")
    release(hub, "nightly", "0.1.0")
    merge(hub, hub.manifests.set_pin("prod", "billing", "1.0.0", AUTHOR))
    merge(hub, hub.manifests.set_pin("prod", "nightly", "latest", AUTHOR))
    merge(hub, hub.manifests.set_pin("dev", "billing", "latest", AUTHOR))
    return hub


BAD_YAML = b"version: 1.0.0\nname: broken\napps:\n  - uuid: [unclosed\n"


@pytest.fixture
def broken(good: Hub) -> tuple[Hub, dict[str, str]]:
    """Return the good repository with five problems pushed straight to main.

    The second value maps each broken file to a fragment its problem must mention.
    """
    uuid = good.catalog.element("billing").uuid
    dist = f"dist/apps/{uuid}"
    files = {"metadata.json": json.dumps({"pageUuid": uuid}).encode(), "main.rsx": b"<App/>\n"}
    noise = random.Random(7).randbytes(2048)
    prod = good.snapshot().read("manifests/prod.yaml")
    assert prod is not None
    commit_to_main(
        good,
        {
            "manifests/broken.yaml": BAD_YAML,
            f"{dist}/3.0.0.zip": noise,
            f"{dist}/4.0.0.zip": hand_made_zip(uuid, "4.0.0", files, digest="ab" * 32),
            f"{dist}/5.0.0.zip": hand_made_zip(
                uuid, "5.0.0", files, extra_entries={"../escape.txt": b"gotcha\n"}
            ),
            "manifests/prod.yaml": prod.replace(b"release: 1.0.0", b"release: 9.9.9"),
        },
    )
    expected = {
        "manifests/broken.yaml": "",
        f"{dist}/3.0.0.zip": "not a readable zip",
        f"{dist}/4.0.0.zip": "files_sha256",
        f"{dist}/5.0.0.zip": "'..'",
        "manifests/prod.yaml": "9.9.9",
    }
    return good, expected


# -- the repository is good ---------------------------------------------------------------------


def test_a_good_repository_is_valid(good: Hub, cli: Cli) -> None:
    result = cli("validate", "--repo", good.repo.path)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert f"{good.head()[:12]} is valid" in result.stdout
    assert result.stderr == ""

    as_json = cli("validate", "--repo", good.repo.path, "--json")
    assert as_json.exit_code == 0
    assert as_json.json == {"commit_sha": good.head(), "valid": True, "problems": []}


def test_the_hand_made_zip_is_valid_when_its_digest_is_right(good: Hub, cli: Cli) -> None:
    # The control for the digest test below: only the wrong digest makes that artifact invalid.
    uuid = good.catalog.element("billing").uuid
    files = {"metadata.json": json.dumps({"pageUuid": uuid}).encode(), "main.rsx": b"<App/>\n"}
    commit_to_main(good, {f"dist/apps/{uuid}/4.0.0.zip": hand_made_zip(uuid, "4.0.0", files)})
    result = cli("validate", "--repo", good.repo.path)
    assert result.exit_code == 0, result.stdout + result.stderr


# -- the repository is broken -------------------------------------------------------------------


def test_validate_lists_every_problem_with_its_file(
    broken: tuple[Hub, dict[str, str]], cli: Cli
) -> None:
    hub, expected = broken
    result = cli("validate", "--repo", hub.repo.path)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == len(expected), result.stdout
    for path, fragment in expected.items():
        matching = [line for line in lines if line.startswith(f"{path}:")]
        assert len(matching) == 1, f"{path} not reported once in:\n{result.stdout}"
        assert fragment in matching[0]
    assert "5 problems" in result.stderr
    assert "is valid" not in result.stdout


def test_the_bad_yaml_problem_names_its_line(broken: tuple[Hub, dict[str, str]], cli: Cli) -> None:
    hub, _ = broken
    result = cli("validate", "--repo", hub.repo.path)
    line = next(line for line in result.stdout.splitlines() if "broken.yaml" in line)
    # "manifests/broken.yaml:<line>: ...", the line within the four the file has.
    number = int(line.split(":")[1])
    assert 1 <= number <= BAD_YAML.count(b"\n") + 1


def test_validate_json_lists_every_problem_with_path_line_and_message(
    broken: tuple[Hub, dict[str, str]], cli: Cli
) -> None:
    hub, expected = broken
    result = cli("validate", "--repo", hub.repo.path, "--json")
    assert result.exit_code == 1
    data = result.json
    assert data["valid"] is False
    assert data["commit_sha"] == hub.head()
    problems = data["problems"]
    assert sorted(problem["path"] for problem in problems) == sorted(expected)
    for problem in problems:
        assert set(problem) == {"path", "line", "message"}
        assert problem["message"]
        assert expected[problem["path"]] in problem["message"]
        assert problem["line"] is None or isinstance(problem["line"], int)
    yaml_problem = next(p for p in problems if p["path"] == "manifests/broken.yaml")
    assert isinstance(yaml_problem["line"], int)


def test_validate_does_not_change_the_repository(
    broken: tuple[Hub, dict[str, str]], cli: Cli
) -> None:
    hub, _ = broken
    head = hub.head()
    cli("validate", "--repo", hub.repo.path)
    assert hub.head() == head


def test_other_broken_files_are_reported_too(good: Hub, cli: Cli) -> None:
    uuid = good.catalog.element("billing").uuid
    commit_to_main(
        good,
        {
            "apps/orphan/main.rsx": b"<App/>\n",  # no metadata.json
            "workflows/copycat/metadata.json": json.dumps({"uuid": uuid}).encode(),
            f"dist/apps/{uuid}/latest.zip": b"x",
            "dist/widgets/x.zip": b"x",
        },
    )
    result = cli("validate", "--repo", good.repo.path, "--json")
    assert result.exit_code == 1
    paths = sorted(problem["path"] for problem in result.json["problems"])
    assert paths == sorted(
        [
            "apps/orphan/metadata.json",
            "workflows/copycat/metadata.json",
            f"dist/apps/{uuid}/latest.zip",
            "dist/widgets",
        ]
    )


# -- validate --ref -------------------------------------------------------------------------------


def test_validate_ref_checks_that_branch(good: Hub, cli: Cli) -> None:
    change = good.branches.commit(
        "feature/broken", {"manifests/staging.yaml": BAD_YAML}, "Break staging\n", AUTHOR
    )
    on_branch = cli("validate", "--repo", good.repo.path, "--ref", "feature/broken", "--json")
    assert on_branch.exit_code == 1
    assert on_branch.json["commit_sha"] == change.commit_sha
    assert [p["path"] for p in on_branch.json["problems"]] == ["manifests/staging.yaml"]
    # The default branch itself is still valid.
    assert cli("validate", "--repo", good.repo.path).exit_code == 0


def test_validate_ref_of_a_good_branch_passes_while_main_is_broken(
    broken: tuple[Hub, dict[str, str]], cli: Cli, tmp_path: Path
) -> None:
    hub, _ = broken
    # The merge before the direct push is the last good commit of main.
    good_commit = hub.repo.commit(hub.head()).parents[0]
    hub.repo.create_branch("last-good", good_commit)
    result = cli("validate", "--repo", hub.repo.path, "--ref", "last-good")
    assert result.exit_code == 0, result.stdout
    assert cli("validate", "--repo", hub.repo.path, "--ref", good_commit).exit_code == 0
    assert cli("validate", "--repo", hub.repo.path, "--ref", hub.head()).exit_code == 1


def test_validate_ref_of_an_unknown_branch_is_a_user_error(good: Hub, cli: Cli) -> None:
    result = cli("validate", "--repo", good.repo.path, "--ref", "no-such-branch")
    assert result.exit_code == 1
    assert "no-such-branch" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

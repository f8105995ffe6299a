"""Acceptance: the CLI's user flows from an empty folder, checked against the repository itself.

Every write is checked where a user would look: its `--json` answer, the one commit on its branch
(read with pygit2, not through mirel), and what the default branch holds after the merge.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pygit2
import pytest
import yaml
from cli_support import (
    BILLING_V1,
    Cli,
    Seeded,
    change,
    commit_changes,
    file_at,
    main_tip,
    ok,
    zip_files,
)

from mirel.providers.base import InstanceReport
from support import AUTHOR_TEXT, refs, write_folder


def merge_pr(cli: Cli, repo: Path, number: int) -> str:
    """Merge a pull request with `mirel pr merge` and return the new tip of main."""
    result = ok(cli("pr", "merge", str(number), "--repo", repo))
    assert f"merged #{number}" in result.stdout
    return main_tip(repo)


def test_from_an_empty_folder_to_a_pinned_manifest(tmp_path: Path, cli: Cli) -> None:
    repo = tmp_path / "hub.git"
    created = ok(cli("init", repo, "--json")).json
    assert created["default_branch"] == "main"
    assert created["commit_sha"] == main_tip(repo)
    assert pygit2.Repository(str(repo)).is_bare

    app = write_folder(
        tmp_path / "billing",
        {"main.rsx": "<App name='billing'/>\n", "lib/query1.sql": "select 1;\n"},
    )
    flow = write_folder(tmp_path / "sync", {"flow.yaml": "steps: []\n"})

    # Two pull requests opened from the same tip of main, each touching only its own folder.
    start = main_tip(repo)
    added_app = change(cli, "--repo", repo, "element", "add", "app", "billing", "--from", app)
    added_flow = change(cli, "--repo", repo, "element", "add", "workflow", "sync", "--from", flow)
    assert commit_changes(repo, added_app["commit_sha"], start) == {
        "apps/billing/lib/query1.sql": "A",
        "apps/billing/main.rsx": "A",
        "apps/billing/metadata.json": "A",
    }
    assert commit_changes(repo, added_flow["commit_sha"], start) == {
        "workflows/sync/flow.yaml": "A",
        "workflows/sync/metadata.json": "A",
    }
    assert main_tip(repo) == start  # nothing reaches main before a merge
    merge_pr(cli, repo, added_app["pull_request"]["number"])
    merge_pr(cli, repo, added_flow["pull_request"]["number"])

    elements = ok(cli("element", "list", "--repo", repo, "--json")).json["elements"]
    assert [(e["kind"], e["name"]) for e in elements] == [("app", "billing"), ("workflow", "sync")]
    billing = elements[0]["uuid"]
    metadata = json.loads(file_at(repo, "main", "apps/billing/metadata.json") or b"")
    assert metadata == {"pageUuid": billing, "name": "billing"}
    assert file_at(repo, "main", "apps/billing/lib/query1.sql") == b"select 1;\n"
    assert json.loads(file_at(repo, "main", "workflows/sync/metadata.json") or b"") == {
        "uuid": elements[1]["uuid"],
        "name": "sync",
    }

    # A minor release of a first release is 0.1.0, and its pull request adds only the artifact.
    before_release = main_tip(repo)
    released = change(cli, "--repo", repo, "release", "create", "billing", "--minor")
    artifact = f"dist/apps/{billing}/0.1.0.zip"
    assert released["branch_name"] == f"mirel/release/app/{billing}/0.1.0"
    assert commit_changes(repo, released["commit_sha"], before_release) == {artifact: "A"}
    merge_pr(cli, repo, released["pull_request"]["number"])
    members = zip_files(file_at(repo, "main", artifact) or b"")
    assert members["files/main.rsx"] == b"<App name='billing'/>\n"
    info = json.loads(members["release.json"])
    assert (info["name"], info["version"], info["uuid"]) == ("billing", "0.1.0", billing)
    assert info["source_commit"] == before_release

    # Pinning in a manifest that does not exist yet creates it, touching only its file.
    before_pin = main_tip(repo)
    pinned = change(cli, "--repo", repo, "manifest", "set", "prod", "billing", "0.1.0")
    assert commit_changes(repo, pinned["commit_sha"], before_pin) == {"manifests/prod.yaml": "A"}
    merge_pr(cli, repo, pinned["pull_request"]["number"])

    expected = {
        "version": "1.0.0",
        "name": "prod",
        "apps": [{"uuid": billing, "release": "0.1.0"}],
        "workflows": [],
    }
    on_main = file_at(repo, "main", "manifests/prod.yaml")
    assert on_main is not None
    assert yaml.safe_load(on_main) == expected
    shown = ok(cli("manifest", "show", "prod", "--repo", repo))
    assert shown.stdout == on_main.decode()
    assert ok(cli("manifest", "show", "prod", "--repo", repo, "--json")).json == {
        "manifest": {
            "name": "prod",
            "apps": [{"uuid": billing, "release": "0.1.0"}],
            "workflows": [],
        }
    }

    matrix = ok(cli("matrix", "--repo", repo, "--json")).json
    assert matrix["commit_sha"] == main_tip(repo)
    assert matrix["manifests"] == ["prod"]
    assert matrix["problems"] == []
    rows = {row["name"]: row for row in matrix["elements"]}
    assert rows["billing"]["releases"] == ["0.1.0"]
    assert rows["billing"]["pins"]["prod"] == {
        "release": "0.1.0",
        "resolved": "0.1.0",
        "status": "ok",
        "deploys": [],
    }
    assert rows["sync"]["latest"] is None
    assert rows["sync"]["pins"]["prod"]["status"] == "not_in_manifest"

    text = ok(cli("matrix", "--repo", repo)).stdout.splitlines()
    assert text[0].split() == ["element", "kind", "latest", "prod"]
    assert next(line for line in text if "billing" in line).split() == [
        "billing",
        "app",
        "0.1.0",
        "0.1.0",
    ]
    assert next(line for line in text if "sync" in line).split() == [
        "sync",
        "workflow",
        "working",
        "—",
    ]


def test_element_and_manifest_lists(seeded: Seeded, cli: Cli) -> None:
    repo = seeded.repo
    listed = ok(cli("element", "list", "--repo", repo, "--json")).json
    assert listed == {
        "elements": [
            {"uuid": seeded.billing, "kind": "app", "element_type": "PAGE", "name": "billing"},
            {"uuid": seeded.sync, "kind": "workflow", "element_type": "WORKFLOW", "name": "sync"},
        ],
        "broken": [],
    }
    text = ok(cli("element", "list", "--repo", repo)).stdout
    assert seeded.billing in text
    assert seeded.sync in text

    manifests = ok(cli("manifest", "list", "--repo", repo, "--json")).json["manifests"]
    assert manifests == [
        {"name": "prod", "apps": [{"uuid": seeded.billing, "release": "0.1.0"}], "workflows": []},
        {
            "name": "staging",
            "apps": [{"uuid": seeded.billing, "release": "latest"}],
            "workflows": [],
        },
    ]
    assert ok(cli("manifest", "list", "--repo", repo)).stdout.splitlines() == [
        "prod  (1 pin)",
        "staging  (1 pin)",
    ]


def test_lists_of_an_empty_repository_say_how_to_start(tmp_path: Path, cli: Cli) -> None:
    repo = tmp_path / "hub.git"
    ok(cli("init", repo))
    assert "mirel element add" in ok(cli("element", "list", "--repo", repo)).stdout
    assert "mirel manifest create" in ok(cli("manifest", "list", "--repo", repo)).stdout
    assert ok(cli("element", "list", "--repo", repo, "--json")).json == {
        "elements": [],
        "broken": [],
    }
    assert ok(cli("pr", "list", "--repo", repo, "--json")).json == {"pulls": []}


def test_release_list_is_newest_first_with_where_each_is_published(
    seeded: Seeded, cli: Cli
) -> None:
    views = ok(cli("release", "list", "billing", "--repo", seeded.repo, "--json")).json
    assert [v["release_version"] for v in views] == ["0.2.0", "0.1.0"]
    assert [v["release_description"] for v in views] == ["second", "first"]
    assert [v["published_in"] for v in views] == [["staging"], ["prod"]]
    assert {v["created_by"] for v in views} == {AUTHOR_TEXT}
    assert views[0]["artifact_path"] == f"dist/apps/{seeded.billing}/0.2.0.zip"

    text = ok(cli("release", "list", seeded.billing, "--repo", seeded.repo)).stdout
    assert text.index("0.2.0") < text.index("0.1.0")
    assert "no releases yet" in ok(cli("release", "list", "sync", "--repo", seeded.repo)).stdout


def test_release_diff_against_the_previous_or_a_chosen_release(seeded: Seeded, cli: Cli) -> None:
    diff = ok(cli("release", "diff", "billing", "0.2.0", "--repo", seeded.repo, "--json")).json
    assert diff["against"] == "0.1.0"
    assert diff["added"] == diff["removed"] == []
    assert [entry["path"] for entry in diff["changed"]] == ["main.rsx"]
    assert "-<App v=1/>" in diff["changed"][0]["diff"]
    assert "+<App v=2/>" in diff["changed"][0]["diff"]

    first = ok(cli("release", "diff", "billing", "0.1.0", "--repo", seeded.repo, "--json")).json
    assert first["against"] is None
    assert [e["path"] for e in first["added"]] == ["lib/query1.sql", "main.rsx", "metadata.json"]

    backwards = cli(
        "release", "diff", "billing", "0.1.0", "--against", "0.2.0", "--repo", seeded.repo
    )
    text = ok(backwards).stdout
    assert "billing 0.2.0 → 0.1.0" in text
    assert "changed main.rsx" in text
    assert "+<App v=1/>" in text


def test_pull_requests_list_show_and_close(seeded: Seeded, cli: Cli) -> None:
    repo = seeded.repo
    proposed = change(
        cli, "--repo", repo, "release", "create", "billing", "--minor", "--allow-same"
    )
    number = proposed["pull_request"]["number"]
    branch = proposed["branch_name"]
    main_before = main_tip(repo)

    pulls = ok(cli("pr", "list", "--repo", repo, "--json")).json["pulls"]
    assert pulls[0]["number"] == number  # newest first
    assert [p["state"] for p in pulls[1:]] == ["merged"] * (len(pulls) - 1)
    open_only = ok(cli("pr", "list", "--state", "open", "--repo", repo, "--json")).json["pulls"]
    assert [p["number"] for p in open_only] == [number]
    assert f"#{number}" in ok(cli("pr", "list", "--repo", repo)).stdout

    shown = ok(cli("pr", "show", str(number), "--repo", repo, "--json")).json
    assert shown["state"] == "open"
    assert shown["head_branch"] == branch
    assert shown["author"] == AUTHOR_TEXT
    assert [(d["path"], d["status"]) for d in shown["diff"]] == [
        (f"dist/apps/{seeded.billing}/0.3.0.zip", "added")
    ]
    assert (
        f"dist/apps/{seeded.billing}/0.3.0.zip"
        in ok(cli("pr", "show", str(number), "--repo", repo)).stdout
    )

    assert f"closed #{number}" in ok(cli("pr", "close", str(number), "--repo", repo)).stdout
    assert main_tip(repo) == main_before
    assert f"refs/heads/{branch}" not in refs(repo)
    closed = ok(cli("pr", "show", str(number), "--repo", repo, "--json")).json
    assert (closed["state"], closed["closed_by"]) == ("closed", AUTHOR_TEXT)
    assert closed["diff"]  # the diff stays readable after its branch is gone
    assert ok(cli("pr", "list", "--state", "open", "--repo", repo, "--json")).json == {"pulls": []}
    assert (
        ok(cli("release", "list", "billing", "--repo", repo, "--json")).json[0]["release_version"]
        == "0.2.0"
    )

    # Closing freed the number: the next minor is 0.3.0 again.
    again = change(cli, "--repo", repo, "release", "create", "billing", "--minor", "--allow-same")
    assert again["branch_name"] == branch


def test_pr_show_says_what_each_instance_would_change_and_what_refuses_the_merge(
    seeded: Seeded, cli: Cli
) -> None:
    repo = seeded.repo
    live = {seeded.billing: "0.2.0", seeded.sync: "working"}
    report = InstanceReport("staging-1", None, "staging", main_tip(repo), "SUCCESS", "t", live)
    seeded.hub.provider.report_instance(report)
    deletion = change(cli, "--repo", repo, "release", "delete", "billing", "0.2.0")
    number = str(deletion["pull_request"]["number"])
    shown = ok(cli("pr", "show", number, "--repo", repo)).stdout
    assert "If it were merged now:\nmanifest staging\n  staging-1:\n" in shown
    assert "billing 0.2.0 → 0.1.0 (pin latest)" in shown  # latest falls back
    assert "merging it now would be refused" not in shown

    merge_pr(
        cli,
        repo,
        change(cli, "--repo", repo, "manifest", "set", "qa", "billing", "0.2.0")["pull_request"][
            "number"
        ],
    )
    shown = ok(cli("pr", "show", number, "--repo", repo)).stdout
    assert "merging it now would be refused:\n  manifests/qa.yaml: pins billing 0.2.0" in shown
    data = ok(cli("pr", "show", number, "--repo", repo, "--json")).json
    assert [problem["path"] for problem in data["problems"]] == ["manifests/qa.yaml"]
    [staging] = data["plan"]["manifests"]
    assert staging["instances"][0]["changes"][0]["to"] == "0.1.0"


def test_hotfix_patches_an_older_line_without_touching_main_sources(
    seeded: Seeded, tmp_path: Path, cli: Cli
) -> None:
    repo = seeded.repo
    started = change(
        cli, "--repo", repo, "hotfix", "create", "billing", "0.1.0", pull_request=False
    )
    branch = started["branch_name"]
    assert branch == f"mirel/hotfix/app/{seeded.billing}/0.1"
    assert main_tip(repo, branch) == started["commit_sha"]
    # The hotfix branch holds the files of 0.1.0; main keeps its working version.
    assert file_at(repo, branch, "apps/billing/main.rsx") == BILLING_V1["main.rsx"]
    assert file_at(repo, "main", "apps/billing/main.rsx") == b"<App v=2/>\n"

    hotfixes = ok(cli("hotfix", "list", "--repo", repo, "--json")).json["hotfixes"]
    assert [(h["element_name"], h["line"], h["branch_name"]) for h in hotfixes] == [
        ("billing", "0.1", branch)
    ]
    assert branch in ok(cli("hotfix", "list", "--repo", repo)).stdout

    fixed = write_folder(
        tmp_path / "fixed", {"main.rsx": "<App v=1 fixed/>\n", "lib/query1.sql": "select 1;\n"}
    )
    pulls_before = {ref for ref in refs(repo) if ref.startswith("refs/mirel/pulls/")}
    pushed = change(
        cli,
        "--repo",
        repo,
        "element",
        "push",
        "billing",
        "--from",
        fixed,
        "--branch",
        branch,
        pull_request=False,
    )
    assert pushed["branch_name"] == branch
    assert main_tip(repo, branch) == pushed["commit_sha"]
    assert commit_changes(repo, pushed["commit_sha"], started["commit_sha"]) == {
        "apps/billing/main.rsx": "M"
    }
    assert {ref for ref in refs(repo) if ref.startswith("refs/mirel/pulls/")} == pulls_before

    main_before = main_tip(repo)
    patch = change(cli, "--repo", repo, "hotfix", "release", "billing", "0.1", "-d", "the fix")
    artifact = f"dist/apps/{seeded.billing}/0.1.1.zip"
    assert patch["branch_name"] == f"mirel/release/app/{seeded.billing}/0.1.1"
    assert commit_changes(repo, patch["commit_sha"], main_before) == {artifact: "A"}
    number = patch["pull_request"]["number"]
    diff = ok(cli("pr", "show", str(number), "--repo", repo, "--json")).json["diff"]
    assert [(d["path"], d["status"]) for d in diff] == [(artifact, "added")]

    merge_pr(cli, repo, number)
    assert f"refs/heads/{branch}" not in refs(repo)
    assert f"refs/heads/{patch['branch_name']}" not in refs(repo)
    assert ok(cli("hotfix", "list", "--repo", repo, "--json")).json == {"hotfixes": []}
    assert "no open hotfixes" in ok(cli("hotfix", "list", "--repo", repo)).stdout
    # The source of the hotfix branch is not merged back.
    assert file_at(repo, "main", "apps/billing/main.rsx") == b"<App v=2/>\n"
    versions = ok(cli("release", "list", "billing", "--repo", repo, "--json")).json
    assert [v["release_version"] for v in versions] == ["0.2.0", "0.1.1", "0.1.0"]
    assert versions[1]["release_description"] == "the fix"
    diff_json = ok(
        cli("release", "diff", "billing", "0.1.1", "--against", "0.1.0", "--repo", repo, "--json")
    ).json
    assert [e["path"] for e in diff_json["changed"]] == ["main.rsx"]
    assert "+<App v=1 fixed/>" in diff_json["changed"][0]["diff"]


def test_a_second_hotfix_of_a_line_starts_from_its_newest_patch(
    seeded: Seeded, tmp_path: Path, cli: Cli
) -> None:
    repo = seeded.repo
    branch = change(
        cli, "--repo", repo, "hotfix", "create", "billing", "0.1.0", pull_request=False
    )["branch_name"]
    fixed = write_folder(tmp_path / "fixed", {"main.rsx": "<App v=1 fixed/>\n"})
    ok(cli("element", "push", "billing", "--from", fixed, "--branch", branch, "--repo", repo))
    patch = change(cli, "--repo", repo, "hotfix", "release", "billing", "0.1")
    merge_pr(cli, repo, patch["pull_request"]["number"])

    # Asked for 0.1.0, the branch starts from 0.1.1, and says so.
    again = ok(cli("hotfix", "create", "billing", "0.1.0", "--repo", repo)).stdout
    assert "started hotfix 0.1 of billing from 0.1.1" in again
    assert f"--branch {branch}" in again
    assert file_at(repo, branch, "apps/billing/main.rsx") == b"<App v=1 fixed/>\n"
    second = change(cli, "--repo", repo, "hotfix", "release", "billing", "0.1", "--allow-same")
    assert second["branch_name"].endswith("/0.1.2")


def test_closing_a_patch_release_keeps_the_hotfix_and_closing_the_hotfix_drops_it(
    seeded: Seeded, cli: Cli
) -> None:
    repo = seeded.repo
    branch = change(
        cli, "--repo", repo, "hotfix", "create", "billing", "0.1.0", pull_request=False
    )["branch_name"]
    patch = change(cli, "--repo", repo, "hotfix", "release", "billing", "0.1", "--allow-same")
    ok(cli("pr", "close", str(patch["pull_request"]["number"]), "--repo", repo))
    assert f"refs/heads/{branch}" in refs(repo)  # free to try again
    assert (
        change(cli, "--repo", repo, "hotfix", "release", "billing", "0.1", "--allow-same")[
            "branch_name"
        ]
        == patch["branch_name"]
    )

    main_before = main_tip(repo)
    closed = ok(cli("hotfix", "close", "billing", "0.1", "--repo", repo, "--json")).json
    assert closed["branch_name"] == branch
    assert closed["closed"] is True
    assert f"refs/heads/{branch}" not in refs(repo)
    assert main_tip(repo) == main_before
    assert ok(cli("hotfix", "list", "--repo", repo, "--json")).json == {"hotfixes": []}


def test_deleting_an_unpinned_release_removes_only_its_artifact(seeded: Seeded, cli: Cli) -> None:
    repo = seeded.repo
    before = main_tip(repo)
    # staging tracks `latest`, which does not block deleting 0.2.0; prod pins 0.1.0 exactly.
    deleted = change(cli, "--repo", repo, "release", "delete", "billing", "0.2.0")
    artifact = f"dist/apps/{seeded.billing}/0.2.0.zip"
    assert commit_changes(repo, deleted["commit_sha"], before) == {artifact: "D"}
    merge_pr(cli, repo, deleted["pull_request"]["number"])

    assert file_at(repo, "main", artifact) is None
    views = ok(cli("release", "list", "billing", "--repo", repo, "--json")).json
    assert [v["release_version"] for v in views] == ["0.1.0"]
    matrix = ok(cli("matrix", "--repo", repo, "--json")).json
    billing = next(row for row in matrix["elements"] if row["name"] == "billing")
    assert billing["pins"]["staging"] == {
        "release": "latest",
        "resolved": "0.1.0",
        "status": "ok",
        "deploys": [],
    }


@pytest.mark.parametrize(
    "arrange",
    [
        pytest.param(lambda r: ["--repo", r, "--json", "release", "list", "billing"], id="before"),
        pytest.param(lambda r: ["release", "list", "billing", "--repo", r, "--json"], id="after"),
        pytest.param(lambda r: ["release", "--repo", r, "list", "--json", "billing"], id="middle"),
        pytest.param(lambda r: ["--json", "release", "list", "--repo", r, "billing"], id="mixed"),
    ],
)
def test_global_options_go_before_or_after_the_command(
    seeded: Seeded, cli: Cli, arrange: Callable[[str], list[str]]
) -> None:
    args = arrange(str(seeded.repo))
    views = ok(cli(*args)).json
    assert [v["release_version"] for v in views] == ["0.2.0", "0.1.0"]


@pytest.mark.parametrize("position", ["before", "after"])
def test_author_option_names_who_made_the_change(seeded: Seeded, cli: Cli, position: str) -> None:
    author = ["--author", "Ada Lovelace <ada@example.com>"]
    args = ["--repo", seeded.repo, "manifest", "create", "qa", "--json"]
    made = ok(cli(*(author + args if position == "before" else args + author))).json
    commit = pygit2.Repository(str(seeded.repo)).get(made["commit_sha"])
    assert (commit.author.name, commit.author.email) == ("Ada Lovelace", "ada@example.com")
    pull = ok(
        cli("pr", "show", str(made["pull_request"]["number"]), "--repo", seeded.repo, "--json")
    )
    assert pull.json["author"] == "Ada Lovelace <ada@example.com>"


def test_mirel_repo_names_the_repository_and_repo_wins_over_it(
    seeded: Seeded, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIREL_REPO", str(seeded.repo))
    names = [e["name"] for e in ok(cli("element", "list", "--json")).json["elements"]]
    assert names == ["billing", "sync"]

    other = tmp_path / "other.git"
    ok(cli("init", other))
    assert ok(cli("element", "list", "--repo", other, "--json")).json == {
        "elements": [],
        "broken": [],
    }


@pytest.mark.parametrize(
    ("args", "says"),
    [
        pytest.param(["frobnicate"], "No such command", id="unknown-command"),
        pytest.param(["release", "create"], "Missing argument", id="missing-argument"),
        pytest.param(
            ["manifest", "set", "prod", "billing"], "Missing argument", id="missing-release"
        ),
        pytest.param(["release", "create", "billing"], "--minor", id="no-bump"),
        pytest.param(
            ["release", "create", "billing", "--minor", "--version", "1.0.0"],
            "--minor",
            id="bump-and-version",
        ),
        pytest.param(["pr", "merge", "one"], "not a valid integer", id="not-a-number"),
        pytest.param(
            ["release", "list", "billing", "--bogus"], "No such option", id="unknown-option"
        ),
    ],
)
def test_wrong_usage_exits_2_and_writes_nothing(
    seeded: Seeded, cli: Cli, args: list[str], says: str
) -> None:
    before = refs(seeded.repo)
    result = cli("--repo", seeded.repo, *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert says in result.stderr
    assert "Usage:" in result.stderr
    assert result.stdout == ""
    assert refs(seeded.repo) == before


def test_help_and_version_exit_0(cli: Cli) -> None:
    assert "release" in ok(cli("--help")).stdout
    assert "--major" in ok(cli("release", "create", "--help")).stdout
    assert (
        ok(cli("release", "create", "-h")).stdout == ok(cli("release", "create", "--help")).stdout
    )
    assert "version" in ok(cli("--version")).stdout


def test_the_same_release_built_twice_is_byte_identical(
    seeded: Seeded, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    repo = seeded.repo
    git = pygit2.Repository(str(repo))
    artifact = f"dist/apps/{seeded.billing}/0.3.0.zip"

    first = change(
        cli, "--repo", repo, "release", "create", "billing", "--minor", "-d", "same", "--allow-same"
    )
    first_blob = git.get(first["commit_sha"]).tree[artifact].id
    ok(cli("pr", "close", str(first["pull_request"]["number"]), "--repo", repo))
    second = change(
        cli, "--repo", repo, "release", "create", "billing", "--minor", "-d", "same", "--allow-same"
    )
    second_blob = git.get(second["commit_sha"]).tree[artifact].id

    assert second["branch_name"] == first["branch_name"]
    assert second_blob == first_blob
    data = bytes(git[second_blob].data)
    info = json.loads(zip_files(data)["release.json"])
    assert info["created_at"] == "2023-11-14T22:13:20Z"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = archive.infolist()
    assert [e.filename for e in entries] == sorted(e.filename for e in entries)
    assert {e.date_time for e in entries} == {(1980, 1, 1, 0, 0, 0)}


def test_text_output_shows_what_users_wrote_verbatim(
    seeded: Seeded, tmp_path: Path, cli: Cli
) -> None:
    # Descriptions, authors and file names are the user's text, not markup or emoji codes.
    repo = seeded.repo
    folder = write_folder(
        tmp_path / "odd", {"main.rsx": "<App v=3/>\n", "lib/[id].sql": "select :id;\n"}
    )
    author = "Bob [bot] <bob@example.com>"
    description = "fix [/] the [bold]thing[/bold] :bug: " + "and a long tail " * 6
    pushed = change(
        cli,
        "--repo",
        repo,
        "--author",
        author,
        "element",
        "push",
        "billing",
        "--from",
        folder,
        "-m",
        "Rename [red]query[/red] :tada:",
    )
    number = pushed["pull_request"]["number"]
    listed = ok(cli("pr", "list", "--repo", repo)).stdout
    assert "Rename [red]query[/red] :tada:" in listed
    shown = ok(cli("pr", "show", str(number), "--repo", repo)).stdout
    assert "Rename [red]query[/red] :tada:" in shown
    assert f"by {author}" in shown
    assert "apps/billing/lib/[id].sql" in shown
    merge_pr(cli, repo, number)

    released = change(
        cli,
        "--repo",
        repo,
        "--author",
        author,
        "release",
        "create",
        "billing",
        "--minor",
        "-d",
        description,
    )
    merge_pr(cli, repo, released["pull_request"]["number"])
    # Piped output is not cut to a terminal's width: every cell is whole, on one line.
    text = ok(cli("release", "list", "billing", "--repo", repo)).stdout
    row = next(line for line in text.splitlines() if line.split()[0] == "0.3.0")
    created_at = ok(cli("release", "list", "billing", "--repo", repo, "--json")).json[0][
        "created_at"
    ]
    assert created_at in row
    assert description.strip() in row
    assert author in row
    assert len(text.splitlines()) == 4  # a header and three releases
    diff = ok(cli("release", "diff", "billing", "0.3.0", "--repo", repo)).stdout
    assert "added lib/[id].sql" in diff


def test_a_release_of_unchanged_files_is_refused_unless_allowed(seeded: Seeded, cli: Cli) -> None:
    repo = seeded.repo
    before = refs(repo)
    refused = cli("release", "create", "billing", "--minor", "--repo", repo)
    assert refused.exit_code == 1
    assert refused.stderr.strip() == (
        "error: billing 0.3.0 would hold exactly the files of 0.2.0; change the source first, "
        "or ask explicitly for an identical release; add --allow-same to release it anyway"
    )
    assert refs(repo) == before
    same = change(cli, "--repo", repo, "release", "create", "billing", "--minor", "--allow-same")
    assert same["branch_name"].endswith("/0.3.0")

    change(cli, "--repo", repo, "hotfix", "create", "billing", "0.1.0", pull_request=False)
    before = refs(repo)
    refused = cli("hotfix", "release", "billing", "0.1", "--repo", repo)
    assert refused.exit_code == 1
    assert "billing 0.1.1 would hold exactly the files of 0.1.0" in refused.stderr
    assert refs(repo) == before
    patch = change(cli, "--repo", repo, "hotfix", "release", "billing", "0.1", "--allow-same")
    assert patch["branch_name"].endswith("/0.1.1")


def test_closing_a_hotfix_with_commits_needs_yes(seeded: Seeded, tmp_path: Path, cli: Cli) -> None:
    repo = seeded.repo
    started = change(
        cli, "--repo", repo, "hotfix", "create", "billing", "0.1.0", pull_request=False
    )
    fixed = write_folder(tmp_path / "fixed", {"main.rsx": "<App v=1 fixed/>\n"})
    push = ("element", "push", "billing", "--from", fixed, "--branch", started["branch_name"])
    change(cli, "--repo", repo, *push, pull_request=False)
    before = refs(repo)
    refused = cli("hotfix", "close", "billing", "0.1", "--repo", repo)
    assert refused.exit_code == 1
    assert refused.stderr.strip() == (
        "error: the hotfix 0.1 of billing has 1 commit after it was started, which closing it "
        "would lose; confirm that you want that; add --yes to close it anyway"
    )
    assert refs(repo) == before
    closed = ok(cli("hotfix", "close", "billing", "0.1", "--yes", "--repo", repo, "--json")).json
    assert closed["branch_name"] == started["branch_name"]
    assert ok(cli("hotfix", "list", "--repo", repo, "--json")).json == {"hotfixes": []}

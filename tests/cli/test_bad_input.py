"""SPEC.md §8 through the CLI: every bad input exits 1 with one line saying what is wrong, and
writes nothing (no branch, no ref, no pull request)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from cli_support import Cli, Seeded, change, main_tip, ok

from support import CliResult, refs, write_folder


def refused(cli: Cli, repo: Path, args: Sequence[str | Path], says: tuple[str, ...] = ()) -> str:
    """Run `mirel --repo REPO ARGS...`, which must be refused; return its one-line message after
    checking that nothing in the repository moved."""
    before = refs(repo)
    result = cli("--repo", repo, *args)
    check_refusal(result, says)
    assert refs(repo) == before
    return result.stderr.strip()


def check_refusal(result: CliResult, says: tuple[str, ...]) -> None:
    """Check exit code 1, no output, and one `error: ` line mentioning each of `says`."""
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for needle in says:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture
def folders(seeded: Seeded, tmp_path: Path) -> dict[str, Path]:
    """Return source folders, good and bad, by the placeholder the cases below use."""
    root = tmp_path / "folders"
    found = {
        "app": write_folder(root / "app", {"main.rsx": "<App/>\n"}),
        "changed": write_folder(root / "changed", {"main.rsx": "<App v=3/>\n"}),
        "same": write_folder(
            root / "same", {"main.rsx": "<App v=2/>\n", "lib/query1.sql": "select 1;\n"}
        ),
        "missing": root / "missing",
        "empty": root / "empty",
        "file": write_folder(root, {"a-file.txt": "not a folder\n"}) / "a-file.txt",
        "symlink": write_folder(root / "symlink", {"main.rsx": "<App/>\n"}),
        "dirlink": write_folder(root / "dirlink", {"main.rsx": "<App/>\n"}),
        "badjson": write_folder(root / "badjson", {"metadata.json": "{not json"}),
        "notobject": write_folder(root / "notobject", {"metadata.json": "[1, 2]"}),
        "baduuid": write_folder(root / "baduuid", {"metadata.json": '{"pageUuid": "NOT-A-UUID"}'}),
        "takenuuid": write_folder(
            root / "takenuuid", {"metadata.json": json.dumps({"pageUuid": seeded.billing})}
        ),
        "otheruuid": write_folder(
            root / "otheruuid",
            {"metadata.json": json.dumps({"pageUuid": "2ab90f76-3b1c-4d8e-9f10-2a3b4c5d6e7f"})},
        ),
        "notrepo": write_folder(root / "notrepo", {"README": "just a folder\n"}),
    }
    (root / "empty").mkdir()
    (root / "symlink" / "link.rsx").symlink_to(root / "app" / "main.rsx")
    (root / "dirlink" / "lib").symlink_to(root / "app")
    return found


def fill(args: tuple[str, ...], folders: dict[str, Path]) -> list[str]:
    """Return the arguments with `{placeholder}` folders filled in."""
    return [arg.format(**{k: str(v) for k, v in folders.items()}) for arg in args]


LONG = "a" * 101
BAD_VERSIONS = ["1.0", "01.0.0", "1.0.0-rc1", "v1.0.0", "1.0.0.0", "", " 1.0.0", "1.-1.0"]

CASES = [
    # -- names ------------------------------------------------------------------------------------
    *[
        pytest.param(
            ("element", "add", "app", name, "--from", "{app}"),
            (f"{name!r} is not a valid element name", "1 to 100"),
            id=f"element-name-{label}",
        )
        for label, name in [
            ("dotdot", "../x"),
            ("space", "a b"),
            ("empty", ""),
            ("101-chars", LONG),
            ("dot-first", ".hidden"),
            ("slash", "a/b"),
            ("unicode", "café"),
        ]
    ],
    pytest.param(
        ("element", "add", "app", "--from", "{app}", "--", "-x"),
        ("'-x' is not a valid element name",),
        id="element-name-dash",
    ),
    *[
        pytest.param(
            ("manifest", *command),
            (f"{name!r} is not a valid manifest name",),
            id=f"manifest-name-{label}-{command[0]}",
        )
        for label, name in [("dotdot", "../prod"), ("space", "a b"), ("empty", ""), ("101", LONG)]
        for command in [
            ("create", name),
            ("show", name),
            ("set", name, "billing", "0.1.0"),
            ("unset", name, "billing"),
        ]
    ],
    # -- unknown things ---------------------------------------------------------------------------
    *[
        pytest.param(command, ("'nope'",), id=f"unknown-element-{'-'.join(command[:2])}")
        for command in [
            ("release", "create", "nope", "--minor"),
            ("release", "list", "nope"),
            ("release", "delete", "nope", "0.1.0"),
            ("release", "diff", "nope", "0.1.0"),
            ("manifest", "set", "prod", "nope", "0.1.0"),
            ("manifest", "unset", "prod", "nope"),
            ("hotfix", "create", "nope", "0.1.0"),
            ("hotfix", "release", "nope", "0.1"),
            ("element", "push", "nope", "--from", "{app}"),
        ]
    ],
    pytest.param(
        ("release", "list", "2ab90f76-3b1c-4d8e-9f10-2a3b4c5d6e7f"),
        ("2ab90f76-3b1c-4d8e-9f10-2a3b4c5d6e7f",),
        id="unknown-element-uuid",
    ),
    pytest.param(
        ("release", "list", "workflow/billing"), ("'billing'",), id="element-of-the-wrong-kind"
    ),
    pytest.param(
        ("element", "add", "thing", "x", "--from", "{app}"),
        ("'thing'", "app, workflow"),
        id="unknown-kind",
    ),
    pytest.param(("manifest", "show", "nope"), ("'nope'", "prod, staging"), id="unknown-manifest"),
    pytest.param(
        ("manifest", "unset", "nope", "billing"), ("'nope'",), id="unset-in-unknown-manifest"
    ),
    # -- versions ---------------------------------------------------------------------------------
    *[
        pytest.param(
            command,
            (f"{version!r} is not a version", "X.Y.Z"),
            id=f"bad-version-{version or 'empty'}-{command[0]}-{command[1]}",
        )
        for version in BAD_VERSIONS
        for command in [
            ("release", "create", "billing", "--version", version),
            ("manifest", "set", "prod", "billing", version),
            ("release", "delete", "billing", version),
            ("release", "diff", "billing", version),
            ("hotfix", "create", "billing", version),
        ]
    ],
    pytest.param(
        ("release", "diff", "billing", "0.2.0", "--against", "1.0"),
        ("'1.0' is not a version",),
        id="bad-version-against",
    ),
    pytest.param(
        ("hotfix", "release", "billing", "0.1.0"), ("'0.1.0'", "major.minor"), id="bad-line"
    ),
    pytest.param(("hotfix", "close", "billing", "x"), ("'x'", "major.minor"), id="bad-line-close"),
    pytest.param(
        ("release", "create", "billing", "--version", "0.2.0"),
        ("0.2.0", "already exists", "hotfix"),
        id="release-at-the-highest",
    ),
    pytest.param(
        ("release", "create", "billing", "--version", "0.1.0"),
        ("0.1.0", "already exists", "hotfix"),
        id="release-of-an-older-existing-version",
    ),
    pytest.param(
        ("release", "create", "billing", "--version", "0.1.5"),
        ("0.1.5", "below", "0.2.0", "hotfix", "0.1 line"),
        id="release-below-the-highest",
    ),
    # -- releases and manifests -------------------------------------------------------------------
    pytest.param(
        ("manifest", "set", "prod", "billing", "9.9.9"), ("9.9.9", "0.2.0, 0.1.0"), id="pin-missing"
    ),
    pytest.param(
        ("manifest", "set", "prod", "sync", "0.1.0"), ("sync", "0.1.0"), id="pin-unreleased"
    ),
    pytest.param(
        ("manifest", "set", "qa", "billing", "9.9.9"), ("9.9.9",), id="pin-missing-in-new-manifest"
    ),
    pytest.param(
        ("manifest", "create", "prod"), ("'prod'", "already exists"), id="manifest-exists"
    ),
    pytest.param(
        ("manifest", "set", "prod", "billing", "0.1.0"),
        ("already pins billing at 0.1.0",),
        id="pin-already-set",
    ),
    pytest.param(
        ("manifest", "set", "staging", "billing", "latest"),
        ("already pins billing at latest",),
        id="latest-already-set",
    ),
    pytest.param(
        ("manifest", "unset", "prod", "sync"), ("does not pin sync",), id="unset-absent-pin"
    ),
    pytest.param(
        ("release", "delete", "billing", "0.1.0"),
        ("manifest prod", "0.1.0", "unpin"),
        id="delete-pinned-release",
    ),
    pytest.param(
        ("release", "delete", "billing", "5.5.5"), ("5.5.5",), id="delete-missing-release"
    ),
    pytest.param(
        ("release", "diff", "billing", "0.2.0", "--against", "5.5.5"),
        ("5.5.5",),
        id="diff-against-missing-release",
    ),
    # -- hotfixes ---------------------------------------------------------------------------------
    pytest.param(
        ("hotfix", "create", "billing", "0.5.0"), ("0.5.0",), id="hotfix-of-missing-release"
    ),
    pytest.param(
        ("hotfix", "release", "billing", "0.1"),
        ("no open hotfix for 0.1", "mirel hotfix create"),
        id="hotfix-release-without-hotfix",
    ),
    pytest.param(
        ("hotfix", "close", "billing", "0.1"),
        ("no open hotfix for 0.1",),
        id="hotfix-close-without-hotfix",
    ),
    # -- element folders --------------------------------------------------------------------------
    pytest.param(
        ("element", "add", "app", "billing", "--from", "{app}"),
        ("apps/billing", "already exists"),
        id="element-exists",
    ),
    pytest.param(
        ("element", "add", "app", "x", "--from", "{missing}"),
        ("missing", "is not a folder"),
        id="from-missing",
    ),
    pytest.param(
        ("element", "add", "app", "x", "--from", "{file}"),
        ("a-file.txt", "is not a folder"),
        id="from-a-file",
    ),
    pytest.param(
        ("element", "add", "app", "x", "--from", "{empty}"), ("holds no files",), id="from-empty"
    ),
    pytest.param(
        ("element", "add", "app", "x", "--from", "{symlink}"),
        ("link.rsx", "symbolic link"),
        id="from-with-file-symlink",
    ),
    pytest.param(
        ("element", "add", "app", "x", "--from", "{dirlink}"),
        ("lib", "symbolic link"),
        id="from-with-folder-symlink",
    ),
    pytest.param(
        ("element", "push", "billing", "--from", "{symlink}"),
        ("symbolic link",),
        id="push-with-symlink",
    ),
    pytest.param(
        ("element", "add", "app", "x", "--from", "{badjson}"),
        ("metadata.json", "not valid JSON"),
        id="metadata-not-json",
    ),
    pytest.param(
        ("element", "add", "app", "x", "--from", "{notobject}"),
        ("metadata.json", "JSON object"),
        id="metadata-not-an-object",
    ),
    pytest.param(
        ("element", "add", "app", "x", "--from", "{baduuid}"),
        ("metadata.json", "'NOT-A-UUID'", "not a lowercase uuid"),
        id="metadata-bad-uuid",
    ),
    pytest.param(
        ("element", "add", "app", "x", "--from", "{takenuuid}"),
        ("already used",),
        id="metadata-uuid-of-another-element",
    ),
    pytest.param(
        ("element", "push", "billing", "--from", "{otheruuid}"),
        ("2ab90f76-3b1c-4d8e-9f10-2a3b4c5d6e7f",),
        id="push-metadata-of-another-element",
    ),
    pytest.param(
        ("element", "push", "billing", "--from", "{badjson}"),
        ("metadata.json", "not valid JSON"),
        id="push-metadata-not-json",
    ),
    pytest.param(
        ("element", "push", "billing", "--from", "{same}"),
        ("nothing to do",),
        id="push-without-changes",
    ),
    *[
        pytest.param(
            ("element", "push", "billing", "--from", "{changed}", "--branch", branch),
            (f"{branch!r}", "branch"),
            id=f"push-branch-{label}",
        )
        for label, branch in [
            ("dotdot", "bad..branch"),
            ("space", "a b"),
            ("lock", "x.lock"),
            ("dash", "-x"),
            ("trailing-slash", "x/"),
            ("tilde", "x~1"),
            ("colon", "a:b"),
        ]
    ],
    pytest.param(
        ("element", "push", "billing", "--from", "{changed}", "--branch", "main"),
        ("main", "default branch"),
        id="push-to-the-default-branch",
    ),
    # -- pull requests ----------------------------------------------------------------------------
    pytest.param(("pr", "merge", "999"), ("#999",), id="merge-unknown-pr"),
    pytest.param(("pr", "close", "999"), ("#999",), id="close-unknown-pr"),
    pytest.param(("pr", "show", "999"), ("#999",), id="show-unknown-pr"),
    pytest.param(("pr", "merge", "1"), ("#1", "already merged"), id="merge-merged-pr"),
    pytest.param(("pr", "close", "1"), ("#1", "already merged"), id="close-merged-pr"),
    # -- validate ---------------------------------------------------------------------------------
    *[
        pytest.param(("validate", "--ref", ref), (f"{ref!r}",), id=f"validate-ref-{label}")
        for label, ref in [
            ("name", "nope"),
            ("sha", "deadbeef"),
            ("range", "a..b"),
            ("tag-like", "v1.0.0"),
        ]
    ],
]


@pytest.mark.parametrize(("args", "says"), CASES)
def test_bad_input_is_refused_with_one_line_and_nothing_written(
    seeded: Seeded,
    folders: dict[str, Path],
    cli: Cli,
    args: tuple[str, ...],
    says: tuple[str, ...],
) -> None:
    refused(cli, seeded.repo, fill(args, folders), says=says)


@pytest.mark.parametrize("json_output", [False, True])
def test_json_mode_reports_errors_the_same_way(seeded: Seeded, cli: Cli, json_output: bool) -> None:
    flags = ["--json"] if json_output else []
    refused(cli, seeded.repo, [*flags, "release", "create", "nope", "--minor"], says=("'nope'",))


def test_a_version_claimed_by_an_open_release_is_refused(seeded: Seeded, cli: Cli) -> None:
    claimed = change(
        cli, "--repo", seeded.repo, "release", "create", "billing", "--minor", "--allow-same"
    )
    assert claimed["branch_name"].endswith("/0.3.0")
    repo = seeded.repo
    refused(
        cli,
        repo,
        ["release", "create", "billing", "--version", "0.3.0"],
        says=("0.3.0", "open pull request"),
    )
    refused(
        cli, repo, ["release", "create", "billing", "--version", "0.2.5"], says=("0.2.5", "hotfix")
    )


def test_a_second_hotfix_of_the_same_line_names_the_open_branch(seeded: Seeded, cli: Cli) -> None:
    repo = seeded.repo
    branch = change(
        cli, "--repo", repo, "hotfix", "create", "billing", "0.1.0", pull_request=False
    )["branch_name"]
    message = refused(cli, repo, ["hotfix", "create", "billing", "0.1.0"], says=(branch,))
    assert "release or close it" in message


def test_a_conflicting_merge_names_the_file_and_leaves_main_alone(seeded: Seeded, cli: Cli) -> None:
    repo = seeded.repo
    first = change(cli, "--repo", repo, "manifest", "set", "prod", "billing", "0.2.0")
    second = change(cli, "--repo", repo, "manifest", "set", "prod", "billing", "latest")
    ok(cli("pr", "merge", str(first["pull_request"]["number"]), "--repo", repo))
    main_before = main_tip(repo)

    number = second["pull_request"]["number"]
    refused(cli, repo, ["pr", "merge", str(number)], says=(f"#{number}", "manifests/prod.yaml"))
    assert main_tip(repo) == main_before
    shown = ok(cli("pr", "show", str(number), "--repo", repo, "--json")).json
    assert shown["state"] == "conflicting"
    assert shown["conflicts"] == ["manifests/prod.yaml"]
    pinned = ok(cli("manifest", "show", "prod", "--repo", repo, "--json")).json["manifest"]
    assert pinned["apps"] == [{"uuid": seeded.billing, "release": "0.2.0"}]


def test_a_closed_pull_request_cannot_be_merged_or_closed_again(seeded: Seeded, cli: Cli) -> None:
    repo = seeded.repo
    number = change(cli, "--repo", repo, "manifest", "create", "qa")["pull_request"]["number"]
    ok(cli("pr", "close", str(number), "--repo", repo))
    for command in ("merge", "close"):
        refused(cli, repo, ["pr", command, str(number)], says=("already closed",))


@pytest.mark.parametrize(
    "author",
    ["nobody", "a <b", "<nobody@example.com>", "Name <>", "Name", "A <b> <c>", "Na<me <x@y>"],
)
def test_a_bad_author_is_refused(seeded: Seeded, cli: Cli, author: str) -> None:
    refused(
        cli, seeded.repo, ["--author", author, "manifest", "create", "qa"], says=("Name <email>",)
    )


def test_a_bad_mirel_author_is_refused(
    seeded: Seeded, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIREL_AUTHOR", "just a name")
    refused(cli, seeded.repo, ["manifest", "create", "qa"], says=("'just a name'", "Name <email>"))


def test_a_bad_source_date_epoch_is_refused(
    seeded: Seeded, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    refused(
        cli,
        seeded.repo,
        ["release", "create", "billing", "--minor", "--allow-same"],
        says=("SOURCE_DATE_EPOCH",),
    )


def test_repo_pointing_at_a_missing_path_is_refused(tmp_path: Path, cli: Cli) -> None:
    missing = tmp_path / "nowhere.git"
    result = cli("--repo", missing, "element", "list")
    check_refusal(result, ("no repository", str(missing), "mirel init"))
    assert not missing.exists()


def test_repo_pointing_at_a_plain_folder_is_refused(folders: dict[str, Path], cli: Cli) -> None:
    plain = folders["notrepo"]
    before = sorted(path.name for path in plain.iterdir())
    result = cli("--repo", plain, "manifest", "create", "qa")
    check_refusal(result, (str(plain), "not a git repository"))
    assert sorted(path.name for path in plain.iterdir()) == before


def test_no_repository_given_is_refused(cli: Cli) -> None:
    check_refusal(cli("element", "list"), ("--repo", "MIREL_REPO"))


def test_mirel_repo_pointing_nowhere_is_refused(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIREL_REPO", str(tmp_path / "gone.git"))
    check_refusal(cli("element", "list"), ("gone.git",))


def test_init_into_a_folder_that_is_not_empty_is_refused(
    folders: dict[str, Path], cli: Cli
) -> None:
    plain = folders["notrepo"]
    check_refusal(cli("init", plain), (str(plain), "not empty"))
    assert sorted(path.name for path in plain.iterdir()) == ["README"]


def test_init_with_a_bad_default_branch_is_refused(tmp_path: Path, cli: Cli) -> None:
    check_refusal(cli("init", tmp_path / "x.git", "--default-branch", "a b"), ("'a b'",))
    assert not (tmp_path / "x.git").exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        pytest.param(
            ("manifest", "show", "prod:thumbs_up:"), ("'prod:thumbs_up:'",), id="emoji-code"
        ),
        pytest.param(("manifest", "show", "[bold]x"), ("'[bold]x'",), id="markup"),
        pytest.param(("manifest", "show", "x[/]"), ("'x[/]'",), id="closing-tag"),
        pytest.param(
            ("element", "add", "app", "x", "--from", "{missing}:smile:[/]"),
            (":smile:[/] is not a folder",),
            id="folder-name",
        ),
    ],
)
def test_error_messages_quote_the_input_verbatim(
    seeded: Seeded, folders: dict[str, Path], cli: Cli, args: tuple[str, ...], says: tuple[str, ...]
) -> None:
    refused(cli, seeded.repo, fill(args, folders), says=says)

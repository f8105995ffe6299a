"""A first walk through the CLI, as in the README's tour."""

from __future__ import annotations

from pathlib import Path

from support import write_folder


def test_init_add_release_and_pin(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "hub.git"
    assert cli("init", repo).exit_code == 0
    app = write_folder(tmp_path / "billing", {"main.rsx": "<App/>\n"})
    added = cli("element", "add", "app", "billing", "--from", app, "--repo", repo, "--json")
    assert added.exit_code == 0, added.stderr
    assert cli("pr", "merge", str(added.json["pull_request"]["number"]), "--repo", repo).exit_code == 0
    created = cli("--repo", repo, "--json", "release", "create", "billing", "--minor")
    assert created.exit_code == 0, created.stderr
    assert created.json["branch_name"].endswith("/0.1.0")

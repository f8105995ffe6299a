"""Issue 11, item 6: a writer killed at any reference write leaves a repository that the next
command settles, and `mirel repair` too.

Each scenario runs a real `mirel` process (tests/e2e/crash_writer.py) that SIGKILLs itself right
after its K-th reference write, for every K the command has. From the state it leaves, two copies
go on: one where the same command is simply run again (the "next command that meets it"), one where
`mirel repair` runs. Both must end whole: no branch of mirel's without its pull request, no merged
or closed pull request whose branch or index entry remains, every open one findable by its branch
and not already on the default branch, every merged one on it, and `validate` clean.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from mirel.cli.main import main
from mirel.hub import Hub
from mirel.hub.leftovers import is_claim
from mirel.providers.local import LocalProvider
from mirel.providers.pull_records import BRANCH_PULLS
from support import AUTHOR, AUTHOR_TEXT, add_element, merge, release

pytestmark = pytest.mark.slow

WRITER = Path(__file__).with_name("crash_writer.py")


@dataclass(frozen=True)
class Scenario:
    """One command to interrupt, and what must hold once it was settled."""

    name: str
    args: Callable[[Hub], list[str]]
    # Given the hub after settling, and whether the killed run got past its first write.
    check: Callable[[Hub], None]
    # Exit codes the command may give when run again after a kill (it may have finished).
    again_ok: tuple[int, ...] = (0,)


def build(folder: Path) -> Path:
    """Return a repository with billing 0.1.0 pinned by prod, an open release 0.2.0 (#5) and
    an open pin of staging (#6)."""
    hub = Hub.init(folder / "hub.git", AUTHOR)
    add_element(hub, "app", "billing", {"main.rsx": b"<App v=1/>\n"})
    release(hub, "billing", "0.1.0")
    merge(hub, hub.manifests.set_pin("prod", "billing", "0.1.0", AUTHOR))
    merge(hub, hub.elements.push("billing", {"main.rsx": b"<App v=2/>\n"}, AUTHOR))
    hub.releases.create("billing", AUTHOR, version="0.2.0")
    hub.manifests.set_pin("staging", "billing", "0.1.0", AUTHOR)
    assert [pull.number for pull in hub.provider.open_pulls()] == [6, 5]
    return hub.repo.path


def pull_state(hub: Hub, number: int) -> str:
    return str(hub.pulls.get(number).state)


def released(hub: Hub, version: str) -> bool:
    return any(str(view.version) == version for view in hub.catalog.releases("billing"))


def released_or_proposed(hub: Hub, version: str) -> None:
    open_versions = {str(v) for v, _ in hub.proposals.releases_of(hub.catalog.element("billing"))}
    assert released(hub, version) or version in open_versions


def merged_release(hub: Hub) -> None:
    assert pull_state(hub, 5) == "merged"
    assert released(hub, "0.2.0")


def closed_release(hub: Hub) -> None:
    assert pull_state(hub, 5) == "closed"
    assert not released(hub, "0.2.0")
    assert hub.repo.branches_under("mirel/release/") == {}


SCENARIOS = [
    Scenario(
        "release create",
        lambda hub: ["release", "create", "billing", "--minor", "--allow-same"],
        lambda hub: released_or_proposed(hub, "0.3.0"),
    ),
    Scenario("pr merge", lambda hub: ["pr", "merge", "5"], merged_release, again_ok=(0, 1)),
    Scenario("pr close", lambda hub: ["pr", "close", "5"], closed_release, again_ok=(0, 1)),
    Scenario(
        "manifest set",
        lambda hub: ["manifest", "set", "dev", "billing", "0.1.0"],
        lambda hub: None,
        # The one write made the branch and its pull request: run again, it says so.
        again_ok=(0, 1),
    ),
    Scenario(
        "pr merge of a pin",
        lambda hub: ["pr", "merge", "6"],
        lambda hub: (
            None
            if pull_state(hub, 6) == "merged"
            and hub.catalog.manifest("staging").find(hub.catalog.element("billing").uuid)
            else pytest.fail("the pin of staging is not merged")
        ),
        again_ok=(0, 1),
    ),
]


def check_whole(repo: Path) -> None:
    """Fail unless the repository holds no leftover of an interrupted write (read without
    settling anything: the records and refs as they are)."""
    hub = Hub.open(repo)
    provider = hub.provider
    assert isinstance(provider, LocalProvider)
    records, git = provider.records, hub.repo
    main_tip = git.require_branch("main")
    for number in records.numbers():
        record, _ = records.read(number)
        assert git.ref_sha(records.head_ref(number)), f"#{number} lost its head ref"
        indexed = records.number_for_branch(record.head_branch) == number
        if record.state == "open":
            assert indexed, f"open #{number} is not found by its branch"
            assert git.branch_sha(record.head_branch), f"open #{number} has no branch"
            head = git.branch_sha(record.head_branch) or record.head_sha
            assert not git.is_ancestor(head, main_tip), f"open #{number} is merged already"
        else:
            assert not indexed, f"{record.state} #{number} is still indexed"
            assert git.branch_sha(record.head_branch) != record.head_sha, (
                f"{record.state} #{number} left its branch"
            )
        if record.state == "merged":
            assert record.merge_commit_sha
            assert git.is_ancestor(record.merge_commit_sha, main_tip) or (
                record.merge_commit_sha == main_tip
            )
            assert record.head_sha in git.commit(record.merge_commit_sha).parents
    for branch in git.refs_under(BRANCH_PULLS):
        name = branch.removeprefix(BRANCH_PULLS)
        number = records.number_for_branch(name)
        assert number is not None
        assert records.read(number)[0].state == "open", f"index entry of {name} is stale"
    for branch in git.branches_under("mirel/"):
        if is_claim(branch):
            number = records.number_for_branch(branch)
            assert number is not None, f"{branch} claims without a pull request"
    assert hub.catalog.validate() == []


def run_writer(repo: Path, kill_after: int, args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(WRITER), str(kill_after), *args, "--repo", str(repo)],
        capture_output=True,
        text=True,
        env={"MIREL_AUTHOR": AUTHOR_TEXT, "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("template"))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.name)
def test_a_writer_killed_at_every_ref_write_is_settled(
    scenario: Scenario, template: Path, tmp_path: Path
) -> None:
    args = scenario.args(Hub.open(template))
    whole = tmp_path / "whole.git"
    shutil.copytree(template, whole)
    finished = run_writer(whole, 0, args)
    assert finished.returncode == 0, finished.stderr
    writes = int(finished.stderr.rsplit("writes=", 1)[1])
    assert writes >= 1
    scenario.check(Hub.open(whole))
    check_whole(whole)

    for kill_after in range(1, writes + 1):
        killed = tmp_path / f"killed-{kill_after}.git"
        shutil.copytree(template, killed)
        outcome = run_writer(killed, kill_after, args)
        assert outcome.returncode == -9, (kill_after, outcome.stderr)

        repaired = tmp_path / f"repaired-{kill_after}.git"
        shutil.copytree(killed, repaired)
        assert main(["repair", "--repo", str(repaired)]) == 0
        check_whole(repaired)
        assert main(["repair", "--repo", str(repaired), "--json"]) == 0

        code = main([*args, "--repo", str(killed), "--author", AUTHOR_TEXT])
        assert code in scenario.again_ok, (kill_after, code)
        check_whole(killed)
        scenario.check(Hub.open(killed))

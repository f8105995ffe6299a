"""Acceptance 6: many processes writing to one repository at the same moment lose nothing.

Twenty real OS processes start together against one bare repository: ten merge ten different
prepared pull requests, ten create releases (several of one element with --minor, two of an
element whose first release is being merged at that very moment, the rest of different elements).
Afterwards every reported success is in the history, numbers and versions are unique, and git
itself finds the repository sound.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from mirel.core.catalog import releases_of
from mirel.core.manifest import manifest_path
from mirel.core.versions import Bump, Version
from mirel.hub import ChangeRequest, Hub
from mirel.providers.base import PullState
from support import AUTHOR, add_element, merge

# Each worker imports mirel, says it is ready, waits for the start file, then runs one command.
WORKER = """
import sys, time
from pathlib import Path
from mirel.console import main
ready, start, args = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
ready.touch()
deadline = time.monotonic() + 60
while not start.exists() and time.monotonic() < deadline:
    time.sleep(0.001)
sys.exit(main(args))
"""

_T = TypeVar("_T")

MERGED_RELEASES = [f"merged{i}" for i in range(5)]  # elements whose 1.0.0 pull request merges
NEW_MANIFESTS = [f"env{i}" for i in range(5)]  # manifests whose creation merges
SAME = "crowded"  # released four times at once with --minor
OTHERS = [f"solo{i}" for i in range(4)]  # released once each, with --patch


@dataclass
class Worker:
    """One process: what it runs and, once finished, what it printed."""

    role: str  # "merge" or "release"
    args: list[str]
    subject: str  # the element or manifest it is about
    process: subprocess.Popen[str] | None = None
    code: int | None = None
    stdout: str = ""
    stderr: str = ""

    @property
    def data(self) -> dict[str, object]:
        """Return the JSON the command printed."""
        parsed: dict[str, object] = json.loads(self.stdout)
        return parsed


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "--git-dir", str(repo), *args], capture_output=True, text=True, timeout=60
    )


def _prepare(hub: Hub) -> tuple[dict[str, int], dict[str, str]]:
    """Add the elements and open the pull requests the mergers will merge.

    Returns the pull request of each merger's subject, and each element's uuid.
    """
    uuids = {name: add_element(hub, "app", name) for name in [*MERGED_RELEASES, SAME, *OTHERS]}
    merge(hub, hub.releases.create(SAME, AUTHOR, version="1.0.0", allow_same=True))
    pulls: dict[str, int] = {}
    for name in MERGED_RELEASES:
        change = hub.releases.create(name, AUTHOR, version="1.0.0", allow_same=True)
        assert change.pull_request is not None
        pulls[name] = change.pull_request.number
    for name in NEW_MANIFESTS:
        change = hub.manifests.create(name, AUTHOR)
        assert change.pull_request is not None
        pulls[name] = change.pull_request.number
    return pulls, uuids


@pytest.mark.slow
def test_twenty_processes_at_once_lose_nothing(tmp_path: Path) -> None:
    hub = Hub.init(tmp_path / "hub.git", AUTHOR)
    repo = hub.repo.path
    pulls, uuids = _prepare(hub)
    pulls_before = {pull.number for pull in hub.pulls.list()}

    common = ["--repo", str(repo), "--json"]
    workers = [
        Worker("merge", ["pr", "merge", str(number), *common], subject)
        for subject, number in pulls.items()
    ]
    workers += [
        Worker("release", ["release", "create", SAME, "--minor", "--allow-same", *common], SAME)
        for _ in range(4)
    ]
    # These race the merge of their element's first release: each must still land above 1.0.0.
    workers += [
        Worker("release", ["release", "create", name, "--minor", "--allow-same", *common], name)
        for name in MERGED_RELEASES[:2]
    ]
    workers += [
        Worker("release", ["release", "create", name, "--patch", "--allow-same", *common], name)
        for name in OTHERS
    ]
    assert len(workers) == 20

    start = tmp_path / "start"
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for index, worker in enumerate(workers):
        worker.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                str(tmp_path / f"ready-{index}"),
                str(start),
                *worker.args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
    try:
        deadline = time.monotonic() + 45
        while not all((tmp_path / f"ready-{i}").exists() for i in range(len(workers))):
            assert time.monotonic() < deadline, "the workers did not start in time"
            time.sleep(0.01)
        start.touch()  # everyone goes at once
        for worker in workers:
            assert worker.process is not None
            worker.stdout, worker.stderr = worker.process.communicate(timeout=45)
            worker.code = worker.process.returncode
    finally:
        for worker in workers:
            if worker.process is not None and worker.process.poll() is None:
                worker.process.kill()
                worker.process.communicate()

    failed = [(w.args, w.code, w.stderr) for w in workers if w.code != 0]
    assert failed == [], failed

    fresh = Hub.open(repo)  # a new reader, as another process would be
    main = fresh.head()
    snapshot = fresh.snapshot()

    # Every merge is on main: the head is an ancestor, the change is there, the pull request merged.
    for worker in (w for w in workers if w.role == "merge"):
        data = worker.data
        assert data["state"] == "merged"
        assert fresh.repo.is_ancestor(str(data["head_sha"]), main)
        assert fresh.repo.is_ancestor(str(data["merge_commit_sha"]), main)
        pull = fresh.pulls.get(int(str(data["number"])))
        assert pull.state is PullState.MERGED
        assert fresh.repo.branch_sha(pull.head_branch) is None
        if worker.subject in NEW_MANIFESTS:
            assert snapshot.entry(manifest_path(worker.subject)) is not None
        else:
            released = releases_of(
                snapshot, fresh.catalog.element(worker.subject).kind, uuids[worker.subject]
            )
            assert Version.parse("1.0.0") in released

    # Every release has its branch at the reported commit and its own open pull request.
    created = [w for w in workers if w.role == "release"]
    numbers = []
    versions: dict[str, list[Version]] = {}
    for worker in created:
        data = worker.data
        branch = str(data["branch_name"])
        assert fresh.repo.branch_sha(branch) == data["commit_sha"]
        pull_data = data["pull_request"]
        assert isinstance(pull_data, dict)
        pull = fresh.pulls.get(int(pull_data["number"]))
        assert pull.head_branch == branch
        assert pull.state is PullState.OPEN
        numbers.append(pull.number)
        version = Version.parse(branch.rsplit("/", 1)[-1])
        assert branch.endswith(f"{uuids[worker.subject]}/{version}")
        versions.setdefault(worker.subject, []).append(version)
    assert len(set(numbers)) == len(numbers), numbers

    # Versions of one element are distinct, and regular releases only moved forward.
    assert sorted(versions[SAME]) == [
        Version.parse(v) for v in ("1.1.0", "1.2.0", "1.3.0", "1.4.0")
    ]
    for name in MERGED_RELEASES[:2]:
        # Whether or not the merge of 1.0.0 had landed, the new release goes above it.
        assert versions[name] == [Version.parse("1.1.0")], versions[name]
    for name in OTHERS:
        assert versions[name] == [Version.parse("0.0.1")]

    # Pull request numbers: no duplicate, no gap, nothing lost.
    listed = [pull.number for pull in fresh.pulls.list()]
    assert Counter(listed).most_common(1)[0][1] == 1
    assert sorted(listed) == list(range(1, len(listed) + 1))
    assert set(listed) == pulls_before | set(numbers)
    meta_refs = fresh.repo.refs_under("refs/mirel/pulls/")
    assert len([ref for ref in meta_refs if ref.endswith("/meta")]) == len(listed)
    assert fresh.pulls.list(PullState.CONFLICTING) == []

    # Git agrees: no corruption, every ref resolves to a commit, no lock left behind.
    fsck = _git(repo, "fsck", "--full", "--strict")
    assert fsck.returncode == 0, fsck.stderr + fsck.stdout
    assert not any(
        line.startswith(("error", "missing", "broken", "bad"))
        for line in (fsck.stdout + fsck.stderr).splitlines()
    ), fsck.stdout + fsck.stderr
    listing = _git(repo, "for-each-ref", "--format=%(refname) %(objecttype)")
    assert listing.returncode == 0, listing.stderr
    kinds = dict(line.split() for line in listing.stdout.splitlines())
    assert set(kinds.values()) == {"commit"}
    assert len(kinds) >= 2 * len(listed) + 1
    assert list(repo.rglob("*.lock")) == []
    assert fresh.catalog.validate() == []


def test_a_release_chosen_while_a_merge_lands_still_moves_forward(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The merge of 1.0.0 lands between the two reads that choose the next version: the open
    release branches and the default branch.

    Whichever of the two reads comes first, the merge lands right after it. Read in the wrong
    order (main, then the branches), the new release sees 1.0.0 neither on main (read too early)
    nor as an open branch (deleted by the merge) and proposes 0.1.0, going backwards.
    """
    add_element(hub, "app", "billing")
    pending = hub.releases.create("billing", AUTHOR, version="1.0.0", allow_same=True)
    assert pending.pull_request is not None
    number = pending.pull_request.number
    catalog = hub.catalog
    reads: list[str] = []
    choosing = False

    def merge_after_first_read(name: str, read: Callable[..., _T]) -> Callable[..., _T]:
        def wrapped(*args: object, **kwargs: object) -> _T:
            found = read(*args, **kwargs)
            if choosing:
                reads.append(name)
                if len(reads) == 1:
                    hub.pulls.merge(number, AUTHOR)  # another process merges right now
            return found

        return wrapped

    claim = hub.releases.claim

    def claiming(*args: Any, **kwargs: Any) -> ChangeRequest:
        nonlocal choosing
        choosing = True
        try:
            return claim(*args, **kwargs)
        finally:
            choosing = False

    monkeypatch.setattr(catalog, "claimed", merge_after_first_read("branches", catalog.claimed))
    monkeypatch.setattr(catalog, "snapshot", merge_after_first_read("main", catalog.snapshot))
    monkeypatch.setattr(hub.releases, "claim", claiming)
    change = hub.releases.create("billing", AUTHOR, bump=Bump.MINOR, allow_same=True)
    assert reads[:2] in (["branches", "main"], ["main", "branches"])
    assert hub.pulls.get(number).state is PullState.MERGED
    assert change.branch_name.endswith("/1.1.0")

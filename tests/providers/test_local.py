"""The local provider: pull requests kept inside the bare repository, merges, deploy hooks."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from mirel.errors import InvalidInput, MergeConflict, PullRequestNotFound, PullRequestNotOpen
from mirel.git.repository import Author, GitRepository
from mirel.hub import Hub
from mirel.providers.base import PullRequest, PullState
from mirel.providers.hooks import HOOKS_FILE, SIGNATURE_HEADER, sign
from mirel.providers.local import LocalProvider
from mirel.providers.pull_records import PULLS, PullRecord
from support import AUTHOR, refs

MERGER = Author("Release Manager", "rm@example.com")


def propose(hub: Hub, branch: str, changes: dict[str, bytes | None], title: str) -> PullRequest:
    """Open a pull request of a new branch from the default branch with one commit."""
    change = hub.branches.commit(branch, changes, f"{title}\n", AUTHOR)
    assert change.pull_request is not None
    return change.pull_request


def read(hub: Hub, path: str, revision: str | None = None) -> bytes | None:
    """Return a file's content at a revision (the default branch's tip when not given)."""
    return hub.snapshot(revision).read(path)


# -- numbering and storage ---------------------------------------------------------------------


def test_pull_request_numbers_increase_and_are_never_reused(hub: Hub) -> None:
    numbers = [propose(hub, f"topic/{i}", {f"notes/{i}.txt": b"x\n"}, f"t{i}").number for i in "ab"]
    assert numbers == [1, 2]
    hub.pulls.close(2, MERGER)
    hub.pulls.merge(1, MERGER)
    assert propose(hub, "topic/c", {"notes/c.txt": b"x\n"}, "tc").number == 3
    assert [pull.number for pull in hub.pulls.list()] == [3, 2, 1]
    assert [pull.number for pull in hub.pulls.list(limit=2)] == [3, 2]


def test_a_new_pull_request_is_open_with_its_details(hub: Hub) -> None:
    main = hub.head()
    opened = propose(hub, "topic/readme", {"README.md": b"new readme\n"}, "Rewrite the readme")
    pull = hub.pulls.get(opened.number)
    assert pull.state is PullState.OPEN
    assert pull.title == "Rewrite the readme"
    assert pull.author == str(AUTHOR)
    assert (pull.head_branch, pull.base_branch, pull.base_sha) == ("topic/readme", "main", main)
    assert pull.head_sha == hub.repo.branch_sha("topic/readme")
    assert pull.conflicts == ()
    assert pull.merge_commit_sha is None
    assert hub.pulls.open_for_branch("topic/readme") == pull
    assert hub.pulls.open_for_branch("topic/other") is None
    assert hub.head() == main  # opening a pull request never touches the default branch


def test_the_open_pull_request_of_a_branch_is_found_until_it_merges(hub: Hub) -> None:
    first = propose(hub, "topic/a", {"notes/a.txt": b"a\n"}, "ta")
    second = propose(hub, "topic/b", {"notes/b.txt": b"b\n"}, "tb")
    found = hub.pulls.open_for_branch("topic/a")
    assert found is not None
    assert found.number == first.number
    hub.pulls.merge(first.number, MERGER)
    assert hub.pulls.open_for_branch("topic/a") is None
    assert hub.repo.refs_under("refs/mirel/branch-pulls/topic/a") == {}
    # The same branch name can carry a new pull request afterwards.
    third = propose(hub, "topic/a", {"notes/a2.txt": b"a2\n"}, "ta again")
    again = hub.pulls.open_for_branch("topic/a")
    assert again is not None
    assert again.number == third.number != second.number


def test_an_unknown_pull_request_is_not_found(hub: Hub) -> None:
    with pytest.raises(PullRequestNotFound, match="#7"):
        hub.pulls.get(7)
    with pytest.raises(PullRequestNotFound):
        hub.pulls.merge(7, MERGER)
    with pytest.raises(PullRequestNotFound):
        hub.pulls.close(7, MERGER)


# -- merging -----------------------------------------------------------------------------------


def test_merge_is_a_real_merge_that_keeps_the_pull_request_readable(hub: Hub) -> None:
    opened = propose(hub, "topic/notes", {"notes/a.txt": b"alpha\n"}, "Add notes")
    # The default branch moves on after the pull request was opened: the merge is three-way.
    other = propose(hub, "topic/other", {"other.txt": b"other\n"}, "Other")
    hub.pulls.merge(other.number, MERGER)
    main_before = hub.head()

    merged = hub.pulls.merge(opened.number, MERGER)

    assert merged.state is PullState.MERGED
    assert merged.merged_by == str(MERGER)
    assert merged.merge_commit_sha == hub.head()
    commit = hub.repo.commit(hub.head())
    assert commit.parents == (main_before, opened.head_sha)
    assert f"#{opened.number}" in commit.summary
    assert read(hub, "notes/a.txt") == b"alpha\n"
    assert read(hub, "other.txt") == b"other\n"
    # The head branch is gone, the pull request remembers its head, and its diff still reads.
    assert hub.repo.branch_sha("topic/notes") is None
    assert hub.repo.ref_sha(f"{PULLS}{opened.number}/head") == opened.head_sha
    assert hub.pulls.get(opened.number).state is PullState.MERGED
    diff = hub.pulls.diff(opened.number)
    assert [(item.path, item.status) for item in diff] == [("notes/a.txt", "added")]
    assert "+alpha" in diff[0].patch
    with pytest.raises(PullRequestNotOpen, match="merged"):
        hub.pulls.merge(opened.number, MERGER)
    with pytest.raises(PullRequestNotOpen, match="merged"):
        hub.pulls.close(opened.number, MERGER)


def test_merge_takes_commits_pushed_to_the_branch_after_opening(hub: Hub) -> None:
    opened = propose(hub, "topic/two", {"a.txt": b"one\n"}, "Two commits")
    hub.branches.commit("topic/two", {"b.txt": b"two\n"}, "second\n", AUTHOR)
    tip = hub.repo.require_branch("topic/two")
    assert hub.pulls.get(opened.number).head_sha == tip

    merged = hub.pulls.merge(opened.number, MERGER)
    assert merged.head_sha == tip
    assert (read(hub, "a.txt"), read(hub, "b.txt")) == (b"one\n", b"two\n")
    assert hub.repo.ref_sha(f"{PULLS}{opened.number}/head") == tip
    assert {item.path for item in hub.pulls.diff(opened.number)} == {"a.txt", "b.txt"}


def test_open_pull_request_diff_shows_only_its_own_changes(hub: Hub) -> None:
    opened = propose(hub, "topic/mine", {"mine.txt": b"mine\n"}, "Mine")
    hub.pulls.merge(propose(hub, "topic/theirs", {"theirs.txt": b"t\n"}, "Theirs").number, AUTHOR)
    assert [item.path for item in hub.pulls.diff(opened.number)] == ["mine.txt"]


def branch_with(hub: Hub, branch: str, changes: dict[str, bytes | None]) -> str:
    """Create a branch from the default branch with one commit, and no pull request."""
    tree = hub.repo.write_tree_changes(hub.repo.tree_of(hub.head()), changes)
    sha = hub.repo.write_commit(tree_oid=tree, parents=[hub.head()], message="c\n", author=AUTHOR)
    hub.repo.create_branch(branch, sha)
    return sha


def test_merge_deletes_cleanup_branches_and_close_keeps_them(hub: Hub) -> None:
    repo = hub.repo
    base = hub.head()
    pulls = {}
    for name in ("one", "two"):
        # Like a hotfix's patch release: merging it also removes the hotfix branch.
        branch_with(hub, f"hotfix/{name}", {f"fix-{name}.txt": b"fix\n"})
        branch_with(hub, f"topic/{name}", {f"{name}.txt": b"release\n"})
        pulls[name] = hub.provider.create_pull_request(
            head_branch=f"topic/{name}",
            title=name,
            description="",
            author=AUTHOR,
            cleanup_branches={f"hotfix/{name}": hub.repo.require_branch(f"hotfix/{name}")},
        )
    hotfix_two = repo.branch_sha("hotfix/two")

    closed = hub.pulls.close(pulls["two"].number, MERGER)
    assert closed.state is PullState.CLOSED
    assert closed.closed_by == str(MERGER)
    assert closed.cleanup_branches == ("hotfix/two",)
    assert repo.branch_sha("topic/two") is None
    assert repo.branch_sha("hotfix/two") == hotfix_two  # a closed release keeps its hotfix open
    assert hub.head() == base

    hub.pulls.merge(pulls["one"].number, MERGER)
    assert repo.branch_sha("topic/one") is None
    assert repo.branch_sha("hotfix/one") is None
    assert read(hub, "one.txt") == b"release\n"
    assert read(hub, "fix-one.txt") is None  # the hotfix branch's own commit is not merged
    with pytest.raises(PullRequestNotOpen, match="closed"):
        hub.pulls.merge(pulls["two"].number, MERGER)


def test_close_keeps_the_head_readable(hub: Hub) -> None:
    opened = propose(hub, "topic/drop", {"drop.txt": b"drop\n"}, "Drop me")
    hub.pulls.close(opened.number, MERGER)
    assert hub.repo.branch_sha("topic/drop") is None
    assert hub.repo.ref_sha(f"{PULLS}{opened.number}/head") == opened.head_sha
    assert [item.path for item in hub.pulls.diff(opened.number)] == ["drop.txt"]
    assert read(hub, "drop.txt") is None
    assert hub.pulls.list(PullState.CLOSED)[0].number == opened.number
    assert hub.pulls.list(PullState.OPEN) == []


# -- conflicts ---------------------------------------------------------------------------------


def test_a_conflicting_pull_request_shows_its_paths_and_is_refused(hub: Hub) -> None:
    first = propose(
        hub, "topic/a", {"README.md": b"from a\n", "shared.txt": b"a\n", "a.txt": b"a\n"}, "A"
    )
    second = propose(
        hub, "topic/b", {"README.md": b"from b\n", "shared.txt": b"b\n", "b.txt": b"b\n"}, "B"
    )
    assert hub.pulls.get(second.number).state is PullState.OPEN  # fine until A lands
    hub.pulls.merge(first.number, MERGER)

    pull = hub.pulls.get(second.number)
    assert pull.state is PullState.CONFLICTING
    assert pull.conflicts == ("README.md", "shared.txt")
    listed = {p.number: p for p in hub.pulls.list()}
    assert listed[second.number].state is PullState.CONFLICTING
    assert listed[second.number].conflicts == ("README.md", "shared.txt")
    assert listed[first.number].state is PullState.MERGED
    assert [p.number for p in hub.pulls.list(PullState.OPEN)] == [second.number]
    assert [p.number for p in hub.pulls.list(PullState.CONFLICTING)] == [second.number]

    before = refs(hub.repo.path)
    with pytest.raises(MergeConflict, match=r"README\.md, shared\.txt") as raised:
        hub.pulls.merge(second.number, MERGER)
    assert raised.value.paths == ("README.md", "shared.txt")
    assert refs(hub.repo.path) == before  # main, the branch and the pull request are untouched
    assert read(hub, "README.md") == b"from a\n"
    assert hub.pulls.get(second.number).state is PullState.CONFLICTING

    # Closing it is still possible, and then it no longer reports conflicts.
    closed = hub.pulls.close(second.number, MERGER)
    assert closed.state is PullState.CLOSED
    assert closed.conflicts == ()


# -- shared storage ----------------------------------------------------------------------------


@pytest.mark.slow
def test_pull_requests_are_shared_by_every_opener_of_the_repository(hub: Hub) -> None:
    opened = propose(hub, "topic/shared", {"shared.txt": b"s\n"}, "Shared")
    elsewhere = LocalProvider(GitRepository(hub.repo.path))
    assert elsewhere.get(opened.number).title == "Shared"

    listed = subprocess.run(
        [sys.executable, "-m", "mirel", "pr", "list", "--json", "--repo", str(hub.repo.path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert [(p["number"], p["state"]) for p in json.loads(listed.stdout)["pulls"]] == [
        (opened.number, "open")
    ]

    merged = subprocess.run(
        [
            sys.executable,
            "-m",
            "mirel",
            "pr",
            "merge",
            str(opened.number),
            "--json",
            "--repo",
            str(hub.repo.path),
            "--author",
            str(MERGER),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert merged.returncode == 0, merged.stderr
    # The first process sees the merge made by the other one, with no cache to refresh.
    assert hub.pulls.get(opened.number).state is PullState.MERGED
    assert hub.pulls.get(opened.number).merged_by == str(MERGER)
    assert hub.head() == json.loads(merged.stdout)["merge_commit_sha"]
    assert propose(hub, "topic/next", {"n.txt": b"n\n"}, "Next").number == opened.number + 1


# -- deploy hooks ------------------------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, object]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append((self.path, json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def hook_server() -> Iterator[tuple[str, list[tuple[str, dict[str, object]]]]]:
    """Yield the URL of a real HTTP server on loopback and the POSTs it received."""
    received: list[tuple[str, dict[str, object]]] = []
    handler = type("Recorder", (_Recorder,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/deploy", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens here any more: connecting is refused


def test_merge_posts_the_merge_commit_to_every_deploy_hook(
    hub: Hub, hook_server: tuple[str, list[tuple[str, dict[str, object]]]]
) -> None:
    url, received = hook_server
    assert hub.provider.hooks.add(url) == [url]
    assert hub.provider.hooks.add(url) == [url]  # registered once
    # Another opener of the repository sees the hook: it is stored in the repository folder.
    assert LocalProvider(GitRepository(hub.repo.path)).hooks.urls() == [url]
    assert (hub.repo.git_dir / HOOKS_FILE).exists()

    opened = propose(hub, "topic/hooked", {"h.txt": b"h\n"}, "Hooked")
    assert received == []  # opening notifies nobody
    merged = hub.pulls.merge(opened.number, MERGER)

    assert received == [
        (
            "/deploy",
            {
                "event": "merge",
                "repository": str(hub.repo.path),
                "branch": "main",
                "commit_sha": merged.merge_commit_sha,
                "pull_request": opened.number,
            },
        )
    ]
    hub.pulls.close(propose(hub, "topic/closed", {"c.txt": b"c\n"}, "C").number, MERGER)
    assert len(received) == 1  # closing deploys nothing

    assert hub.provider.hooks.remove(url) == []
    hub.pulls.merge(propose(hub, "topic/quiet", {"q.txt": b"q\n"}, "Q").number, MERGER)
    assert len(received) == 1


def test_a_failing_deploy_hook_does_not_fail_the_merge(
    hub: Hub,
    hook_server: tuple[str, list[tuple[str, dict[str, object]]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, received = hook_server
    dead = f"http://127.0.0.1:{_closed_port()}/deploy"
    hub.provider.hooks.add(dead)
    hub.provider.hooks.add(url)
    opened = propose(hub, "topic/dead-hook", {"d.txt": b"d\n"}, "Dead hook")

    with caplog.at_level(logging.WARNING, logger="mirel.providers.local"):
        merged = hub.pulls.merge(opened.number, MERGER)

    assert merged.state is PullState.MERGED
    assert hub.head() == merged.merge_commit_sha
    assert read(hub, "d.txt") == b"d\n"
    assert any(dead in record.getMessage() for record in caplog.records)
    # The hook after the dead one is still called.
    assert [event["commit_sha"] for _, event in received] == [merged.merge_commit_sha]


def test_deploy_hooks_go_through_the_http_client_given(hub: Hub) -> None:
    calls: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(204)

    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        hooked = Hub.open(hub.repo.path, http=http)
        hooked.provider.hooks.add("https://deploy.example/hook", "s3cret")
        opened = propose(hooked, "topic/client", {"c.txt": b"c\n"}, "Client")
        merged = hooked.pulls.merge(opened.number, MERGER)

    [call] = calls
    assert str(call.url) == "https://deploy.example/hook"
    assert json.loads(call.content)["commit_sha"] == merged.merge_commit_sha
    assert call.headers[SIGNATURE_HEADER] == sign(call.content, "s3cret")


@pytest.mark.parametrize("url", ["ftp://example.com/x", "not a url", "http://", "file:///etc"])
def test_hooks_must_be_http_urls(hub: Hub, url: str) -> None:
    with pytest.raises(InvalidInput, match="http"):
        hub.provider.hooks.add(url)
    assert hub.provider.hooks.urls() == []


# -- merge and close racing each other ---------------------------------------------------------


def _after_first_read(
    provider: LocalProvider, monkeypatch: pytest.MonkeyPatch, act: Callable[[], object]
) -> None:
    """Make `act()` run right after `provider` first reads a pull request's record.

    That is the moment another process could merge or close the same pull request.
    """
    original = provider.records.read
    done: list[bool] = []

    def read_then_act(number: int) -> tuple[PullRecord, str]:
        found = original(number)
        if not done:
            done.append(True)
            act()
        return found

    monkeypatch.setattr(provider.records, "read", read_then_act)


def test_close_racing_a_merge_does_not_record_a_merged_change_as_closed(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = propose(hub, "topic/race", {"race.txt": b"r\n"}, "Race")
    other = LocalProvider(GitRepository(hub.repo.path))  # another process
    _after_first_read(hub.provider, monkeypatch, lambda: other.merge(opened.number, MERGER))

    with pytest.raises(PullRequestNotOpen, match="merged"):
        hub.pulls.close(opened.number, AUTHOR)

    assert read(hub, "race.txt") == b"r\n"
    pull = other.get(opened.number)
    assert pull.state is PullState.MERGED  # what the record says matches the default branch
    assert pull.closed_by is None


def test_a_second_merge_racing_the_first_keeps_the_first_record(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = propose(hub, "topic/twice", {"twice.txt": b"t\n"}, "Twice")
    other = LocalProvider(GitRepository(hub.repo.path))
    first: list[PullRequest] = []
    _after_first_read(
        hub.provider, monkeypatch, lambda: first.append(other.merge(opened.number, MERGER))
    )

    second = hub.pulls.merge(opened.number, AUTHOR)

    assert second.state is PullState.MERGED
    assert second.merge_commit_sha == first[0].merge_commit_sha == hub.head()
    assert second.merged_by == str(MERGER)  # the merge that happened, not the one that found it
    merges = [c for c in hub.repo.history(hub.head()) if c.summary.startswith("Merge")]
    assert len(merges) == 1

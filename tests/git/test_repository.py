"""The git layer on a real bare repository: trees, commits, compare-and-swap refs, merges."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mirel.errors import BranchExists, BranchNotFound, InvalidInput, RefRaced, RepositoryNotFound
from mirel.git.repository import HEADS, Author, GitRepository, retry_on_race
from support import AUTHOR

BASE_FILES: dict[str, bytes | None] = {
    "README.md": b"hello\n",
    "apps/billing/main.rsx": b"<Billing/>\n",
    "apps/billing/lib/query.sql": b"select 1;\n",
    "apps/orders/main.rsx": b"<Orders/>\n",
    "workflows/nightly/metadata.json": b"{}\n",
}


@pytest.fixture
def repo(tmp_path: Path) -> GitRepository:
    """Return a bare repository whose `main` holds BASE_FILES in one commit."""
    repository = GitRepository.init_bare(tmp_path / "repo.git", "main")
    tree = repository.write_tree_changes(None, BASE_FILES)
    sha = repository.write_commit(tree_oid=tree, parents=[], message="start\n", author=AUTHOR)
    repository.create_branch("main", sha)
    return repository


def files_at(repo: GitRepository, commit_sha: str) -> dict[str, bytes]:
    """Return every file of a commit with its content."""
    return {path: repo.read_blob(oid) for path, oid in repo.walk_files(repo.tree_of(commit_sha))}


def commit_on(
    repo: GitRepository, branch: str, changes: dict[str, bytes | None], message: str = "change\n"
) -> str:
    """Commit `changes` on top of `branch` (created from main when missing) and move it."""
    tip = repo.branch_sha(branch)
    parent = tip or repo.require_branch("main")
    tree = repo.write_tree_changes(repo.tree_of(parent), changes)
    sha = repo.write_commit(tree_oid=tree, parents=[parent], message=message, author=AUTHOR)
    if tip is None:
        repo.create_branch(branch, sha)
    else:
        repo.update_ref(HEADS + branch, sha, tip)
    return sha


# -- reading -----------------------------------------------------------------------------------


def test_reads_files_and_folders_at_any_commit(repo: GitRepository) -> None:
    first = repo.require_branch("main")
    second = commit_on(repo, "main", {"apps/billing/main.rsx": b"<Billing v2/>\n"})

    old_file = repo.entry_at(repo.tree_of(first), "apps/billing/main.rsx")
    assert old_file is not None
    assert not old_file.is_tree
    assert repo.read_blob(old_file.oid) == b"<Billing/>\n"
    assert files_at(repo, second)["apps/billing/main.rsx"] == b"<Billing v2/>\n"
    assert files_at(repo, first) == BASE_FILES

    folder = repo.entry_at(repo.tree_of(second), "apps/billing")
    assert folder is not None
    assert folder.is_tree
    assert sorted(entry.name for entry in repo.list_tree(folder.oid)) == ["lib", "main.rsx"]
    assert dict(repo.walk_files(folder.oid)).keys() == {"main.rsx", "lib/query.sql"}
    assert repo.entry_at(repo.tree_of(second), "apps/missing") is None
    assert repo.entry_at(repo.tree_of(second), "apps/billing/main.rsx/deeper") is None


def test_resolve_names_branches_refs_and_shas(repo: GitRepository) -> None:
    sha = repo.require_branch("main")
    assert repo.resolve("main") == sha
    assert repo.resolve("refs/heads/main") == sha
    assert repo.resolve(sha) == sha
    with pytest.raises(BranchNotFound):
        repo.resolve("no-such-branch")
    with pytest.raises(BranchNotFound):
        repo.require_branch("no-such-branch")


def test_read_blob_of_a_folder_is_refused(repo: GitRepository) -> None:
    folder = repo.entry_at(repo.tree_of(repo.require_branch("main")), "apps")
    assert folder is not None
    with pytest.raises(InvalidInput):
        repo.read_blob(folder.oid)


# -- writing trees -----------------------------------------------------------------------------


def test_write_tree_changes_writes_and_removes_files(repo: GitRepository) -> None:
    sha = commit_on(
        repo,
        "main",
        {
            "apps/billing/main.rsx": b"<Billing v2/>\n",
            "apps/billing/new/deep/file.txt": b"new\n",
            "README.md": None,
            "not/there/at/all.txt": None,  # removing what is absent changes nothing
        },
    )
    files = files_at(repo, sha)
    assert files["apps/billing/main.rsx"] == b"<Billing v2/>\n"
    assert files["apps/billing/new/deep/file.txt"] == b"new\n"
    assert "README.md" not in files
    assert repo.entry_at(repo.tree_of(sha), "not") is None
    assert set(files) == {
        "apps/billing/main.rsx",
        "apps/billing/lib/query.sql",
        "apps/billing/new/deep/file.txt",
        "apps/orders/main.rsx",
        "workflows/nightly/metadata.json",
    }


def test_removing_the_last_file_of_a_folder_removes_the_folder(repo: GitRepository) -> None:
    sha = commit_on(repo, "main", {"workflows/nightly/metadata.json": None})
    tree = repo.tree_of(sha)
    # Git has no empty folders: the whole chain of now-empty folders goes.
    assert repo.entry_at(tree, "workflows/nightly") is None
    assert repo.entry_at(tree, "workflows") is None
    sha = commit_on(repo, "main", {"apps/billing/lib/query.sql": None})
    assert repo.entry_at(repo.tree_of(sha), "apps/billing/lib") is None
    assert repo.entry_at(repo.tree_of(sha), "apps/billing/main.rsx") is not None


def test_removing_every_file_gives_the_empty_tree(repo: GitRepository) -> None:
    before = repo.tree_of(repo.require_branch("main"))
    empty = repo.write_tree_changes(before, dict.fromkeys(BASE_FILES))
    assert repo.list_tree(empty) == []
    assert empty == "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's empty tree


def test_unchanged_subtrees_keep_their_oid(repo: GitRepository) -> None:
    before = repo.tree_of(repo.require_branch("main"))
    after = repo.write_tree_changes(before, {"apps/billing/main.rsx": b"<Billing v2/>\n"})

    def oid(tree: str, path: str) -> str:
        entry = repo.entry_at(tree, path)
        assert entry is not None
        return entry.oid

    # Only the trees along the changed path are new; every sibling is the very same object,
    # which is what makes a change cost its depth rather than the size of the repository.
    for changed in ("", "apps", "apps/billing"):
        assert oid(before, changed) != oid(after, changed)
    for unchanged in ("workflows", "apps/orders", "apps/billing/lib", "README.md"):
        assert oid(before, unchanged) == oid(after, unchanged)


def test_writing_the_same_content_gives_the_same_tree(repo: GitRepository) -> None:
    before = repo.tree_of(repo.require_branch("main"))
    assert repo.write_tree_changes(before, {"README.md": b"hello\n"}) == before
    assert repo.write_tree_changes(before, {"absent.txt": None}) == before


@pytest.mark.parametrize(
    "path",
    ["../x", "/x", "a//b", ".git/x", "apps/.git/config", "a/../b", "./a", "a/", "", "a\\b"],
)
def test_unsafe_paths_are_refused(repo: GitRepository, path: str) -> None:
    tree = repo.tree_of(repo.require_branch("main"))
    with pytest.raises(InvalidInput, match="safe relative path"):
        repo.write_tree_changes(tree, {path: b"evil\n"})
    with pytest.raises(InvalidInput, match="safe relative path"):
        repo.write_tree_changes(tree, {path: None})


def test_a_file_cannot_replace_a_folder(repo: GitRepository) -> None:
    tree = repo.tree_of(repo.require_branch("main"))
    with pytest.raises(InvalidInput, match="folder"):
        repo.write_tree_changes(tree, {"apps/billing": b"not a folder\n"})


def test_a_folder_cannot_go_below_a_file(repo: GitRepository) -> None:
    tree = repo.tree_of(repo.require_branch("main"))
    with pytest.raises(InvalidInput, match="is a file"):
        repo.write_tree_changes(tree, {"README.md/inside.txt": b"x\n"})
    with pytest.raises(InvalidInput):
        repo.write_tree_changes(None, {"a": b"file\n", "a/b": b"below the file\n"})


def test_write_commit_moves_no_reference(repo: GitRepository) -> None:
    main = repo.require_branch("main")
    tree = repo.write_tree_changes(repo.tree_of(main), {"x.txt": b"x\n"})
    sha = repo.write_commit(
        tree_oid=tree, parents=[main], message="Add x\n\nbody\n", author=AUTHOR, when=1_700_000_000
    )
    assert repo.require_branch("main") == main
    info = repo.commit(sha)
    assert info.parents == (main,)
    assert info.summary == "Add x"
    assert (info.author_name, info.author_email, info.time) == (
        AUTHOR.name,
        AUTHOR.email,
        1_700_000_000,
    )


# -- references --------------------------------------------------------------------------------


def test_create_branch_refuses_an_existing_name(repo: GitRepository) -> None:
    main = repo.require_branch("main")
    other = commit_on(repo, "feature", {"x.txt": b"x\n"})
    with pytest.raises(BranchExists, match="feature"):
        repo.create_branch("feature", main)
    assert repo.branch_sha("feature") == other


@pytest.mark.parametrize(
    "name", ["bad name", "a..b", "x~1", "end.lock", "a//b", "x:y", "", "-x", "HEAD"]
)
def test_create_branch_refuses_invalid_names(repo: GitRepository, name: str) -> None:
    with pytest.raises(InvalidInput):
        repo.create_branch(name, repo.require_branch("main"))
    assert HEADS + name not in repo.refs_under(HEADS)


def test_update_ref_is_a_compare_and_swap_across_objects(repo: GitRepository) -> None:
    first = GitRepository(repo.path)
    second = GitRepository(repo.path)
    start = first.require_branch("main")
    tree = first.tree_of(start)
    ours = first.write_commit(tree_oid=tree, parents=[start], message="ours\n", author=AUTHOR)
    theirs = second.write_commit(tree_oid=tree, parents=[start], message="theirs\n", author=AUTHOR)

    second.update_ref(HEADS + "main", theirs, start)  # the winner
    with pytest.raises(RefRaced):
        first.update_ref(HEADS + "main", ours, start)  # stale: it still expects `start`

    assert first.require_branch("main") == theirs
    assert GitRepository(repo.path).require_branch("main") == theirs


def test_update_ref_of_a_missing_ref_races(repo: GitRepository) -> None:
    with pytest.raises(RefRaced):
        repo.update_ref(HEADS + "gone", repo.require_branch("main"), repo.require_branch("main"))
    assert repo.branch_sha("gone") is None


def test_concurrent_compare_and_swap_loses_no_update(repo: GitRepository) -> None:
    """Threads each append commits to one branch; every successful swap stays in the chain."""
    per_writer, writers = 15, 4
    ref = HEADS + "counter"
    repo.create_branch("counter", repo.require_branch("main"))
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        mine = GitRepository(repo.path)
        try:
            barrier.wait()
            for step in range(per_writer):

                def append(step: int = step) -> None:
                    tip = mine.require_branch("counter")
                    sha = mine.write_commit(
                        tree_oid=mine.tree_of(tip),
                        parents=[tip],
                        message=f"writer {index} step {step}\n",
                        author=AUTHOR,
                    )
                    mine.update_ref(ref, sha, tip)

                retry_on_race(append, what="appending")
        except BaseException as error:  # reported to the main thread below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(index,)) for index in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    chain = repo.history(repo.require_branch("counter"), limit=1000)
    messages = [info.summary for info in chain if info.summary.startswith("writer")]
    assert sorted(messages) == sorted(
        f"writer {index} step {step}" for index in range(writers) for step in range(per_writer)
    )


def test_a_held_lock_is_a_race_not_a_crash(repo: GitRepository) -> None:
    """Another process holding a ref's lock file makes writers retry; nothing is written."""
    main = repo.require_branch("main")
    tree = repo.tree_of(main)
    newer = repo.write_commit(tree_oid=tree, parents=[main], message="newer\n", author=AUTHOR)
    heads = repo.git_dir / "refs" / "heads"
    (heads / "main.lock").write_text("held by another writer\n")
    (heads / "fresh.lock").write_text("held by another writer\n")

    with pytest.raises(RefRaced):
        repo.update_ref(HEADS + "main", newer, main)
    with pytest.raises(RefRaced):
        repo.create_ref(HEADS + "fresh", newer)
    assert repo.delete_ref(HEADS + "main", main) is False
    assert repo.require_branch("main") == main
    assert repo.branch_sha("fresh") is None

    # Once the other writer lets go, a retried update goes through.
    release = threading.Timer(0.05, (heads / "main.lock").unlink)
    release.start()
    try:
        retry_on_race(lambda: repo.update_ref(HEADS + "main", newer, main), what="updating main")
    finally:
        release.join()
    assert repo.require_branch("main") == newer


# Each process creates the same refs with its own commit and reports the ones it believes it made.
_CREATOR = """
import json, sys, time
from pathlib import Path
from mirel.errors import RefRaced
from mirel.git.repository import Author, GitRepository
repo = GitRepository(sys.argv[1])
start, count = Path(sys.argv[2]), int(sys.argv[3])
main = repo.require_branch("main")
mine = repo.write_commit(
    tree_oid=repo.tree_of(main), parents=[main], message=sys.argv[4] + "\\n",
    author=Author("w", "w@example.com"),
)
Path(sys.argv[5]).touch()  # ready
while not start.exists():
    time.sleep(0.001)
won = []
for index in range(count):
    try:
        repo.create_ref(f"refs/claims/{index}", mine)
        won.append(index)
    except RefRaced:
        pass
print(json.dumps({"sha": mine, "won": won}))
"""


@pytest.mark.slow
def test_create_ref_has_exactly_one_winner_across_processes(
    repo: GitRepository, tmp_path: Path
) -> None:
    """Creating a ref claims it: of several processes, exactly one wins, and its value stays."""
    count, writers = 200, 6
    start = tmp_path / "start"
    ready = [tmp_path / f"ready-{n}" for n in range(writers)]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _CREATOR,
                str(repo.path),
                str(start),
                str(count),
                f"w{n}",
                str(ready[n]),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(writers)
    ]
    outputs = []
    try:
        deadline = time.monotonic() + 30
        while not all(path.exists() for path in ready) and time.monotonic() < deadline:
            time.sleep(0.005)
        start.touch()  # all at once
        for process in processes:
            out, err = process.communicate(timeout=60)
            assert process.returncode == 0, err
            outputs.append(json.loads(out))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    claims = repo.refs_under("refs/claims/")
    assert len(claims) == count
    for index in range(count):
        winners = [out["sha"] for out in outputs if index in out["won"]]
        assert len(winners) == 1, f"ref {index} was created by {len(winners)} processes"
        assert claims[f"refs/claims/{index}"] == winners[0]


def test_delete_ref_with_a_stale_expected_sha_leaves_the_ref(repo: GitRepository) -> None:
    old = repo.require_branch("main")
    new = commit_on(repo, "main", {"x.txt": b"x\n"})
    assert repo.delete_ref(HEADS + "main", old) is False
    assert repo.require_branch("main") == new
    assert repo.delete_ref(HEADS + "main", new) is True
    assert repo.branch_sha("main") is None
    assert repo.delete_ref(HEADS + "main") is False


def test_refs_under_and_branches_under(repo: GitRepository) -> None:
    a = commit_on(repo, "mirel/release/app/x/1.0.0", {"a.txt": b"a\n"})
    b = commit_on(repo, "mirel/release/app/x/1.1.0", {"b.txt": b"b\n"})
    commit_on(repo, "other", {"c.txt": b"c\n"})
    assert repo.branches_under("mirel/release/") == {
        "mirel/release/app/x/1.0.0": a,
        "mirel/release/app/x/1.1.0": b,
    }
    assert set(repo.refs_under("refs/heads/mirel/")) == {
        "refs/heads/mirel/release/app/x/1.0.0",
        "refs/heads/mirel/release/app/x/1.1.0",
    }


# -- merges and history ------------------------------------------------------------------------


def test_merge_trees_fast_path_takes_their_tree(repo: GitRepository) -> None:
    base = repo.require_branch("main")
    theirs = commit_on(repo, "feature", {"apps/orders/main.rsx": b"<Orders v2/>\n"})
    tree, conflicts = repo.merge_trees(base, theirs)
    assert conflicts == []
    assert tree == repo.tree_of(theirs)


def test_merge_trees_merges_disjoint_changes(repo: GitRepository) -> None:
    theirs = commit_on(repo, "feature", {"apps/orders/main.rsx": b"<Orders v2/>\n"})
    ours = commit_on(repo, "main", {"apps/billing/main.rsx": b"<Billing v2/>\n", "README.md": None})
    tree, conflicts = repo.merge_trees(ours, theirs)
    assert conflicts == []
    assert tree is not None
    files = {path: repo.read_blob(oid) for path, oid in repo.walk_files(tree)}
    assert files["apps/orders/main.rsx"] == b"<Orders v2/>\n"
    assert files["apps/billing/main.rsx"] == b"<Billing v2/>\n"
    assert "README.md" not in files
    # Merging computes a tree only: no branch moved.
    assert repo.require_branch("main") == ours
    assert repo.require_branch("feature") == theirs


def test_merge_trees_merges_changes_to_different_lines_of_one_file(repo: GitRepository) -> None:
    lines = b"".join(f"line {n}\n".encode() for n in range(10))
    commit_on(repo, "main", {"doc.txt": lines})
    theirs = commit_on(repo, "feature", {"doc.txt": lines.replace(b"line 1\n", b"LINE 1\n")})
    ours = commit_on(repo, "main", {"doc.txt": lines.replace(b"line 8\n", b"LINE 8\n")})
    tree, conflicts = repo.merge_trees(ours, theirs)
    assert conflicts == []
    assert tree is not None
    entry = repo.entry_at(tree, "doc.txt")
    assert entry is not None
    merged = repo.read_blob(entry.oid)
    assert b"LINE 1\n" in merged
    assert b"LINE 8\n" in merged


def test_merge_trees_names_conflicting_paths(repo: GitRepository) -> None:
    theirs = commit_on(
        repo,
        "feature",
        {"apps/billing/main.rsx": b"<Billing theirs/>\n", "apps/orders/main.rsx": b"<O/>\n"},
    )
    ours = commit_on(
        repo,
        "main",
        {"apps/billing/main.rsx": b"<Billing ours/>\n", "new.txt": b"ours\n"},
    )
    commit_on(repo, "feature", {"new.txt": b"theirs\n"})
    theirs = repo.require_branch("feature")
    tree, conflicts = repo.merge_trees(ours, theirs)
    assert tree is None
    assert conflicts == ["apps/billing/main.rsx", "new.txt"]


def test_is_ancestor_and_merge_base(repo: GitRepository) -> None:
    start = repo.require_branch("main")
    feature = commit_on(repo, "feature", {"f.txt": b"f\n"})
    main = commit_on(repo, "main", {"m.txt": b"m\n"})
    assert repo.merge_base(main, feature) == start
    assert repo.is_ancestor(start, main)
    assert repo.is_ancestor(main, main)
    assert not repo.is_ancestor(feature, main)
    assert not repo.is_ancestor(main, start)


def test_history_follows_a_path(repo: GitRepository) -> None:
    start = repo.require_branch("main")
    one = commit_on(repo, "main", {"apps/billing/main.rsx": b"v2\n"}, "billing v2\n")
    commit_on(repo, "main", {"apps/orders/main.rsx": b"v2\n"}, "orders v2\n")
    three = commit_on(repo, "main", {"apps/billing/lib/query.sql": b"v2\n"}, "billing query\n")
    tip = commit_on(repo, "main", {"README.md": b"v2\n"}, "readme\n")

    assert [c.sha for c in repo.history(tip, "apps/billing")] == [three, one, start]
    assert [c.sha for c in repo.history(tip, "apps/billing/main.rsx")] == [one, start]
    assert [c.summary for c in repo.history(tip)] == [
        "readme",
        "billing query",
        "orders v2",
        "billing v2",
        "start",
    ]
    assert len(repo.history(tip, limit=2)) == 2
    assert repo.history(tip, "nothing/here") == []


def test_history_sees_a_path_removed(repo: GitRepository) -> None:
    removed = commit_on(repo, "main", {"workflows/nightly/metadata.json": None}, "drop nightly\n")
    tip = commit_on(repo, "main", {"README.md": b"v2\n"})
    assert next(c.sha for c in repo.history(tip, "workflows/nightly")) == removed


# -- opening and identities --------------------------------------------------------------------


def test_opening_a_missing_path_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(RepositoryNotFound, match="create one there") as raised:
        GitRepository(tmp_path / "nowhere.git")
    assert raised.value.cli_hint is not None
    assert "mirel init" in raised.value.cli_hint  # the command line adds the command


def test_init_bare_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("x")
    with pytest.raises(InvalidInput, match="not empty"):
        GitRepository.init_bare(tmp_path / "busy", "main")


def test_default_branch_follows_head(tmp_path: Path) -> None:
    assert GitRepository.init_bare(tmp_path / "r.git", "trunk").default_branch == "trunk"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ada Lovelace <ada@example.com>", Author("Ada Lovelace", "ada@example.com")),
        ("  Ada <ada@example.com>  ", Author("Ada", "ada@example.com")),
        ("Ada<ada@x>", Author("Ada", "ada@x")),
        ("CI Bot (release) <ci@example.com>", Author("CI Bot (release)", "ci@example.com")),
    ],
)
def test_author_parse_accepts_name_and_email(text: str, expected: Author) -> None:
    assert Author.parse(text) == expected
    assert Author.parse(str(expected)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Ada",
        "ada@example.com",
        "<ada@example.com>",
        "Ada <>",
        "Ada <ada@example.com",
        "Ada ada@example.com>",
        "Ada <a<b@example.com>",
        "Ada <a>b@example.com>",
        "Ada> <ada@example.com>",
        "Ada\nEvil <ada@example.com>",
    ],
)
def test_author_parse_refuses_other_text(text: str) -> None:
    with pytest.raises(InvalidInput, match="Name <email>"):
        Author.parse(text)


# -- releasing a claim whose pull request may be in flight ------------------------------------


def test_a_claim_is_removed_only_while_its_guard_is_neither_there_nor_being_written(
    repo: GitRepository,
) -> None:
    import pygit2

    tip = repo.require_branch("main")
    claim, guard = HEADS + "mirel/release/x", "refs/mirel/branch-pulls/mirel/release/x"
    repo.create_ref(claim, tip)
    # Another writer's transaction holds the guard's lock (its branch already visible to
    # readers, its index entry not yet): the claim stays.
    other = pygit2.Repository(str(repo.path))
    with other.transaction() as transaction:
        transaction.lock_ref(guard)
        assert repo.delete_ref_unguarded_by(claim, tip, guard) is False
        assert repo.ref_sha(claim) == tip
        transaction.set_target(guard, tip)
    # The writer is done: its pull request is indexed, so the claim is live.
    assert repo.delete_ref_unguarded_by(claim, tip, guard) is False
    assert repo.delete_ref(guard)
    # A claim that moved is someone's new one.
    assert repo.delete_ref_unguarded_by(claim, "0" * 40, guard) is False
    # Nobody writes it and nothing indexes it: abandoned, removed.
    assert repo.delete_ref_unguarded_by(claim, tip, guard) is True
    assert repo.ref_sha(claim) is None

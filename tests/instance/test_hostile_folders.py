"""Element folders pushed with plain git that no instance can serve (issue 11, item 2): each is
named by `validate` with its file, every other element still reads, and a deploy either serves
the others (a folder that is no element) or fails with that problem, never an internal error,
changing nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import pygit2
import pytest
from instance_support import Repo, live_state, open_instance

from mirel.git.repository import HEADS
from mirel.hub import Hub
from support import AUTHOR

BLOB = pygit2.GIT_FILEMODE_BLOB
TREE = pygit2.GIT_FILEMODE_TREE
LINK = pygit2.GIT_FILEMODE_LINK
COMMIT = pygit2.GIT_FILEMODE_COMMIT

# A folder: raw name -> file content, a sub-folder, or (mode, object id) for links and submodules.
Folder = Mapping[bytes, "bytes | Folder | tuple[int, bytes]"]


def write_tree(git: pygit2.Repository, folder: Folder) -> pygit2.Oid:
    """Write a tree whose entry names are raw bytes (git does not require UTF-8)."""
    entries = []
    for name, value in folder.items():
        if isinstance(value, bytes):
            entries.append((name, BLOB, git.create_blob(value).raw))
        elif isinstance(value, tuple):
            entries.append((name, value[0], value[1]))
        else:
            entries.append((name, TREE, write_tree(git, value).raw))
    # Git orders a tree's entries by name, a folder's name as if it ended with '/'.
    entries.sort(key=lambda item: item[0] + (b"/" if item[1] == TREE else b""))
    data = b"".join(b"%o %s\x00%s" % (mode, name, oid) for name, mode, oid in entries)
    return git.odb.write(pygit2.GIT_OBJECT_TREE, data)


def push_raw_folder(hub: Hub, name: bytes, folder: Folder) -> None:
    """Put `apps/<name>` on the default branch as plain git would, with no check."""
    git = pygit2.Repository(str(hub.repo.path))
    head = git.references[HEADS + hub.default_branch].peel(pygit2.Commit)
    apps = {entry.raw_name: entry for entry in git.get(head.tree["apps"].id)}
    raw: dict[bytes, bytes | Folder | tuple[int, bytes]] = {
        entry_name: (entry.filemode, entry.id.raw) for entry_name, entry in apps.items()
    }
    raw[name] = folder
    tree = {entry.raw_name: (entry.filemode, entry.id.raw) for entry in head.tree}
    root = {**tree, b"apps": raw}
    signature = pygit2.Signature(AUTHOR.name, AUTHOR.email)
    git.create_commit(
        HEADS + hub.default_branch,
        signature,
        signature,
        "a hostile push\n",
        write_tree(git, root),
        [head.id],
    )


def metadata(name: str, uuid: str) -> bytes:
    return json.dumps({"pageUuid": uuid, "name": name}).encode()


def nested(git: pygit2.Repository, depth: int) -> tuple[int, bytes]:
    """Return the entry of a folder `d/d/.../f.txt`, `depth` folders deep (written bottom up)."""
    oid = write_tree(git, {b"f.txt": b"deep"})
    for _ in range(depth - 1):
        oid = write_tree(git, {b"d": (TREE, oid.raw)})
    return TREE, oid.raw


UUID = "22222222-2222-4222-8222-222222222222"
HOSTILE: dict[str, tuple[bytes, Callable[[pygit2.Repository], Folder], str, str]] = {
    # id: (folder name, its content, the file validate names, what it says)
    "deep-metadata": (
        b"deep",
        lambda _: {b"metadata.json": b"[" * 200_000 + b"]" * 200_000},
        "apps/deep/metadata.json",
        "nests too deep to be read",
    ),
    "huge-metadata": (
        b"huge",
        lambda _: {b"metadata.json": b" " * (2 * 1024 * 1024) + b"{}"},
        "apps/huge/metadata.json",
        "is over 1,048,576 bytes",
    ),
    "not-utf8-folder": (
        b"bad\xffname",
        lambda _: {b"metadata.json": metadata("bad", UUID)},
        "apps/bad\\xffname",
        "is not a valid element name",
    ),
}
# Folders that are elements but cannot be served: the deploy fails, naming the file.
UNSERVABLE: dict[str, tuple[bytes, Callable[[pygit2.Repository], Folder], str, str]] = {
    "not-utf8-file": (
        b"latin",
        lambda _: {b"metadata.json": metadata("latin", UUID), b"caf\xe9.txt": b"x"},
        "apps/latin/caf\\xe9.txt",
        "has a name that is not UTF-8",
    ),
    "thousand-folders": (
        b"nest",
        lambda git: {b"metadata.json": metadata("nest", UUID), b"d": nested(git, 1000)},
        "apps/nest/d/d/d/d",
        "is a path of 2005 characters, over 1024",
    ),
    "symlink": (
        b"linked",
        lambda git: {
            b"metadata.json": metadata("linked", UUID),
            b"secret": (LINK, git.create_blob(b"/etc/passwd").raw),
        },
        "apps/linked/secret",
        "is a symbolic link",
    ),
    "submodule": (
        b"sub",
        lambda _: {b"metadata.json": metadata("sub", UUID), b"vendor": (COMMIT, b"\x01" * 20)},
        "apps/sub/vendor",
        "is a submodule",
    ),
    "control-character": (
        b"ctl",
        lambda _: {b"metadata.json": metadata("ctl", UUID), b"a\x01b": b"x"},
        "apps/ctl/a\x01b",
        "has a control character in its name",
    ),
}


def problems_of(hub: Hub) -> list[str]:
    return [str(problem) for problem in Hub.open(hub.repo.path).catalog.validate()]


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_folder_that_is_no_element_is_named_and_the_others_deploy(
    repo: Repo, database_url: str, tmp_path: Path, case: str
) -> None:
    name, content, path, says = HOSTILE[case]
    push_raw_folder(repo.hub, name, content(pygit2.Repository(str(repo.hub.repo.path))))
    found = problems_of(repo.hub)
    assert any(problem.startswith(path) and says in problem for problem in found), found
    hub = Hub.open(repo.hub.repo.path)
    assert [element.name for element in hub.catalog.elements()] == [
        "billing",
        "crm",
        "status",
        "nightly",
    ]
    instance = open_instance(hub, database_url, manifest="prod")
    try:
        deployment = instance.deployer.deploy("test")
        assert deployment.status == "SUCCESS", deployment.log
        assert "not served" in deployment.log
        assert set(live_state(instance)) == {repo.billing, repo.crm, repo.status, repo.nightly}
    finally:
        instance.close()


@pytest.mark.parametrize("case", sorted(UNSERVABLE))
def test_an_element_no_instance_can_serve_fails_the_deploy_naming_its_file(
    repo: Repo, database_url: str, case: str
) -> None:
    instance = open_instance(repo.hub, database_url, manifest="prod")
    try:
        assert instance.deployer.deploy("test").status == "SUCCESS"
        before = live_state(instance)
        name, content, path, says = UNSERVABLE[case]
        push_raw_folder(repo.hub, name, content(pygit2.Repository(str(repo.hub.repo.path))))
        found = problems_of(repo.hub)
        assert any(problem.startswith(path) and says in problem for problem in found), found
        deployment = instance.deployer.deploy("test")
        assert deployment.status == "ERROR"
        assert any(says in error for error in deployment.errors), deployment.errors
        assert "internal error" not in deployment.log
        assert live_state(instance) == before  # all or nothing
    finally:
        instance.close()

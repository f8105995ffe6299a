"""Helpers of the hostile corpus (tests/instance/test_hostile_corpus.py): a template repository
with a deployed instance, copied per case; raw git commits as a plain push makes them; hand-made
zips; and a small in-process client of the application."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import struct
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import httpx
import pygit2
from fastapi import FastAPI
from instance_support import LiveState, live_state

from mirel.core.artifact import ArtifactLimits, files_digest
from mirel.core.kinds import KINDS
from mirel.git.repository import HEADS
from mirel.hub import Hub
from mirel.instance import Instance
from mirel.instance.accounts.sessions import open_session
from mirel.instance.accounts.tokens import SCOPES, create_token
from mirel.instance.accounts.users import Role, hash_password, put_user
from mirel.settings import Settings
from support import AUTHOR, add_element, merge, release

BLOB = pygit2.GIT_FILEMODE_BLOB
TREE = pygit2.GIT_FILEMODE_TREE
LINK = pygit2.GIT_FILEMODE_LINK
COMMIT = pygit2.GIT_FILEMODE_COMMIT

# Small limits, so that "over the limit" costs a few MiB, not 256.
MAX_ARTIFACT_BYTES = 2 * 1024 * 1024
LIMITS = ArtifactLimits(max_total_bytes=MAX_ARTIFACT_BYTES)
SOURCE_COMMIT = "0123456789abcdef0123456789abcdef01234567"

# A tree entry: a file's content, a folder (raw name -> entry), (mode, raw object id), or None
# (remove it).
Value = Union[bytes, "Mapping[bytes, Value]", tuple[int, bytes], None]


# -- the template ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """A repository and an instance that deployed it, to be copied per case.

    billing: releases 1.0.0 and 1.1.0, prod pins 1.0.0; crm: release 1.0.0, prod pins latest;
    nightly (workflow): release 0.1.0, not in prod (served at its working version).
    """

    folder: Path
    billing: str
    crm: str
    nightly: str
    token: str
    cookie: str
    live: LiveState


def instance_settings(folder: Path) -> Settings:
    """Return the settings of the instance of a template copy."""
    return Settings(
        name="corpus",
        repo=str(folder / "hub.git"),
        database_url=f"sqlite:///{folder / 'instance.db'}",
        manifest="prod",
        poll_interval=0,
        max_artifact_bytes=MAX_ARTIFACT_BYTES,
    )


def open_copy(folder: Path) -> tuple[Hub, Instance]:
    """Return the hub and instance of a template copy."""
    hub = Hub.open(folder / "hub.git", limits=LIMITS)
    return hub, Instance(instance_settings(folder), hub)


def build_template(folder: Path) -> Template:
    """Build the template repository and deploy it once."""
    hub = Hub.init(folder / "hub.git", AUTHOR)
    billing = add_element(hub, "app", "billing", {"main.rsx": b"billing v1"})
    release(hub, "billing", "1.0.0")
    merge(hub, hub.elements.push("billing", {"main.rsx": b"billing v2"}, AUTHOR))
    release(hub, "billing", "1.1.0")
    crm = add_element(hub, "app", "crm", {"main.rsx": b"crm v1"})
    release(hub, "crm", "1.0.0")
    nightly = add_element(hub, "workflow", "nightly", {"flow.json": b"nightly v1"})
    release(hub, "nightly", "0.1.0")
    pins = [("prod", "billing", "1.0.0"), ("prod", "crm", "latest")]
    merge(hub, hub.manifests.change_pins(pins, AUTHOR))
    hub, instance = open_copy(folder)
    try:
        deployment = instance.deployer.deploy("template")
        assert deployment.status == "SUCCESS", deployment.log
        user = put_user(
            instance.sessions, "vic", hash_password("x" * 12), Role.VIEWER, replace=False
        )
        cookie = open_session(instance.sessions, user)
        token = create_token(instance.sessions, "corpus", list(SCOPES))
        live = live_state(instance)
    finally:
        instance.close()
    return Template(folder, billing, crm, nightly, token, cookie, live)


def copy_template(template: Template, folder: Path) -> Path:
    """Return a fresh copy of the template's repository and database."""
    shutil.copytree(template.folder, folder)
    return folder


# -- raw commits ---------------------------------------------------------------------------------


def _tree_bytes(entries: Mapping[bytes, tuple[int, bytes]]) -> bytes:
    # Git orders a tree's entries by name, a folder's name as if it ended with '/'.
    ordered = sorted(
        entries.items(), key=lambda item: item[0] + (b"/" if item[1][0] == TREE else b"")
    )
    return b"".join(b"%o %s\x00%s" % (mode, name, oid) for name, (mode, oid) in ordered)


def _entry(git: pygit2.Repository, value: Value) -> tuple[int, bytes]:
    if isinstance(value, bytes):
        return BLOB, git.create_blob(value).raw
    if isinstance(value, tuple):
        return value
    assert value is not None
    folder = {name: _entry(git, item) for name, item in value.items() if item is not None}
    return TREE, git.odb.write(pygit2.GIT_OBJECT_TREE, _tree_bytes(folder)).raw


def _edit(
    git: pygit2.Repository, tree: pygit2.Tree | None, changes: Mapping[tuple[bytes, ...], Value]
) -> bytes:
    entries = {entry.raw_name: (entry.filemode, entry.id.raw) for entry in tree or []}
    deeper: dict[bytes, dict[tuple[bytes, ...], Value]] = {}
    for parts, value in changes.items():
        if len(parts) > 1:
            deeper.setdefault(parts[0], {})[parts[1:]] = value
        elif value is None:
            entries.pop(parts[0], None)
        else:
            entries[parts[0]] = _entry(git, value)
    for name, below in deeper.items():
        current = entries.get(name)
        subtree = None
        if current is not None and current[0] == TREE:
            subtree = git.get(pygit2.Oid(raw=current[1]))
        entries[name] = (TREE, _edit(git, subtree, below))
    return git.odb.write(pygit2.GIT_OBJECT_TREE, _tree_bytes(entries)).raw


def push_raw(hub: Hub, changes: Mapping[bytes, Value]) -> str:
    """Commit `changes` (raw path -> entry) on the default branch as a plain push would."""
    git = pygit2.Repository(str(hub.repo.path))
    head = git.references[HEADS + hub.default_branch].peel(pygit2.Commit)
    split = {tuple(path.split(b"/")): value for path, value in changes.items()}
    tree = _edit(git, head.tree, split)
    signature = pygit2.Signature(AUTHOR.name, AUTHOR.email)
    oid = git.create_commit(
        HEADS + hub.default_branch,
        signature,
        signature,
        "a hostile push\n",
        pygit2.Oid(raw=tree),
        [head.id],
    )
    return str(oid)


# -- zips ----------------------------------------------------------------------------------------


def metadata(name: str, uuid: str, field: str = "pageUuid") -> bytes:
    """Return an element's metadata.json."""
    return json.dumps({field: uuid, "name": name}).encode()


def release_document(
    uuid: str, version: str, files: Mapping[str, bytes], /, **fields: object
) -> dict[str, object]:
    """Return a valid release.json object of an app release holding `files`."""
    document: dict[str, object] = {
        "format": 1,
        "kind": "app",
        "uuid": uuid,
        "name": "billing",
        "version": version,
        "description": "hostile",
        "created_at": "2024-05-01T12:00:00Z",
        "created_by": "someone",
        "source_commit": SOURCE_COMMIT,
        "files_sha256": files_digest(files),
    }
    document.update(fields)
    return document


Entries = list[tuple[str | zipfile.ZipInfo, bytes]]


def zip_of(
    entries: Entries, compression: int = zipfile.ZIP_DEFLATED, comment: bytes = b""
) -> bytes:
    """Return a zip of `entries`, written with zipfile as any other tool would."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of duplicate names; some cases want them
        with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
            for name, content in entries:
                archive.writestr(name, content)
            archive.comment = comment
    return buffer.getvalue()


def artifact_zip(
    uuid: str,
    version: str,
    files: Mapping[str, bytes],
    *,
    document: Mapping[str, object] | None = None,
    release_json: bytes | None = None,
    extra: Entries = (),  # type: ignore[assignment]
    compression: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    """Return a hand-made artifact: release.json, the files, then `extra` entries."""
    if release_json is None:
        release_json = json.dumps(document or release_document(uuid, version, files)).encode()
    entries: Entries = [("release.json", release_json)]
    entries += [(f"files/{path}", content) for path, content in files.items()]
    entries += list(extra)
    return zip_of(entries, compression)


# Offsets of header fields (APPNOTE 4.3.7 and 4.3.12), in the central directory and local header.
_CENTRAL = {"flags": (8, "<H"), "method": (10, "<H"), "crc": (16, "<I"), "size": (24, "<I")}
_LOCAL = {"flags": (6, "<H"), "method": (8, "<H"), "crc": (14, "<I"), "size": (22, "<I")}


def patch(data: bytes, name: str, **fields: int) -> bytes:
    """Return `data` with header fields of entry `name` overwritten in both of its headers."""
    out = bytearray(data)
    position = out.find(b"PK\x01\x02")
    while position != -1:
        (length,) = struct.unpack_from("<H", out, position + 28)
        if out[position + 46 : position + 46 + length] == name.encode():
            break
        position = out.find(b"PK\x01\x02", position + 4)
    assert position != -1, name
    (local,) = struct.unpack_from("<I", out, position + 42)
    for field, value in fields.items():
        offset, layout = _CENTRAL[field]
        struct.pack_into(layout, out, position + offset, value)
        offset, layout = _LOCAL[field]
        struct.pack_into(layout, out, local + offset, value)
    return bytes(out)


def nested_tree(git: pygit2.Repository, depth: int) -> tuple[int, bytes]:
    """Return the entry of a folder `d/d/.../f.txt`, `depth` folders deep (written bottom up)."""
    entry = _entry(git, {b"f.txt": b"deep"})
    for _ in range(depth - 1):
        entry = _entry(git, {b"d": entry})
    return entry


def artifact_path(uuid: str, version: str, kind: str = "app") -> bytes:
    """Return the raw repository path of an artifact."""
    return KINDS.get(kind).artifact_path(uuid, version).encode()


# -- the application in process ----------------------------------------------------------------


class Client:
    """A synchronous client of one application, with a token and a session cookie."""

    def __init__(self, app: FastAPI, token: str, cookie: tuple[str, str]) -> None:
        self._runner = asyncio.Runner()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self._client = httpx.AsyncClient(
            transport=transport, base_url="http://mirel.test", cookies=dict([cookie])
        )
        self._token = token

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """Return the answer to a GET (with the token on /api/ paths)."""
        headers = {"Authorization": f"Bearer {self._token}"} if path.startswith("/api/") else {}
        return self._runner.run(self._client.get(path, headers=headers, **kwargs))

    def close(self) -> None:
        """Close the client and its event loop."""
        self._runner.run(self._client.aclose())
        self._runner.close()

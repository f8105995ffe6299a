"""Helpers of the instance tests: a repository with releases and manifests, instances on it."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sql_select

from mirel.core.manifest import Manifest, Pin, manifest_path, write_manifest
from mirel.db.models import Deployment, Source
from mirel.git.repository import HEADS
from mirel.hub import Hub
from mirel.instance import Change, Instance
from mirel.settings import Settings
from support import AUTHOR, add_element, merge, release

DRIVER = Path(__file__).resolve().parent / "deploy_process.py"


@dataclass(frozen=True)
class Repo:
    """The test repository and the uuids of its elements.

    billing: releases 1.0.0, 1.1.0, 1.2.0 and an unreleased working version (v4);
    crm: release 1.0.0; status: no release; nightly (workflow): releases 0.1.0 and 0.2.0.
    prod pins billing 1.0.0 and nightly 0.1.0; dev pins billing and crm at latest, status at
    latest (its working version) and nightly 0.2.0.
    """

    hub: Hub
    billing: str
    crm: str
    status: str
    nightly: str


def push(hub: Hub, name: str, files: Mapping[str, bytes]) -> None:
    """Commit new content of an element through a merged pull request."""
    merge(hub, hub.elements.push(name, files, AUTHOR))


def build_repo(hub: Hub) -> Repo:
    """Return the repository described in `Repo`, every change merged."""
    billing = add_element(hub, "app", "billing", {"main.rsx": b"billing v1"})
    release(hub, "billing", "1.0.0")
    push(hub, "billing", {"main.rsx": b"billing v2"})
    release(hub, "billing", "1.1.0")
    push(hub, "billing", {"main.rsx": b"billing v3", "lib/query.sql": b"select 3"})
    release(hub, "billing", "1.2.0")
    push(hub, "billing", {"main.rsx": b"billing v4"})
    crm = add_element(hub, "app", "crm", {"main.rsx": b"crm v1"})
    release(hub, "crm", "1.0.0")
    status = add_element(hub, "app", "status", {"main.rsx": b"status v1"})
    nightly = add_element(hub, "workflow", "nightly", {"flow.json": b"nightly v1"})
    release(hub, "nightly", "0.1.0")
    push(hub, "nightly", {"flow.json": b"nightly v2"})
    release(hub, "nightly", "0.2.0")
    pins = [
        ("prod", "billing", "1.0.0"),
        ("prod", "nightly", "0.1.0"),
        ("dev", "billing", "latest"),
        ("dev", "crm", "latest"),
        ("dev", "status", "latest"),
        ("dev", "nightly", "0.2.0"),
    ]
    merge(hub, hub.manifests.change_pins(pins, AUTHOR))
    return Repo(hub=hub, billing=billing, crm=crm, status=status, nightly=nightly)


def change(uuid: str, kind: str, name: str, old: str | None, new: str | None) -> Change:
    """Return one entry of a deployment's changes."""
    return Change(element_uuid=uuid, kind=kind, name=name, from_=old, to=new)


def settings_for(hub: Hub, database_url: str, **values: object) -> Settings:
    """Return instance settings on `hub` and a database, polling off unless given."""
    given: dict[str, Any] = {"poll_interval": 0, "manifest": None, **values}
    return Settings(repo=str(hub.repo.path), database_url=database_url, **given)


def open_instance(hub: Hub, database_url: str, **values: object) -> Instance:
    """Return an instance on `hub` and a database."""
    return Instance(settings_for(hub, database_url, **values), hub)


def commit_to_main(hub: Hub, changes: Mapping[str, bytes | None], message: str = "direct") -> str:
    """Commit straight to the default branch (what a broken push would do); return the commit."""
    head = hub.head()
    tree = hub.repo.write_tree_changes(hub.repo.tree_of(head), changes)
    sha = hub.repo.write_commit(
        tree_oid=tree, parents=[head], message=message + "\n", author=AUTHOR
    )
    hub.repo.update_ref(HEADS + hub.default_branch, sha, head)
    return sha


def manifest_bytes(name: str, apps: Mapping[str, str], workflows: Mapping[str, str]) -> bytes:
    """Return the manifest pinning `apps` and `workflows` (uuid -> release), as mirel writes it."""
    pins = {
        "apps": tuple(Pin(uuid, pin) for uuid, pin in apps.items()),
        "workflows": tuple(Pin(uuid, pin) for uuid, pin in workflows.items()),
    }
    return write_manifest(Manifest(name, pins)).encode()


def set_manifest(hub: Hub, name: str, content: bytes | None) -> str:
    """Write (or with None remove) a manifest straight on the default branch; return the commit."""
    return commit_to_main(hub, {manifest_path(name): content}, f"write {name}")


LiveState = dict[str, tuple[str, str, str | None, bool, str | None, dict[str, bytes]]]


def live_state(instance: Instance) -> LiveState:
    """Return everything the instance serves: per uuid its kind, name, release, pins and files."""
    state: LiveState = {}
    for element in instance.live.elements():
        files = {path: instance.live.file(element.uuid, path) for path in element.files}
        state[element.uuid] = (
            element.kind,
            element.name,
            element.live_release,
            element.in_manifest,
            element.pin,
            files,
        )
    return state


def releases(instance: Instance) -> dict[str, str | None]:
    """Return the live release of every element by name (None for the working version)."""
    return {element.name: element.live_release for element in instance.live.elements()}


def successes(instance: Instance, commit_sha: str) -> int:
    """Return how many deployments of `commit_sha` succeeded."""
    with instance.sessions() as session:
        count = session.scalar(
            sql_select(func.count())
            .select_from(Deployment)
            .where(Deployment.commit_sha == commit_sha, Deployment.status == "SUCCESS")
        )
    return int(count or 0)


def source_keys(instance: Instance) -> set[str]:
    """Return the keys of every unpacked source in the instance's database."""
    with instance.sessions() as session:
        return set(session.scalars(sql_select(Source.key)))


def start_deploy_process(
    hub: Hub,
    database_url: str,
    *,
    manifest: str | None,
    trigger: str,
    pause: str | None = None,
    go_file: Path | None = None,
) -> subprocess.Popen[str]:
    """Start `deploy_process.py` deploying in its own process; return it (stdout piped)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MIREL_")}
    command = [sys.executable, str(DRIVER), str(hub.repo.path), database_url, trigger]
    if manifest is not None:
        command += ["--manifest", manifest]
    if pause is not None:
        command += ["--pause", pause]
    if go_file is not None:
        command += ["--go-file", str(go_file)]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def read_line(process: subprocess.Popen[str], timeout: float = 60.0) -> str:
    """Return the next line the process prints, failing with its stderr if none comes in time."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.1)
        if ready:
            line = process.stdout.readline()
            if line:
                return line.rstrip("\n")
            break
    process.kill()
    _, errors = process.communicate()
    raise AssertionError(f"the deploy process printed nothing; its stderr:\n{errors}")

"""A generated repository of a chosen size, written straight into git objects (for the benchmark).

Going through pull requests would take hours at the design size (2,000 elements × 50 releases ×
20 manifests is 100,000 artifacts); here every file is written with `GitRepository` in large
batches and the default branch moves a handful of times. The result is a repository mirel reads
like any other: real metadata, real deterministic artifacts (built by `build_artifact`, so every
digest checks), canonical manifests.
"""

from __future__ import annotations

import json
import os
import random
import uuid as uuid_module
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mirel.core.artifact import build_artifact
from mirel.core.kinds import APP, KINDS, WORKFLOW, ElementKind
from mirel.core.manifest import LATEST, Manifest, Pin, manifest_path, write_manifest
from mirel.core.versions import Version
from mirel.git.repository import HEADS, Author
from mirel.hub import Hub

AUTHOR = Author("mirel bench", "bench@mirel.invalid")
CREATED_AT = "2024-05-01T12:00:00Z"
# Blobs written per tree rebuild: big enough that rebuilding the upper trees is rare, small
# enough that a batch of artifacts is a few tens of megabytes.
BATCH = 10_000

Progress = Callable[[str], None]


@dataclass(frozen=True)
class GeneratedElement:
    """One generated element."""

    kind: ElementKind
    name: str
    uuid: str
    versions: tuple[str, ...]


@dataclass(frozen=True)
class Generated:
    """What `generate` made: the hub, its elements and its manifest names."""

    hub: Hub
    elements: tuple[GeneratedElement, ...]
    manifests: tuple[str, ...]


def manifest_names(count: int) -> tuple[str, ...]:
    """Return `count` manifest names: dev, staging, prod, then tenant-04, tenant-05, ..."""
    first = ("dev", "staging", "prod")
    return first[:count] + tuple(f"tenant-{index:02d}" for index in range(4, count + 1))


def versions(count: int) -> tuple[str, ...]:
    """Return `count` increasing versions over a few majors: 1.0.0 ... 1.9.0, 2.0.0, ..."""
    return tuple(f"{index // 10 + 1}.{index % 10}.0" for index in range(count))


def _source(kind: ElementKind, name: str, uuid: str, revision: int) -> dict[str, bytes]:
    """Return an element folder of about a kilobyte, a little different per revision."""
    metadata = json.dumps({kind.uuid_field: uuid, "name": name}, indent=2).encode() + b"\n"
    if kind is APP:
        table = name.replace("-", "_")
        body = "".join(
            f'  <Text id="t{line}" value="{name} revision {revision} line {line}" />\n'
            for line in range(12)
        )
        return {
            "metadata.json": metadata,
            "main.rsx": f'<App title="{name}">\n{body}</App>\n'.encode(),
            "lib/query1.sql": f"select * from {table} limit {revision};\n".encode(),
        }
    steps = [{"step": step, "run": f"{name} r{revision} s{step}"} for step in range(12)]
    return {
        "metadata.json": metadata,
        "flow.json": json.dumps({"name": name, "steps": steps}, indent=2).encode() + b"\n",
    }


def _build_releases(
    job: tuple[str, str, str, tuple[str, ...], str],
) -> list[tuple[str, bytes]]:
    """Return `(path, artifact)` for every release of one element (run in worker processes)."""
    kind_name, name, uuid, element_versions, source_commit = job
    kind = KINDS.get(kind_name)
    built = []
    for revision, version in enumerate(element_versions):
        built.append(
            (
                kind.artifact_path(uuid, version),
                build_artifact(
                    kind=kind,
                    uuid=uuid,
                    name=name,
                    version=Version.parse(version),
                    description=f"{name} {version}: generated for the benchmark",
                    created_by=str(AUTHOR),
                    source_commit=source_commit,
                    files=_source(kind, name, uuid, revision),
                    created_at=CREATED_AT,
                ),
            )
        )
    return built


def _batches(items: Iterator[tuple[str, bytes]], size: int) -> Iterator[dict[str, bytes | None]]:
    batch: dict[str, bytes | None] = {}
    for path, content in items:
        batch[path] = content
        if len(batch) >= size:
            yield batch
            batch = {}
    if batch:
        yield batch


def generate(
    path: Path,
    *,
    elements: int,
    releases: int,
    manifests: int,
    seed: int = 1,
    workers: int | None = None,
    progress: Progress = lambda _: None,
) -> Generated:
    """Create a bare repository at `path` holding `elements` elements (four apps for each
    workflow) with `releases` releases each and `manifests` manifests that pin every element."""
    rng = random.Random(seed)
    hub = Hub.init(path, AUTHOR)
    repo = hub.repo
    workflows = elements // 5
    made: list[GeneratedElement] = []
    element_versions = versions(releases)
    for index in range(elements):
        kind = WORKFLOW if index < workflows else APP
        number = index if kind is WORKFLOW else index - workflows
        made.append(
            GeneratedElement(
                kind=kind,
                name=f"{kind.name}-{number:04d}",
                uuid=str(uuid_module.UUID(int=rng.getrandbits(128), version=4)),
                versions=element_versions,
            )
        )

    def commit(tree: str, message: str) -> str:
        parent = hub.head()
        sha = repo.write_commit(tree_oid=tree, parents=[parent], message=message, author=AUTHOR)
        repo.update_ref(HEADS + hub.default_branch, sha, parent)
        return sha

    progress(f"writing {elements} element folders")
    sources = {
        f"{item.kind.source_dir(item.name)}/{file}": content
        for item in made
        for file, content in _source(item.kind, item.name, item.uuid, releases).items()
    }
    tree = repo.write_tree_changes(repo.tree_of(hub.head()), sources)
    source_commit = commit(tree, f"Add {elements} elements\n")

    progress(f"building {elements * releases} artifacts")
    jobs = [(item.kind.name, item.name, item.uuid, item.versions, source_commit) for item in made]
    written = 0
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        built = (pair for group in pool.map(_build_releases, jobs, chunksize=16) for pair in group)
        for batch in _batches(built, BATCH):
            tree = repo.write_tree_changes(tree, batch)
            written += len(batch)
            progress(f"wrote {written} of {elements * releases} artifacts")
    commit(tree, f"Add {elements * releases} releases\n")

    progress(f"writing {manifests} manifests")
    names = manifest_names(manifests)
    files: dict[str, bytes | None] = {}
    for name in names:
        pins: dict[str, list[Pin]] = {kind.plural: [] for kind in KINDS}
        for item in made:
            release = rng.choice([LATEST, *item.versions]) if item.versions else LATEST
            pins[item.kind.plural].append(Pin(item.uuid, release))
        manifest = Manifest(name, {plural: tuple(found) for plural, found in pins.items()})
        files[manifest_path(name)] = write_manifest(manifest).encode()
    commit(repo.write_tree_changes(tree, files), f"Add {manifests} manifests\n")
    return Generated(hub=Hub.open(path), elements=tuple(made), manifests=names)

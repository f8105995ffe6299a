"""The floors of the benchmark: the least work each measured operation must do, in the same run.

A floor reads exactly the git objects the operation needs, with libgit2 in process, decompresses
the artifacts it must check with zipfile and loads YAML with libyaml's C loader, and does nothing
else: no checks, no database, no models. mirel's figure divided by its floor says how much of the
time is mirel's own.

- cold deploy: the manifest, every element folder's metadata.json, each pinned artifact (every
  entry decompressed);
- deploy after one pin changed: the manifest and the one new artifact;
- the whole matrix (`GET /source_control/elements`): every metadata.json, every manifest, every
  element's release folder listed.
"""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Callable
from io import BytesIO
from typing import Any

import pygit2
import yaml

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_KIND_ROOTS = (("apps", "dist/apps"), ("workflows", "dist/workflows"))


def best_of(runs: int, work: Callable[[], object]) -> float:
    """Return the fastest of `runs` timings of `work`, in seconds."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def _obj(repo: pygit2.Repository, oid: Any) -> Any:
    """Return a git object, typed loosely: trees are indexed and iterated, blobs read."""
    return repo.get(oid)


def _tree(repo: pygit2.Repository, tree: Any, path: str) -> Any:
    return _obj(repo, tree[path].id)


def _manifest(repo: pygit2.Repository, root: Any, name: str) -> Any:
    blob = _obj(repo, root[f"manifests/{name}.yaml"].id)
    return yaml.load(bytes(blob.data), Loader=_LOADER)


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.removesuffix(".zip").split("."))


def _decompress(data: bytes) -> int:
    size = 0
    with zipfile.ZipFile(BytesIO(data)) as archive:
        for info in archive.infolist():
            size += len(archive.read(info))
    return size


def _artifact(repo: pygit2.Repository, folder: Any, release: str) -> int:
    """Decompress the artifact a pin selects in one release folder; return its bytes."""
    if release == "latest":
        name = max((entry.name for entry in folder), key=_version_key)
    else:
        name = f"{release}.zip"
    return _decompress(bytes(_obj(repo, folder[name].id).data))


def _metadata(repo: pygit2.Repository, root: Any) -> int:
    count = 0
    for source_root, _ in _KIND_ROOTS:
        for entry in _tree(repo, root, source_root):
            if entry.type_str == "tree":
                json.loads(bytes(_obj(repo, _obj(repo, entry.id)["metadata.json"].id).data))
                count += 1
    return count


def cold_deploy(path: str, manifest: str) -> float:
    """Return the floor of a cold deploy of `manifest` at the default branch's head."""

    def work() -> None:
        repo = pygit2.Repository(path)
        root = repo.revparse_single(repo.head.name).peel(pygit2.Commit).tree
        document = _manifest(repo, root, manifest)
        _metadata(repo, root)
        for plural, dist in _KIND_ROOTS:
            folders = _tree(repo, root, dist)
            for pin in document.get(plural) or ():
                _artifact(repo, _obj(repo, folders[pin["uuid"]].id), pin["release"])

    return best_of(3, work)


def one_pin(path: str, manifest: str, kind_plural: str, uuid: str) -> float:
    """Return the floor of a deploy after the pin of `uuid` in `manifest` changed."""

    def work() -> None:
        repo = pygit2.Repository(path)
        root = repo.revparse_single(repo.head.name).peel(pygit2.Commit).tree
        document = _manifest(repo, root, manifest)
        release = next(pin["release"] for pin in document[kind_plural] if pin["uuid"] == uuid)
        folder = _tree(repo, root, f"dist/{kind_plural}/{uuid}")
        _artifact(repo, folder, release)

    return best_of(5, work)


def matrix(path: str) -> float:
    """Return the floor of the whole matrix: every element, its releases, every manifest."""

    def work() -> None:
        repo = pygit2.Repository(path)
        root = repo.revparse_single(repo.head.name).peel(pygit2.Commit).tree
        _metadata(repo, root)
        for entry in _tree(repo, root, "manifests"):
            yaml.load(bytes(_obj(repo, entry.id).data), Loader=_LOADER)
        for _, dist in _KIND_ROOTS:
            for folder in _tree(repo, root, dist):
                if folder.type_str == "tree":
                    [entry.name for entry in _obj(repo, folder.id)]

    return best_of(3, work)

"""Work proportional to what changed (SPEC.md §4, §9): what a deploy reads and stores again."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from instance_support import Repo, open_instance, push, source_keys

import mirel.core.catalog as catalog
import mirel.instance.deploy.sources as sources_module
from mirel.core.kinds import APP, ElementKind
from mirel.errors import DatabaseUnreachable, Problem
from mirel.instance.deploy.planner import Target
from mirel.instance.deploy.sources import SourceStore, StoredSource, Unpacked
from support import AUTHOR, merge


@pytest.fixture
def metadata_reads(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Count the metadata.json files parsed from now on; return the counter."""
    calls: list[str] = []
    parse = catalog.parse_metadata

    def counting(
        data: bytes, kind: ElementKind, folder: str, path: str
    ) -> tuple[str | None, list[Problem]]:
        calls.append(path)
        return parse(data, kind, folder, path)

    monkeypatch.setattr(catalog, "parse_metadata", counting)
    return lambda: len(calls)


def test_a_new_process_reads_only_the_metadata_that_changed(
    repo: Repo, database_url: str, metadata_reads: Callable[[], int]
) -> None:
    with open_instance(repo.hub, database_url, manifest="dev") as first:
        first.deployer.deploy(None)
    assert metadata_reads() == 4
    push(repo.hub, "status", {"main.rsx": b"status v2"})
    merge(repo.hub, repo.hub.manifests.set_pin("dev", "crm", "1.0.0", AUTHOR))

    # A new instance object has empty memory caches, as a restarted server has.
    with open_instance(repo.hub, database_url, manifest="dev") as second:
        before = metadata_reads()
        assert second.deployer.test_deploy("main~1").errors == []
        assert metadata_reads() - before == 1  # status's new folder only

        before = metadata_reads()
        assert second.deployer.deploy(None).status == "SUCCESS"
        assert metadata_reads() == before  # no element folder changed: the listing is reused


def test_sources_are_stored_in_batches_each_whole(
    repo: Repo, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources_module, "BATCH_SOURCES", 3)
    with open_instance(repo.hub, database_url, manifest="prod") as instance:
        deployment = instance.deployer.deploy(None)

        assert deployment.status == "SUCCESS"
        assert instance.deployer.unpacked_count == 4
        assert deployment.log.count("unpacked app") + deployment.log.count("unpacked workflow") == 4
        assert all(instance.live.element(uuid).files for uuid in (repo.billing, repo.nightly))


def test_a_source_stored_meanwhile_by_another_process_is_skipped(
    repo: Repo, database_url: str
) -> None:
    with open_instance(repo.hub, database_url, manifest="prod") as instance:
        instance.deployer.deploy(None)
        sources = instance.deployer.sources
        taken = next(iter(source_keys(instance)))
        fresh = "tree:" + "f" * 40

        def unpacked(key: str) -> Unpacked:
            stored = StoredSource(key, "app", repo.crm, None, repo.hub.head())
            return Unpacked(stored=stored, files={"a.txt": b"a"})

        stored = sources.store([unpacked(taken), unpacked(fresh)])

        assert [source.stored.key for source in stored] == [fresh]
        assert fresh in source_keys(instance)


def test_a_stored_artifact_is_checked_against_the_path_that_reuses_it(repo: Repo) -> None:
    target = Target(
        uuid=repo.billing,
        kind=APP,
        name="billing",
        release="1.0.5",
        pin="1.0.5",
        source_key="blob:" + "a" * 40,
        path=f"dist/apps/{repo.billing}/1.0.5.zip",
    )
    same = StoredSource(target.source_key, "app", repo.billing, "1.0.5", None)
    other = StoredSource(target.source_key, "app", repo.billing, "1.0.0", None)

    assert SourceStore.mismatch(target, same) is None
    assert SourceStore.mismatch(target, other) == (
        f"artifact dist/apps/{repo.billing}/1.0.5.zip: release.json has version '1.0.0', "
        "but the path says '1.0.5'; the file was misplaced or renamed"
    )


def test_an_unreachable_database_is_a_clear_error(repo: Repo, postgres_server: str) -> None:
    base = postgres_server.rsplit("/", 1)[0]
    with pytest.raises(DatabaseUnreachable, match=r"mirel_no_such_database.*MIREL_DATABASE_URL"):
        open_instance(repo.hub, f"{base}/mirel_no_such_database")

"""Deploys that fail (SPEC.md §4, acceptance 5): every problem listed, the live state untouched.

Each broken state is committed straight to the default branch, as a careless push would do it.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from instance_support import (
    LiveState,
    Repo,
    commit_to_main,
    live_state,
    manifest_bytes,
    open_instance,
    set_manifest,
)

from mirel.db.models import Deployment
from mirel.http.models import InstancePublic
from mirel.instance import Instance
from mirel.instance.deploy.lease import Lease
from mirel.instance.deployments import INTERRUPTED

GHOST = "0d6f3a1e-4b2c-4e8f-9a7b-1c2d3e4f5a6b"


@dataclass
class Deployed:
    """An instance that published prod, and what it served then."""

    repo: Repo
    instance: Instance
    before: LiveState
    commit: str


@pytest.fixture
def deployed(repo: Repo, database_url: str) -> Iterator[Deployed]:
    with open_instance(repo.hub, database_url, manifest="prod") as instance:
        assert instance.deployer.deploy(None).status == "SUCCESS"
        yield Deployed(repo, instance, live_state(instance), repo.hub.head())


def _fails(deployed: Deployed, *expected: str) -> list[str]:
    """Deploy, check it failed with each expected text among its errors and changed nothing."""
    deployment = deployed.instance.deployer.deploy("ci")
    assert deployment.status == "ERROR", deployment
    assert deployment.commit_sha == deployed.repo.hub.head()
    assert deployment.changes == []
    assert deployment.completed_at is not None
    for text in expected:
        assert any(text in error for error in deployment.errors), (text, deployment.errors)
    assert live_state(deployed.instance) == deployed.before
    info = InstancePublic.of(deployed.instance.info()).model_dump(by_alias=True)
    assert info["deployed_commit"] == deployed.commit
    assert info["deployed_manifest"] == "prod"
    return deployment.errors


def _prod(repo: Repo, billing: str = "1.0.0", **extra_apps: str) -> bytes:
    return manifest_bytes("prod", {repo.billing: billing, **extra_apps}, {repo.nightly: "0.1.0"})


def test_a_manifest_pinning_a_missing_release_fails(deployed: Deployed) -> None:
    set_manifest(deployed.repo.hub, "prod", _prod(deployed.repo, billing="9.9.9"))

    errors = _fails(deployed, "manifests/prod.yaml", "billing 9.9.9", "not released")

    assert len(errors) == 1


def test_a_manifest_pinning_an_unknown_element_fails(deployed: Deployed) -> None:
    set_manifest(deployed.repo.hub, "prod", _prod(deployed.repo, **{GHOST: "1.0.0"}))

    _fails(deployed, f"pins app {GHOST}, which does not exist")


def test_an_invalid_manifest_fails(deployed: Deployed) -> None:
    set_manifest(deployed.repo.hub, "prod", b"version: 1.0.0\nname: prod\napps: {oops\n")

    _fails(deployed, "manifests/prod.yaml:")


def test_a_manifest_breaking_the_schema_lists_every_problem(deployed: Deployed) -> None:
    text = b"version: 1.0.0\nname: prod\ncolour: blue\napps:\n  - uuid: nope\n    release: 01.0.0\n"
    set_manifest(deployed.repo.hub, "prod", text)

    errors = _fails(deployed, "manifests/prod.yaml:3", "manifests/prod.yaml:5")

    assert len(errors) >= 3


def test_a_missing_manifest_fails(deployed: Deployed) -> None:
    set_manifest(deployed.repo.hub, "prod", None)

    _fails(deployed, "there is no manifest 'prod'")


def test_a_corrupt_artifact_fails(deployed: Deployed) -> None:
    repo = deployed.repo
    path = f"dist/apps/{repo.billing}/1.1.0.zip"
    commit_to_main(repo.hub, {path: b"PK\x03\x04 this is not a zip"})
    set_manifest(repo.hub, "prod", _prod(repo, billing="1.1.0"))

    _fails(deployed, f"artifact {path}", "not a readable zip")


def test_an_altered_artifact_fails(deployed: Deployed) -> None:
    repo = deployed.repo
    path = f"dist/apps/{repo.billing}/1.2.0.zip"
    original = repo.hub.snapshot().read(path)
    assert original is not None
    commit_to_main(repo.hub, {path: _altered(original, "files/main.rsx", b"tampered")})
    set_manifest(repo.hub, "prod", _prod(repo, billing="1.2.0"))

    _fails(deployed, f"artifact {path}", "files_sha256")


def test_an_artifact_copied_under_another_version_fails(deployed: Deployed) -> None:
    """The copy's blob was unpacked already (as 1.0.0); reusing it must still check its path."""
    repo = deployed.repo
    source = repo.hub.snapshot().read(f"dist/apps/{repo.billing}/1.0.0.zip")
    assert source is not None
    commit_to_main(repo.hub, {f"dist/apps/{repo.billing}/1.0.5.zip": source})
    set_manifest(repo.hub, "prod", _prod(repo, billing="1.0.5"))

    _fails(deployed, "version '1.0.0', but the path says '1.0.5'")


def test_every_problem_is_listed_at_once(deployed: Deployed) -> None:
    repo = deployed.repo
    path = f"dist/apps/{repo.billing}/1.1.0.zip"
    commit_to_main(repo.hub, {path: b"garbage"})
    manifest = manifest_bytes(
        "prod", {repo.billing: "1.1.0", GHOST: "latest"}, {repo.nightly: "7.0.0"}
    )
    set_manifest(repo.hub, "prod", manifest)

    errors = _fails(deployed, path, GHOST, "nightly 7.0.0")

    assert len(errors) == 3


def test_a_failed_commit_is_not_deployed_again_until_something_changes(
    deployed: Deployed,
) -> None:
    repo = deployed.repo
    set_manifest(repo.hub, "prod", _prod(repo, billing="9.9.9"))
    failed = deployed.instance.deployer.deploy("ci")

    # The same answer, nothing recorded.
    assert deployed.instance.deployer.deploy("poller") == failed
    assert deployed.instance.deployer.deploy("admin", force=True).id == failed.id + 1

    set_manifest(repo.hub, "prod", _prod(repo, billing="1.1.0"))
    fixed = deployed.instance.deployer.deploy("ci")
    assert fixed.status == "SUCCESS"
    assert fixed.changes[0].to == "1.1.0"
    assert deployed.instance.info().deployed_commit == repo.hub.head()


def test_an_invalid_element_folder_is_left_out_with_a_warning(deployed: Deployed) -> None:
    repo = deployed.repo
    commit_to_main(repo.hub, {"apps/broken/metadata.json": b"{not json", "apps/broken/x": b"x"})

    deployment = deployed.instance.deployer.deploy(None)

    assert (deployment.status, deployment.changes) == ("SUCCESS", [])
    assert "warning: apps/broken/metadata.json: is not valid JSON" in deployment.log


def test_an_unfinished_deployment_is_marked_interrupted_when_an_instance_opens(
    repo: Repo, database_url: str
) -> None:
    with open_instance(repo.hub, database_url) as instance, instance.sessions.begin() as session:
        session.add(_running_row(repo.hub.head()))

    with open_instance(repo.hub, database_url) as instance:
        [row] = instance.deployments.recent()
        assert row.status == "ERROR"
        assert row.errors == [INTERRUPTED]
        assert row.completed_at is not None


def test_the_running_deployment_of_a_live_process_is_left_alone(
    repo: Repo, database_url: str
) -> None:
    with open_instance(repo.hub, database_url) as instance:
        token = Lease(instance.database.engine).acquire()  # as a live deploy would hold it
        assert token is not None
        with instance.sessions.begin() as session:
            session.add(_running_row(repo.hub.head()))

        with open_instance(repo.hub, database_url) as other:
            assert [d.status for d in other.deployments.recent()] == ["RUNNING"]

        Lease(instance.database.engine).force_release(token)


def _running_row(commit: str) -> Deployment:
    return Deployment(
        status="RUNNING",
        commit_sha=commit,
        triggered_by="crashed",
        manifest=None,
        created_at=datetime.now(UTC),
        changes=[],
        errors=[],
        log="",
    )


def _altered(data: bytes, name: str, content: bytes) -> bytes:
    """Return a zip like `data` with one entry's content replaced (release.json left as is)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = content if info.filename == name else source.read(info)
            target.writestr(info, body)
    return out.getvalue()

"""Deploys that succeed (SPEC.md §4): what goes live, the changes listed, work that follows change.

Every test runs on a SQLite file and on a fresh PostgreSQL database (`database_url`).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from instance_support import (
    Repo,
    change,
    commit_to_main,
    live_state,
    open_instance,
    push,
    releases,
    source_keys,
)

from mirel.errors import (
    BranchNotFound,
    DeploymentNotFound,
    ElementNotFound,
    InvalidInput,
    InvalidName,
    LiveFileNotFound,
    ManifestNotFound,
)
from mirel.http.models import ChangePublic, DeploymentPublic, InstancePublic, PlanPublic
from support import AUTHOR, merge


def test_first_deploy_publishes_what_the_manifest_pins(repo: Repo, database_url: str) -> None:
    with open_instance(repo.hub, database_url, manifest="prod", name="prod") as instance:
        deployment = instance.deployer.deploy("alice")

        assert deployment.status == "SUCCESS"
        assert deployment.commit_sha == repo.hub.head()
        assert deployment.triggered_by == "alice"
        assert deployment.manifest == "prod"
        assert deployment.errors == []
        assert deployment.created_at.endswith("Z")
        assert deployment.completed_at is not None
        assert deployment.completed_at >= deployment.created_at
        assert releases(instance) == {
            "billing": "1.0.0",
            "crm": None,
            "status": None,
            "nightly": "0.1.0",
        }
        billing = instance.live.element(repo.billing)
        assert (billing.in_manifest, billing.pin, billing.files) == (
            True,
            "1.0.0",
            ["main.rsx", "metadata.json"],
        )
        assert billing.source_commit is not None
        assert instance.live.file(repo.billing, "main.rsx") == b"billing v1"
        crm = instance.live.element(repo.crm)
        assert (crm.in_manifest, crm.pin) == (False, None)
        assert instance.live.file(repo.crm, "main.rsx") == b"crm v1"
        assert deployment.changes == [
            change(repo.billing, "app", "billing", None, "1.0.0"),
            change(repo.crm, "app", "crm", None, "working"),
            change(repo.status, "app", "status", None, "working"),
            change(repo.nightly, "workflow", "nightly", None, "0.1.0"),
        ]
        info = InstancePublic.of(instance.info()).model_dump(by_alias=True)
        assert info["name"] == "prod"
        assert info["manifest"] == "prod"
        assert info["deployed_commit"] == repo.hub.head()
        assert info["deployed_manifest"] == "prod"
        assert info["default_branch"] == "main"
        assert info["repository"] == str(repo.hub.repo.path)
        shown = DeploymentPublic.of(deployment).model_dump(by_alias=True)
        assert info["last_deployment"] == shown
        assert set(shown) == {
            "id",
            "number",
            "status",
            "commit_sha",
            "triggered_by",
            "trigger",
            "created_at",
            "completed_at",
            "manifest",
            "changes",
            "errors",
            "log",
        }
        assert "unpacked app billing 1.0.0" in deployment.log


def test_dev_and_prod_serve_what_their_own_manifests_pin(
    repo: Repo, database_url: str, tmp_path: Path
) -> None:
    with (
        open_instance(repo.hub, database_url, manifest="dev") as dev,
        open_instance(repo.hub, f"sqlite:///{tmp_path / 'prod.db'}", manifest="prod") as prod,
    ):
        dev.deployer.deploy(None)
        prod.deployer.deploy(None)

        assert releases(dev) == {
            "billing": "1.2.0",
            "crm": "1.0.0",
            "status": None,
            "nightly": "0.2.0",
        }
        assert releases(prod) == {
            "billing": "1.0.0",
            "crm": None,
            "status": None,
            "nightly": "0.1.0",
        }
        assert dev.live.file(repo.billing, "main.rsx") == b"billing v3"
        assert dev.live.file(repo.billing, "lib/query.sql") == b"select 3"
        assert prod.live.file(repo.billing, "main.rsx") == b"billing v1"
        # status has no release: dev's `latest` serves its working version, and says it is pinned.
        assert dev.live.element(repo.status).in_manifest is True
        assert prod.live.element(repo.status).in_manifest is False


def test_choosing_another_manifest_lists_each_change(repo: Repo, database_url: str) -> None:
    with open_instance(repo.hub, database_url, manifest="dev") as instance:
        instance.deployer.deploy(None)
        assert instance.state.select_manifest("prod") == "prod"
        assert instance.state.selected_manifest() == "prod"

        deployment = instance.deployer.deploy("bob")

        assert deployment.status == "SUCCESS"
        assert deployment.manifest == "prod"
        assert deployment.changes == [
            change(repo.billing, "app", "billing", "1.2.0", "1.0.0"),
            change(repo.crm, "app", "crm", "1.0.0", "working"),
            change(repo.nightly, "workflow", "nightly", "0.2.0", "0.1.0"),
        ]
        # status serves the same working version; only its "in manifest" mark changed.
        status = instance.live.element(repo.status)
        assert (status.live_release, status.in_manifest, status.pin) == (None, False, None)
        assert instance.info().deployed_manifest == "prod"


def test_an_unchanged_commit_is_a_no_op(repo: Repo, database_url: str) -> None:
    with open_instance(repo.hub, database_url, manifest="prod") as instance:
        first = instance.deployer.deploy("alice")
        unpacked = instance.deployer.unpacked_count

        again = instance.deployer.deploy("poller")

        assert again == first
        assert [d.id for d in instance.deployments.recent()] == [first.id]
        assert instance.deployer.unpacked_count == unpacked

        forced = instance.deployer.deploy("admin", force=True)
        assert forced.id != first.id
        assert (forced.status, forced.changes) == ("SUCCESS", [])
        assert instance.deployer.unpacked_count == unpacked  # every source reused


def test_one_pin_change_unpacks_one_artifact(repo: Repo, database_url: str) -> None:
    with open_instance(repo.hub, database_url, manifest="prod") as instance:
        instance.deployer.deploy(None)
        assert instance.deployer.unpacked_count == 4  # two artifacts, two working versions

        merge(repo.hub, repo.hub.manifests.set_pin("prod", "billing", "1.1.0", AUTHOR))
        deployment = instance.deployer.deploy(None)

        assert instance.deployer.unpacked_count == 5
        assert deployment.changes == [change(repo.billing, "app", "billing", "1.0.0", "1.1.0")]
        assert instance.live.file(repo.billing, "main.rsx") == b"billing v2"

        # Going back reuses the artifact unpacked the first time, by its blob id.
        merge(repo.hub, repo.hub.manifests.set_pin("prod", "billing", "1.0.0", AUTHOR))
        back = instance.deployer.deploy(None)
        assert back.status == "SUCCESS"
        assert instance.deployer.unpacked_count == 5
        assert instance.live.file(repo.billing, "main.rsx") == b"billing v1"


def test_a_new_working_version_replaces_the_old_one(repo: Repo, database_url: str) -> None:
    with open_instance(repo.hub, database_url, manifest="prod") as instance:
        instance.deployer.deploy(None)
        old_key = {k for k in source_keys(instance) if k.startswith("tree:")}

        push(repo.hub, "crm", {"main.rsx": b"crm v2"})
        deployment = instance.deployer.deploy(None)

        assert deployment.changes == [change(repo.crm, "app", "crm", "working", "working")]
        assert instance.live.file(repo.crm, "main.rsx") == b"crm v2"
        assert instance.deployer.unpacked_count == 5
        # The working version nothing serves any more is removed; the other stays.
        trees = {k for k in source_keys(instance) if k.startswith("tree:")}
        assert len(trees) == 2
        assert len(trees & old_key) == 1


def test_without_a_manifest_every_element_serves_its_working_version(
    repo: Repo, database_url: str
) -> None:
    with open_instance(repo.hub, database_url) as instance:
        assert instance.state.selected_manifest() is None

        deployment = instance.deployer.deploy(None)

        assert deployment.status == "SUCCESS"
        assert deployment.manifest is None
        assert releases(instance) == {"billing": None, "crm": None, "status": None, "nightly": None}
        assert not any(element.in_manifest for element in instance.live.elements())
        assert instance.live.file(repo.billing, "main.rsx") == b"billing v4"
        assert instance.live.file(repo.nightly, "flow.json") == b"nightly v2"


def test_choosing_no_manifest_overrides_the_configured_one(repo: Repo, database_url: str) -> None:
    with open_instance(repo.hub, database_url, manifest="prod") as instance:
        instance.deployer.deploy(None)
        assert instance.state.select_manifest(None) is None
        assert instance.state.selected_manifest() is None

        instance.deployer.deploy(None)

        assert releases(instance)["billing"] is None
        assert instance.info().deployed_manifest is None


def test_a_manifest_that_is_not_there_cannot_be_chosen(repo: Repo, database_url: str) -> None:
    with open_instance(repo.hub, database_url, manifest="prod") as instance:
        with pytest.raises(ManifestNotFound, match="staging"):
            instance.state.select_manifest("staging")
        with pytest.raises(InvalidName):
            instance.state.select_manifest("../prod")
        assert instance.state.selected_manifest() == "prod"


def test_latest_falls_back_when_the_highest_release_is_deleted(
    repo: Repo, database_url: str
) -> None:
    with open_instance(repo.hub, database_url, manifest="dev") as instance:
        instance.deployer.deploy(None)
        merge(repo.hub, repo.hub.releases.delete("billing", "1.2.0", AUTHOR))

        deployment = instance.deployer.deploy(None)

        assert deployment.changes == [change(repo.billing, "app", "billing", "1.2.0", "1.1.0")]


def test_a_removed_element_leaves_the_live_state(repo: Repo, database_url: str) -> None:
    with open_instance(repo.hub, database_url, manifest="prod") as instance:
        instance.deployer.deploy(None)
        folder = {
            f"apps/status/{path}": None
            for path, _ in repo.hub.repo.walk_files(repo.hub.catalog.element("status").tree_oid)
        }
        commit_to_main(repo.hub, folder, "remove status")

        deployment = instance.deployer.deploy(None)

        assert deployment.changes == [change(repo.status, "app", "status", "working", None)]
        with pytest.raises(ElementNotFound):
            instance.live.element(repo.status)


def test_a_test_deploy_reports_the_plan_and_changes_nothing(repo: Repo, database_url: str) -> None:
    with open_instance(repo.hub, database_url, manifest="prod") as instance:
        deployed = instance.deployer.deploy(None)
        before = live_state(instance)
        merge(repo.hub, repo.hub.manifests.set_pin("prod", "billing", "1.2.0", AUTHOR))
        unpacked = instance.deployer.unpacked_count

        plan = instance.deployer.test_deploy(repo.hub.head())
        moved = change(repo.billing, "app", "billing", "1.0.0", "1.2.0")

        assert PlanPublic.of(plan).model_dump(by_alias=True) == {
            "commit_sha": repo.hub.head(),
            "manifest": "prod",
            "changes": [ChangePublic.of(moved).model_dump(by_alias=True)],
            "errors": [],
            "success": True,
            "message": None,
        }
        assert live_state(instance) == before
        assert [d.id for d in instance.deployments.recent()] == [deployed.id]
        assert instance.info().deployed_commit == deployed.commit_sha
        assert instance.deployer.unpacked_count == unpacked
        assert instance.deployer.test_deploy(str(deployed.commit_sha)).changes == []
        # A branch name works too; it names a commit.
        assert instance.deployer.test_deploy("main").commit_sha == repo.hub.head()


def test_a_test_deploy_lists_the_problems_a_deploy_would_hit(repo: Repo, database_url: str) -> None:
    with open_instance(repo.hub, database_url, manifest="prod") as instance:
        instance.deployer.deploy(None)
        path = f"dist/apps/{repo.billing}/1.1.0.zip"
        commit = commit_to_main(repo.hub, {path: b"not a zip"})
        merge(repo.hub, repo.hub.manifests.set_pin("prod", "billing", "1.1.0", AUTHOR))

        plan = instance.deployer.test_deploy(commit)
        assert plan.errors == []  # that commit still pins 1.0.0
        plan = instance.deployer.test_deploy(repo.hub.head())

        assert len(plan.errors) == 1
        assert path in plan.errors[0]
        assert instance.deployments.recent()[0].commit_sha != repo.hub.head()


@pytest.mark.parametrize("revision", ["nope", "0" * 40, "refs/heads/ghost"])
def test_a_test_deploy_of_no_commit_is_not_found(
    repo: Repo, database_url: str, revision: str
) -> None:
    with (
        open_instance(repo.hub, database_url, manifest="prod") as instance,
        pytest.raises(BranchNotFound),
    ):
        instance.deployer.test_deploy(revision)


@pytest.mark.parametrize("revision", ["", "a b", "x" * 300, "\x00"])
def test_a_test_deploy_of_garbage_is_invalid_input(
    repo: Repo, database_url: str, revision: str
) -> None:
    with (
        open_instance(repo.hub, database_url, manifest="prod") as instance,
        pytest.raises(InvalidInput),
    ):
        instance.deployer.test_deploy(revision)


def test_deployments_are_listed_newest_first(repo: Repo, database_url: str) -> None:
    with open_instance(repo.hub, database_url, manifest="prod") as instance:
        first = instance.deployer.deploy("one")
        merge(repo.hub, repo.hub.manifests.set_pin("prod", "billing", "1.1.0", AUTHOR))
        second = instance.deployer.deploy("two")
        third = instance.deployer.deploy("three", force=True)

        listed = instance.deployments.recent()

        assert [d.id for d in listed] == [third.id, second.id, first.id]
        assert [d.triggered_by for d in listed] == ["three", "two", "one"]
        assert [d.id for d in instance.deployments.recent(limit=2)] == [third.id, second.id]
        assert instance.deployments.get(second.id) == second
        with pytest.raises(DeploymentNotFound):
            instance.deployments.get(third.id + 1)
        with pytest.raises(DeploymentNotFound):
            instance.deployments.get(2**40)


def test_live_lookups_of_what_is_not_served_are_not_found(repo: Repo, database_url: str) -> None:
    with open_instance(repo.hub, database_url, manifest="prod") as instance:
        with pytest.raises(ElementNotFound):
            instance.live.element(repo.billing)  # nothing deployed yet
        instance.deployer.deploy(None)
        with pytest.raises(LiveFileNotFound, match="billing has no file"):
            instance.live.file(repo.billing, "missing.txt")
        with pytest.raises(ElementNotFound):
            instance.live.file("00000000-0000-4000-8000-000000000000", "main.rsx")


def test_the_poller_deploys_what_is_merged(repo: Repo, database_url: str) -> None:
    with open_instance(repo.hub, database_url, manifest="prod", poll_interval=0.05) as instance:
        instance.poller.start()
        _wait_for(lambda: instance.info().deployed_commit == repo.hub.head())
        merge(repo.hub, repo.hub.manifests.set_pin("prod", "billing", "1.2.0", AUTHOR))
        _wait_for(lambda: releases(instance).get("billing") == "1.2.0")
        instance.poller.stop()

        assert {d.triggered_by for d in instance.deployments.recent()} == {"poller"}
        # Polls that found nothing new recorded nothing.
        assert len(instance.deployments.recent()) == 2


def _wait_for(condition: object, timeout: float = 10.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)

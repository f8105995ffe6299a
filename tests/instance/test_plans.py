"""The plan of a pull request: what each instance would change if it were merged now, computed
by the hub from the instances' reports, is exactly what each instance's test deploy of the merge
says, and what each one then deploys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from instance_support import Repo, open_instance

from mirel.hub import ChangeRequest, Hub
from mirel.hub.values import DeployPlan, InstancePlan, PlannedChange
from mirel.instance import Instance
from support import AUTHOR, merge

Fleet = dict[str, Instance]


@pytest.fixture
def fleet(repo: Repo, tmp_path: Path) -> Iterator[Fleet]:
    """Return instances dev and prod (publishing their manifests), and `bare` (none), each
    deployed once, so each has reported what it serves."""
    instances = {
        name: open_instance(
            repo.hub, f"sqlite:///{tmp_path / name}.db", name=name, manifest=manifest
        )
        for name, manifest in (("dev", "dev"), ("prod", "prod"), ("bare", None))
    }
    try:
        for instance in instances.values():
            instance.deployer.deploy("test")
        yield instances
    finally:
        for instance in instances.values():
            instance.close()


def instance_plan(plan: DeployPlan, name: str) -> InstancePlan:
    """Return one instance's part of a plan."""
    return next(
        item for group in plan.manifests for item in group.instances if item.instance == name
    )


def moves(plan: InstancePlan) -> list[tuple[str, str | None, str | None]]:
    """Return an instance's planned changes as (element, from, to)."""
    return [(change.name, change.from_, change.to) for change in plan.changes]


def pull_plan(hub: Hub, change: ChangeRequest) -> DeployPlan:
    """Return the plan of a change's pull request, which must be open and mergeable."""
    assert change.pull_request is not None
    plan = hub.plans.for_pull(hub.pulls.get(change.pull_request.number))
    assert plan is not None
    return plan


def check_against_the_instances(hub: Hub, change: ChangeRequest, fleet: Fleet) -> DeployPlan:
    """Check that the plan of a change's pull request is what each instance's test deploy of the
    merged-now commit says, and what each one deploys once it is merged; return the plan."""
    plan = pull_plan(hub, change)
    assert change.pull_request is not None
    pull = hub.pulls.get(change.pull_request.number)
    candidate = hub.pulls.candidate_commit(pull)
    assert candidate is not None
    for name, instance in fleet.items():
        tested = instance.deployer.test_deploy(candidate)
        planned = instance_plan(plan, name)
        assert planned.errors == tuple(tested.errors)
        assert moves(planned) == [(item.name, item.from_, item.to) for item in tested.changes]
    merge(hub, change)
    for name, instance in fleet.items():
        deployed = instance.deployer.deploy("test")
        assert deployed.status == "SUCCESS"
        assert moves(instance_plan(plan, name)) == [
            (item.name, item.from_, item.to) for item in deployed.changes
        ]
    return plan


def test_two_pins_changed_plan_each_instance_of_each_manifest(repo: Repo, fleet: Fleet) -> None:
    change = repo.hub.manifests.change_pins(
        [("prod", "billing", "latest"), ("dev", "nightly", "0.1.0")], AUTHOR
    )
    plan = check_against_the_instances(repo.hub, change, fleet)
    assert [(group.manifest, group.edited) for group in plan.manifests] == [
        ("dev", True),
        ("prod", True),
        (None, False),
    ]
    [billing] = instance_plan(plan, "prod").changes
    assert billing == PlannedChange(repo.billing, "app", "billing", "1.0.0", "1.2.0", "latest")
    assert moves(instance_plan(plan, "dev")) == [("nightly", "0.2.0", "0.1.0")]
    assert instance_plan(plan, "bare").changes == ()
    assert plan.commit_sha != repo.hub.head()  # computed on the tip before the merge


def test_a_new_release_moves_what_tracks_latest(repo: Repo, fleet: Fleet) -> None:
    change = repo.hub.releases.create("billing", AUTHOR, version="1.3.0")
    plan = check_against_the_instances(repo.hub, change, fleet)
    [billing] = instance_plan(plan, "dev").changes
    assert (billing.from_, billing.to, billing.pin) == ("1.2.0", "1.3.0", "latest")
    assert instance_plan(plan, "prod").changes == ()  # prod pins 1.0.0
    assert [group.edited for group in plan.manifests] == [False, False, False]


def test_new_source_changes_the_working_version_where_it_is_served(
    repo: Repo, fleet: Fleet
) -> None:
    change = repo.hub.elements.push("status", {"main.rsx": b"status v2"}, AUTHOR)
    plan = check_against_the_instances(repo.hub, change, fleet)
    for name in ("dev", "prod", "bare"):  # dev pins it at latest (no release), prod omits it
        assert moves(instance_plan(plan, name)) == [("status", "working", "working")]


def test_a_plan_counts_from_what_an_instance_serves_not_from_main(repo: Repo, fleet: Fleet) -> None:
    merge(repo.hub, repo.hub.manifests.set_pin("prod", "crm", "1.0.0", AUTHOR))  # not deployed
    change = repo.hub.manifests.set_pin("prod", "billing", "1.1.0", AUTHOR)
    plan = check_against_the_instances(repo.hub, change, fleet)
    assert moves(instance_plan(plan, "prod")) == [
        ("billing", "1.0.0", "1.1.0"),
        ("crm", "working", "1.0.0"),
    ]


def test_deleting_a_manifest_plans_the_failure_of_its_instances(repo: Repo, fleet: Fleet) -> None:
    plan = pull_plan(repo.hub, repo.hub.manifests.delete("prod", AUTHOR))
    prod = instance_plan(plan, "prod")
    assert prod.changes == ()
    assert len(prod.errors) == 1
    assert "no manifest 'prod'" in prod.errors[0]
    assert fleet["prod"].deployer.test_deploy(repo.hub.head()).errors == []  # main is fine


def test_the_plan_of_pending_pins_is_the_plan_of_their_pull_request(
    repo: Repo, fleet: Fleet
) -> None:
    pins = [("prod", "billing", "1.2.0"), ("qa", "crm", "1.0.0")]
    before = repo.hub.plans.for_pins(pins)
    after = pull_plan(repo.hub, repo.hub.manifests.change_pins(pins, AUTHOR))
    assert before == after
    qa = next(group for group in before.manifests if group.manifest == "qa")
    assert qa.edited
    assert qa.instances == ()


def test_no_plan_for_a_pull_request_that_is_merged_or_conflicts(repo: Repo, fleet: Fleet) -> None:
    first = repo.hub.manifests.set_pin("prod", "billing", "1.1.0", AUTHOR)
    second = repo.hub.manifests.set_pin("prod", "billing", "1.2.0", AUTHOR)
    merge(repo.hub, first)
    assert first.pull_request is not None
    assert second.pull_request is not None
    merged = repo.hub.pulls.get(first.pull_request.number)
    assert repo.hub.plans.for_pull(merged) is None
    conflicting = repo.hub.pulls.get(second.pull_request.number)
    assert repo.hub.plans.for_pull(conflicting) is None
    assert repo.hub.pulls.candidate_commit(conflicting) is None

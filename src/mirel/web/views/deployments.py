"""The deployments page (this instance's last deployments, newest first) and Test deploy."""

from __future__ import annotations

from dataclasses import dataclass

from mirel.errors import InvalidInput
from mirel.instance import DeploymentSummary, Instance, InstanceInfo, Plan
from mirel.providers.base import PullRequest

DEPLOYMENTS_PAGE = 100


@dataclass(frozen=True)
class DeploymentsPage:
    """The last deployments of this instance, and what it publishes from where."""

    deployments: list[DeploymentSummary]
    info: InstanceInfo


def deployments_page(instance: Instance) -> DeploymentsPage:
    """Return the last DEPLOYMENTS_PAGE deployments, newest first."""
    return DeploymentsPage(instance.deployments.summaries(DEPLOYMENTS_PAGE), instance.info())


@dataclass(frozen=True)
class DryRunPage:
    """Test deploy: what to try on this instance (a commit, or an open pull request as merged
    now), and what its deploy would do."""

    manifest: str | None  # what this instance publishes
    head: str  # the default branch's tip, tried when no commit is given
    pulls: list[PullRequest]  # the open pull requests to choose from
    commit: str  # the commit asked for
    pull: str  # the pull request asked for (its number), empty for a commit
    plan: Plan | None  # None until something is tried


def dry_run_page(
    instance: Instance, commit: str = "", pull: str = "", plan: Plan | None = None
) -> DryRunPage:
    """Return the Test deploy page, with the plan of what was tried."""
    hub = instance.hub
    return DryRunPage(
        manifest=instance.state.selected_manifest(),
        head=hub.head(),
        pulls=hub.provider.open_pulls(),
        commit=commit,
        pull=pull,
        plan=plan,
    )


def dry_run(instance: Instance, commit: str, pull: str) -> DryRunPage:
    """Return the Test deploy page with this instance's dry run of an open pull request merged
    now (when `pull` names one) or of a commit (the default branch's tip when empty)."""
    deployer = instance.deployer
    if pull.strip():
        if not pull.strip().isdigit() or len(pull.strip()) > 10:
            raise InvalidInput(f"{pull[:20]!r} is not a pull request number; pick one of the list")
        plan = deployer.test_deploy_pull(int(pull))
    else:
        plan = deployer.test_deploy(commit.strip() or instance.hub.head())
    return dry_run_page(instance, commit, pull, plan)

"""The deployments page: this instance's last deployments, newest first."""

from __future__ import annotations

from dataclasses import dataclass

from mirel.instance import DeploymentSummary, Instance, InstanceInfo

DEPLOYMENTS_PAGE = 100


@dataclass(frozen=True)
class DeploymentsPage:
    """The last deployments of this instance, and what it publishes from where."""

    deployments: list[DeploymentSummary]
    info: InstanceInfo


def deployments_page(instance: Instance) -> DeploymentsPage:
    """Return the last DEPLOYMENTS_PAGE deployments, newest first."""
    return DeploymentsPage(instance.deployments.summaries(DEPLOYMENTS_PAGE), instance.info())

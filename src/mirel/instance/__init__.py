"""The instance: the deploy engine and the live state it serves (SPEC.md §4).

`Instance` is the whole public surface: the API, the CLI's server commands and `mirel up` use it.
Inside: `planner` resolves a commit into the desired state, `sources` unpacks and keeps element
sources by git object id, `lease` keeps deploys one at a time across processes, and `service`
runs deploys and answers questions about the live state.
"""

from mirel.instance.service import (
    ERROR,
    PENDING_START,
    RUNNING,
    SUCCESS,
    DeploymentView,
    Instance,
    LiveElementView,
    Plan,
)

__all__ = [
    "ERROR",
    "PENDING_START",
    "RUNNING",
    "SUCCESS",
    "DeploymentView",
    "Instance",
    "LiveElementView",
    "Plan",
]

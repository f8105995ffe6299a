"""The instance: the deploy engine, the live state it serves, its deployments and accounts.

`Instance` (instance.py) is the composition root: it opens the hub and the database and exposes
the parts as attributes (`deployer`, `deployments`, `live`, `state`, `poller`, `reports`). Inside:
`deploy/` runs deploys (deployer, planner, sources, switch, lease), `state.py`, `deployments.py`
and `live.py` hold what the database says, `values.py` the values handed to callers, and
`accounts/` the users, web sessions and API tokens.
"""

from mirel.instance.instance import Instance
from mirel.instance.values import (
    ERROR,
    PENDING_START,
    RUNNING,
    SUCCESS,
    UNFINISHED,
    Change,
    Deployment,
    DeploymentSummary,
    InstanceInfo,
    LiveElement,
    Plan,
)

__all__ = [
    "ERROR",
    "PENDING_START",
    "RUNNING",
    "SUCCESS",
    "UNFINISHED",
    "Change",
    "Deployment",
    "DeploymentSummary",
    "Instance",
    "InstanceInfo",
    "LiveElement",
    "Plan",
]

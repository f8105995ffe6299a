"""A deploy killed at any point leaves the old or the new state, never a mix (acceptance 5).

A real process deploys with a checkpoint that stops at one step (deploy_process.py --pause; the
steps are mirel.instance.deploy.steps.STEPS); when it prints that it reached the step, it is killed
with SIGKILL. A new instance on the same
database must then serve exactly the old state, with the deployment marked ERROR ("interrupted"),
or, once the switch has committed, exactly the new one; and its next deploy must finish the job.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from deploy_process import PAUSE_MARKER
from instance_support import (
    Repo,
    live_state,
    open_instance,
    push,
    read_line,
    start_deploy_process,
)

from mirel.instance.deploy.steps import STEPS
from mirel.instance.deployments import INTERRUPTED
from support import AUTHOR, add_element, merge


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS)
def test_a_deploy_killed_at_any_step_leaves_the_old_or_the_new_state(
    repo: Repo, database_url: str, tmp_path: Path, step: str
) -> None:
    hub = repo.hub
    with open_instance(hub, database_url, manifest="prod") as instance:
        instance.deployer.deploy(None)
        old_state, old_commit = live_state(instance), hub.head()
    # The new state changes a pin, a working version and the element list at once.
    merge(hub, hub.manifests.set_pin("prod", "billing", "1.2.0", AUTHOR))
    push(hub, "crm", {"main.rsx": b"crm v2"})
    add_element(hub, "workflow", "weekly", {"flow.json": b"weekly v1"})
    new_commit = hub.head()
    with open_instance(hub, f"sqlite:///{tmp_path / 'reference.db'}", manifest="prod") as reference:
        reference.deployer.deploy(None)
        new_state = live_state(reference)
    assert new_state != old_state

    process = start_deploy_process(hub, database_url, manifest="prod", trigger="doomed", pause=step)
    assert read_line(process) == "READY"
    assert read_line(process) == f"{PAUSE_MARKER} {step}"
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)

    with open_instance(hub, database_url, manifest="prod") as survivor:
        doomed = survivor.deployments.recent()[0]
        assert (doomed.triggered_by, doomed.commit_sha) == ("doomed", new_commit)
        if step == "switched":
            assert doomed.status == "SUCCESS"
            assert live_state(survivor) == new_state
            assert survivor.info().deployed_commit == new_commit
        else:
            assert doomed.status == "ERROR"
            assert doomed.errors == [INTERRUPTED]
            assert live_state(survivor) == old_state
            assert survivor.info().deployed_commit == old_commit

        finished = survivor.deployer.deploy("recovery")

        assert finished.status == "SUCCESS"
        assert live_state(survivor) == new_state
        assert survivor.info().deployed_commit == new_commit

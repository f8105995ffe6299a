"""The deployer: runs deploys one at a time under the lease, and test deploys that change nothing.

A deploy runs these steps, each after the one before has fully succeeded:

1. take the deploy lease (`lease.py`): one deploy at a time per database, whatever the number of
   processes; whoever finds it taken gets the running deployment back and asks the holder to look
   again once it is done, so that no merge goes unnoticed;
2. read the default branch's head and the selected manifest; when both are what the last deploy
   that reached a verdict saw, stop: nothing is recorded (unless forced);
3. record a deployment, RUNNING, in its own committed transaction, so it is visible at once;
4. resolve the manifest into the desired state (`planner.py`): a release or the working version of
   every element, each with the git object holding its source;
5. check and unpack every source not already in the database (`sources.py`), stored in batches
   where each source goes in whole with all its files, never in part; problems are collected,
   not raised, so that all are listed;
6. with no problem, switch in ONE transaction (`switch.py`): the live elements, the deployed commit
   and manifest, the deployment's final status, and the removal of working-version sources
   nothing serves any more. With problems, only the deployment is marked ERROR: the live state is
   not touched.

A process that dies anywhere leaves the old state (it died before the switch committed) or the new
one (after): unpacked sources are invisible until a switch points at them. The next process that
takes the lease marks the dead process's RUNNING deployment ERROR ("interrupted").

The deployer calls its checkpoint (`steps.py`; by default it does nothing) at each named step.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker

from mirel.core.artifact import ArtifactLimits
from mirel.errors import (
    ConcurrentUpdate,
    InvalidInput,
    LeaseLost,
    MergeConflict,
    MirelError,
    PullRequestNotOpen,
    RemoteUnreachable,
)
from mirel.git.snapshot import CommitSnapshot
from mirel.hub import Hub
from mirel.instance.deploy.lease import Lease
from mirel.instance.deploy.planner import Planner
from mirel.instance.deploy.sources import SourceStore
from mirel.instance.deploy.steps import Checkpoint, DeployLog, counted, no_checkpoint
from mirel.instance.deploy.switch import Switch, changes_between
from mirel.instance.deployments import DeploymentStore
from mirel.instance.live import LiveStore, Served
from mirel.instance.reports import Reporter
from mirel.instance.state import Attempt, StateStore
from mirel.instance.values import MAX_TRIGGER, Deployment, Plan
from mirel.providers.base import PullState

log = logging.getLogger(__name__)

# Told of every deployment that ran (not of a request that found nothing to do), with how long
# it took in seconds: the server's metrics count them.
DeployObserver = Callable[[Deployment, float], None]

_MAX_REVISION = 256
# What could name a commit (a sha, a branch, `main~1`): no control character and no white space,
# each spelled out so that the API's JSON Schema pattern reads the same in any regex dialect.
_REVISION = re.compile(
    r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
    rf"{{1,{_MAX_REVISION}}}"
)
REVISION_PATTERN = f"^{_REVISION.pattern}$"
_T = TypeVar("_T")


def _check_revision(commit_sha: str) -> None:
    """Raise InvalidInput unless `commit_sha` could name a commit; git tells the others apart."""
    if not isinstance(commit_sha, str) or _REVISION.fullmatch(commit_sha) is None:
        raise InvalidInput(f"{str(commit_sha)[:80]!r} is not a commit sha; pass a commit id")


class Deployer:
    """Deploys the default branch's head, one deploy at a time across processes."""

    def __init__(
        self,
        *,
        hub: Hub,
        sessions: sessionmaker[Session],
        lease: Lease,
        state: StateStore,
        deployments: DeploymentStore,
        live: LiveStore,
        reporter: Reporter,
        limits: ArtifactLimits,
        checkpoint: Checkpoint = no_checkpoint,
        observe: DeployObserver = lambda _deployment, _seconds: None,
    ) -> None:
        self._hub = hub
        self._observe = observe
        self._lease = lease
        self._state = state
        self._deployments = deployments
        self._live = live
        self._reporter = reporter
        self._checkpoint = checkpoint
        self.planner = Planner(sessions, hub.repo)
        self.sources = SourceStore(sessions, hub.repo, limits)
        self._switch = Switch(sessions, lease, state)
        self._unreachable = ""  # the last failure to fetch, logged once

    @property
    def unpacked_count(self) -> int:
        """Return how many sources this process has unpacked and stored."""
        return self.sources.unpacked_count

    def deploy(self, triggered_by: str | None, *, force: bool = False) -> Deployment:
        """Deploy the default branch's head and return its deployment.

        Returns the last deployment, recording nothing, when the head and the selected manifest
        are those of the last deploy that reached a verdict (unless `force`), and the running
        deployment when another deploy holds the lease (that one looks at the head again when
        it finishes, so this request is served too, though not forced).
        """
        trigger = triggered_by[:MAX_TRIGGER] if triggered_by else None
        self._refresh()
        if not force:
            head = Attempt(self._hub.head(), self._state.selected_manifest())
            done = self._deployments.finished(head)
            if done is not None:
                return done
        for _ in range(100):
            token = self._lease.acquire()
            if token is not None:
                work = functools.partial(
                    self._deploy, token=token, triggered_by=trigger, force=force
                )
                return self._holding(token, work)
            if self._lease.request(trigger):
                return self._deployments.running_or_last(self._lease)
            # The lease was let go between the two statements: try to take it again.
        raise ConcurrentUpdate("could not take the deploy lease; try again in a moment")

    def _refresh(self) -> None:
        """Fetch what a mirror's remote holds before deploying; while the remote does not
        answer, deploy what the mirror has (said once per failure in the log)."""
        try:
            self._hub.repo.refresh()
        except RemoteUnreachable as error:
            if str(error) != self._unreachable:
                log.warning("deploying from the mirror: %s", error)
                self._unreachable = str(error)
        else:
            self._unreachable = ""

    def test_deploy(self, commit_sha: str) -> Plan:
        """Return what deploying a commit would change and every problem; change nothing.

        Raises BranchNotFound when `commit_sha` names no commit, InvalidInput when it is not a
        revision at all. New artifacts are read and checked, not stored.
        """
        _check_revision(commit_sha)
        snapshot = self._hub.snapshot(commit_sha)
        manifest = self._state.selected_manifest()
        desired = self.planner.desired(snapshot, manifest)
        checked = self.sources.check(desired)
        changes = changes_between(self._live.rows(), desired.targets)
        return Plan(
            commit_sha=snapshot.commit_sha,
            manifest=manifest,
            changes=changes,
            errors=checked.problems,
        )

    def test_deploy_pull(self, number: int) -> Plan:
        """Return what deploying the default branch with an open pull request merged now would
        change, and every problem; change nothing but write the merge commit, which nothing
        refers to. Raise PullRequestNotOpen for a pull request merged or closed, MergeConflict
        for one that conflicts."""
        pulls = self._hub.pulls
        pull = pulls.get(number)
        if pull.state not in (PullState.OPEN, PullState.CONFLICTING):
            raise PullRequestNotOpen(
                f"pull request #{number} is {pull.state}; test-deploy a commit instead"
            )
        merged = pulls.candidate_commit(pull)
        if merged is None:
            raise MergeConflict(number, pull.conflicts)
        return self.test_deploy(merged)

    def recover(self) -> None:
        """Mark deployments of crashed processes ERROR, unless a live process is deploying."""
        token = self._lease.acquire()
        if token is None:
            return  # its holder is alive and will sweep when it next takes the lease
        self._holding(token, lambda _: self._deployments.sweep_interrupted())

    def _holding(self, token: str, work: Callable[[threading.Event], _T]) -> _T:
        """Return `work`'s result, run under the lease, then serve requests made meanwhile."""
        try:
            with self._lease.heartbeat(token) as lost:
                result = work(lost)
                while (request := self._lease.release(token)) is not None:
                    self._deploy(lost, token=token, triggered_by=request.triggered_by, force=False)
                return result
        except BaseException:
            self._lease.force_release(token)
            raise

    def _deploy(
        self, lost: threading.Event, *, token: str, triggered_by: str | None, force: bool
    ) -> Deployment:
        """Run one deploy while holding the lease; return its deployment, reported."""
        self._deployments.sweep_interrupted()
        snapshot = self._hub.snapshot()
        attempt = Attempt(snapshot.commit_sha, self._state.selected_manifest())
        if not force:
            done = self._deployments.finished(attempt)
            if done is not None:
                return done
        deployment_id = self._deployments.start(attempt, triggered_by)
        started = time.monotonic()
        finished = self._run(lost, token, deployment_id, snapshot, attempt, triggered_by)
        self._observe(finished, time.monotonic() - started)
        return finished

    def _run(
        self,
        lost: threading.Event,
        token: str,
        deployment_id: int,
        snapshot: CommitSnapshot,
        attempt: Attempt,
        triggered_by: str | None,
    ) -> Deployment:
        """Run a started deployment's steps; return it, reported, whatever happened."""
        entry = DeployLog()
        entry(
            f"deploying {snapshot.commit_sha} with "
            + (
                f"manifest {attempt.manifest}"
                if attempt.manifest
                else "no manifest (working versions)"
            )
            + (f", triggered by {triggered_by}" if triggered_by else "")
        )
        try:
            steps = self._steps(lost, token, deployment_id, snapshot, attempt.manifest, entry)
            return self._reporter.send(*steps)
        except (LeaseLost, MirelError) as error:
            message = str(error)
        except Exception as error:
            log.exception("deployment %s failed", deployment_id)
            message = f"internal error: {type(error).__name__}: {error}".splitlines()[0]
        return self._reporter.send(self._fail(deployment_id, [message], entry, verdict=None))

    def _steps(
        self,
        lost: threading.Event,
        token: str,
        deployment_id: int,
        snapshot: CommitSnapshot,
        manifest: str | None,
        entry: DeployLog,
    ) -> tuple[Deployment, Served | None]:
        """Resolve, unpack and switch; return the deployment (ERROR when sources have problems)
        and, when it switched, what is live now."""
        self._checkpoint("started")
        desired = self.planner.desired(snapshot, manifest)
        for warning in desired.warnings:
            entry(f"warning: {warning}")
        entry(f"resolved {len(desired.targets)} elements")
        self._checkpoint("resolved")
        unpacked = self.sources.unpack(desired, entry, lost)
        self._checkpoint("unpacked")
        if lost.is_set():
            raise LeaseLost("the deploy lease was taken over by another process")
        if unpacked.problems:
            # The repository's content is at fault: the same commit and manifest would fail again.
            verdict = Attempt(snapshot.commit_sha, manifest)
            return self._fail(deployment_id, unpacked.problems, entry, verdict=verdict), None
        switched = self._switch.run(
            token, deployment_id, desired, unpacked.commits, entry, self._checkpoint
        )
        self._checkpoint("switched")
        return switched

    def _fail(
        self, deployment_id: int, errors: list[str], entry: DeployLog, *, verdict: Attempt | None
    ) -> Deployment:
        """Mark a deployment ERROR with `errors`, leaving the live state alone; return it."""
        entry(f"failed with {counted(len(errors), 'problem')}; nothing changed")
        return self._deployments.fail(deployment_id, errors, entry.text(), verdict)

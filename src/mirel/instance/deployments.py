"""Every deploy of this instance, in the `deployments` table: recording them and reading them."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mirel.db.models import Deployment as DeploymentRow
from mirel.errors import ConcurrentUpdate, DeploymentNotFound
from mirel.instance.deploy.lease import Lease
from mirel.instance.state import Attempt, StateStore
from mirel.instance.values import (
    ERROR,
    RUNNING,
    SUCCESS,
    UNFINISHED,
    Change,
    Deployment,
    DeploymentSummary,
    rfc3339,
)

log = logging.getLogger(__name__)

INTERRUPTED = (
    "interrupted: the process running this deploy stopped before it finished; "
    "nothing of it went live, and the next deploy starts again"
)
# How long a caller who found the lease taken waits for the holder's deployment to appear.
_RUNNING_WAIT = 5.0


def deployment_of(row: DeploymentRow) -> Deployment:
    """Return the value of a `deployments` row."""
    return Deployment(
        id=row.id,
        uuid=row.uuid,
        status=row.status,
        commit_sha=row.commit_sha,
        triggered_by=row.triggered_by,
        created_at=rfc3339(row.created_at) or "",
        completed_at=rfc3339(row.completed_at),
        manifest=row.manifest,
        changes=[Change.from_record(record) for record in row.changes or []],
        errors=list(row.errors or []),
        log=row.log or "",
    )


class DeploymentStore:
    """Records deployments as deploys run, and answers what happened."""

    def __init__(self, sessions: sessionmaker[Session], state: StateStore) -> None:
        self._sessions = sessions
        self._state = state

    # -- recording (the deployer, under the lease) ---------------------------------------------

    def start(self, attempt: Attempt, triggered_by: str | None) -> int:
        """Record a RUNNING deployment and return its id (committed, so others see it)."""
        with self._sessions.begin() as session:
            row = DeploymentRow(
                status=RUNNING,
                commit_sha=attempt.commit_sha,
                triggered_by=triggered_by,
                manifest=attempt.manifest,
                created_at=datetime.now(UTC),
                changes=[],
                errors=[],
                log="",
            )
            session.add(row)
            session.flush()
            return row.id

    def fail(
        self, deployment_id: int, errors: list[str], log_text: str, verdict: Attempt | None
    ) -> Deployment:
        """Mark a deployment ERROR, leaving the live state alone; return it.

        `verdict`, when given, is the commit and manifest whose content made the deploy fail
        (see StateStore.record_failure); None for failures a retry may not repeat.
        """
        with self._sessions.begin() as session:
            row = session.get(DeploymentRow, deployment_id)
            assert row is not None
            row.status = ERROR
            row.completed_at = datetime.now(UTC)
            row.changes = []
            row.errors = errors
            row.log = log_text
            self._state.record_failure(session, deployment_id, verdict)
            session.flush()
            return deployment_of(row)

    @staticmethod
    def succeed(
        session: Session, deployment_id: int, changes: list[Change], log_text: str
    ) -> Deployment:
        """Mark a deployment SUCCESS in the switch's transaction; return it."""
        row = session.get(DeploymentRow, deployment_id)
        assert row is not None
        row.status = SUCCESS
        row.completed_at = datetime.now(UTC)
        row.changes = [change.to_record() for change in changes]
        row.errors = []
        row.log = log_text
        session.flush()
        return deployment_of(row)

    def sweep_interrupted(self) -> None:
        """Mark ERROR every deployment left unfinished (only called while holding the lease)."""
        with self._sessions.begin() as session:
            rows = session.scalars(
                select(DeploymentRow).where(DeploymentRow.status.in_(UNFINISHED))
            )
            for row in rows:
                row.status = ERROR
                row.errors = [*row.errors, INTERRUPTED]
                row.completed_at = datetime.now(UTC)
                log.warning("deployment %s was interrupted; marked ERROR", row.id)

    # -- reading -------------------------------------------------------------------------------

    def finished(self, attempt: Attempt) -> Deployment | None:
        """Return the last deployment if it reached a verdict on this commit and manifest."""
        with self._sessions() as session:
            state = self._state.row(session)
            if (
                Attempt(state.attempted_commit, state.attempted_manifest) != attempt
                or state.last_deployment_id is None
            ):
                return None
            row = session.get(DeploymentRow, state.last_deployment_id)
            return deployment_of(row) if row is not None else None

    def recent(self, limit: int = 100) -> list[Deployment]:
        """Return the last `limit` deployments, newest first."""
        with self._sessions() as session:
            rows = session.scalars(
                select(DeploymentRow).order_by(DeploymentRow.id.desc()).limit(max(0, limit))
            )
            return [deployment_of(row) for row in rows]

    def last(self) -> Deployment | None:
        """Return the newest deployment, None before the first."""
        found = self.recent(limit=1)
        return found[0] if found else None

    def summaries(self, limit: int = 100) -> list[DeploymentSummary]:
        """Return the last `limit` deployments without their logs and changes, newest first.

        A cold deploy's log has a line per element: a page of 100 deployments reads none of it.
        """
        changes = func.coalesce(func.json_array_length(DeploymentRow.changes), 0)
        statement = (
            select(
                DeploymentRow.id,
                DeploymentRow.status,
                DeploymentRow.commit_sha,
                DeploymentRow.triggered_by,
                DeploymentRow.created_at,
                DeploymentRow.completed_at,
                DeploymentRow.manifest,
                changes,
                DeploymentRow.errors,
            )
            .order_by(DeploymentRow.id.desc())
            .limit(max(0, limit))
        )
        with self._sessions() as session:
            return [
                DeploymentSummary(
                    id=row[0],
                    status=row[1],
                    commit_sha=row[2],
                    triggered_by=row[3],
                    created_at=rfc3339(row[4]) or "",
                    completed_at=rfc3339(row[5]),
                    manifest=row[6],
                    change_count=int(row[7] or 0),
                    errors=list(row[8] or []),
                )
                for row in session.execute(statement)
            ]

    def get(self, deployment_id: int | str) -> Deployment:
        """Return one deployment by its number or its uuid; raise DeploymentNotFound."""
        with self._sessions() as session:
            if isinstance(deployment_id, str):
                row = session.scalars(
                    select(DeploymentRow).where(DeploymentRow.uuid == deployment_id.lower())
                ).first()
            elif -(2**31) < deployment_id < 2**31:
                row = session.get(DeploymentRow, deployment_id)
            else:
                row = None
            if row is None:
                raise DeploymentNotFound(
                    f"there is no deployment {deployment_id}; GET /source_control/deployments "
                    "lists them"
                )
            return deployment_of(row)

    def running_or_last(self, lease: Lease) -> Deployment:
        """Return the running deployment (waiting a moment for it to appear), else the last.

        Called by whoever found `lease` taken: its holder records its deployment right after
        taking it; a holder that found nothing to do never records one, and lets go.
        """
        deadline = time.monotonic() + _RUNNING_WAIT
        while True:
            with self._sessions() as session:
                running = session.scalars(
                    select(DeploymentRow)
                    .where(DeploymentRow.status.in_(UNFINISHED))
                    .order_by(DeploymentRow.id.desc())
                    .limit(1)
                ).first()
                if running is not None:
                    return deployment_of(running)
            if lease.holder() is None or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        last = self.last()
        if last is not None:
            return last
        raise ConcurrentUpdate("another process is starting a deploy; ask again in a moment")

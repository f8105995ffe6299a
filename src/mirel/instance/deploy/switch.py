"""The switch: what a deploy changes, and the one transaction that makes it live.

In that transaction: the lease is renewed (on PostgreSQL its row then stays locked until the
commit, so nobody takes the lease in between), the `live_elements` rows that differ are written,
working-version sources nothing serves any more are removed, and the deployed commit and the
deployment's SUCCESS are recorded. A process that dies before the commit leaves the old state
whole; after it, the new one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import cast

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from mirel.core.resolve import WORKING
from mirel.db.models import LiveElement as LiveElementRow
from mirel.db.models import Source
from mirel.instance.deploy.lease import Lease
from mirel.instance.deploy.planner import DesiredState, Target, chunks
from mirel.instance.deploy.steps import Checkpoint, DeployLog, counted
from mirel.instance.deployments import DeploymentStore
from mirel.instance.live import LIVE, LiveRow, Served, read_live
from mirel.instance.state import Attempt, StateStore
from mirel.instance.values import Change, Deployment

SOURCES = cast(Table, Source.__table__)


def changes_between(current: Mapping[str, LiveRow], targets: Iterable[Target]) -> list[Change]:
    """Return what switching from the live rows to the targets changes, sorted by kind and name.

    An element changes when its source changes (another release, or a new working version) or its
    name does; a new pin that resolves to the same source changes nothing anyone is served.
    """
    changes: list[Change] = []
    wanted: set[str] = set()
    for target in targets:
        wanted.add(target.uuid)
        row = current.get(target.uuid)
        if row is None:
            changes.append(Change(target.uuid, target.kind.name, target.name, None, target.label))
        elif row.source_key != target.source_key or row.name != target.name:
            old = row.release or WORKING
            changes.append(Change(target.uuid, target.kind.name, target.name, old, target.label))
    for uuid, row in current.items():
        if uuid not in wanted:
            changes.append(Change(uuid, row.kind, row.name, row.release or WORKING, None))
    changes.sort(key=lambda change: (change.kind, change.name, change.element_uuid))
    return changes


def _wanted_rows(desired: DesiredState, commits: Mapping[str, str | None]) -> dict[str, LiveRow]:
    """Return the live rows the desired state asks for, by uuid."""
    return {
        target.uuid: LiveRow(
            uuid=target.uuid,
            kind=target.kind.name,
            name=target.name,
            release=target.release,
            pin=target.pin,
            in_manifest=target.pin is not None,
            source_key=target.source_key,
            source_commit=commits.get(target.source_key),
        )
        for target in desired.targets
    }


def _write_live(
    connection: Connection, current: Mapping[str, LiveRow], wanted: Mapping[str, LiveRow]
) -> None:
    """Turn the live rows from `current` into `wanted`, writing only the rows that differ: a
    one-pin deploy writes one row."""
    removed = [uuid for uuid in current if uuid not in wanted]
    added = [row._asdict() for uuid, row in wanted.items() if uuid not in current]
    changed = [
        {f"new_{name}": value for name, value in row._asdict().items()}
        for uuid, row in wanted.items()
        if uuid in current and current[uuid] != row
    ]
    for batch in chunks(removed):
        connection.execute(delete(LIVE).where(LIVE.c.uuid.in_(batch)))
    if changed:
        connection.execute(
            update(LIVE)
            .where(LIVE.c.uuid == bindparam("new_uuid"))
            .values({name: bindparam(f"new_{name}") for name in LiveRow._fields[1:]}),
            changed,
        )
    if added:
        connection.execute(insert(LIVE), added)


def _remove_unserved_working_versions(connection: Connection) -> int:
    """Delete the working-version sources no live row points at; return how many there were.

    A working version nothing serves is unlikely to be served again (its element has moved on);
    releases are kept, since pinning an older one back is common.
    """
    return connection.execute(
        delete(SOURCES).where(
            SOURCES.c.key.like("tree:%"),
            SOURCES.c.key.not_in(select(LiveElementRow.source_key)),
        )
    ).rowcount


class Switch:
    """Makes a desired state live, in one transaction."""

    def __init__(self, sessions: sessionmaker[Session], lease: Lease, state: StateStore) -> None:
        self._sessions = sessions
        self._lease = lease
        self._state = state

    def run(
        self,
        token: str,
        deployment_id: int,
        desired: DesiredState,
        commits: Mapping[str, str | None],
        log: DeployLog,
        checkpoint: Checkpoint,
    ) -> tuple[Deployment, Served]:
        """Switch the live state, the deployed commit and the deployment; return it, SUCCESS,
        with what is live now.

        Raises LeaseLost, changing nothing, when the lease `token` holds was taken over.
        """
        with self._sessions.begin() as session:
            connection = session.connection()
            # First, so the lease row stays locked (PostgreSQL) until this transaction ends.
            self._lease.renew(token, connection)
            current = read_live(connection)
            changes = changes_between(current, desired.targets)
            wanted = _wanted_rows(desired, commits)
            _write_live(connection, current, wanted)
            garbage = _remove_unserved_working_versions(connection)
            log(
                f"switched {counted(len(changes), 'change')}"
                + (f"; removed {counted(garbage, 'unused working version')}" if garbage else "")
            )
            deployed = Attempt(desired.commit_sha, desired.manifest)
            self._state.record_switch(session, deployed, deployment_id)
            deployment = DeploymentStore.succeed(session, deployment_id, changes, log.text())
            checkpoint("switching")
        return deployment, Served(deployed, wanted)

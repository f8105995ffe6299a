"""The instance: its selected manifest, its deploys and the live state it serves (SPEC.md §4).

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
6. with no problem, switch in ONE transaction: the live elements, the deployed commit and manifest,
   the deployment's final status, and the removal of working-version sources nothing serves any
   more. With problems, only the deployment is marked ERROR: the live state is not touched.

A process that dies anywhere leaves the old state (it died before the switch committed) or the new
one (after): unpacked sources are invisible until a switch points at them. The next process that
takes the lease marks the dead process's RUNNING deployment ERROR ("interrupted").

A deploy calls its checkpoint (`deploy/steps.py`, by default doing nothing) at each named step, so
that the crash tests can stop a deploy there and kill its process.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import NamedTuple, TypeVar, cast

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from mirel.core.artifact import ArtifactLimits
from mirel.core.catalog import load_manifest
from mirel.core.names import check_name
from mirel.db.engine import open_database
from mirel.db.models import ChangeRecord, Deployment, InstanceState, LiveElement, Source, SourceFile
from mirel.errors import (
    ConcurrentUpdate,
    DeploymentNotFound,
    ElementNotFound,
    InvalidInput,
    LeaseLost,
    LiveFileNotFound,
    ManifestInvalid,
    MirelError,
)
from mirel.git.repository import GitRepository
from mirel.git.snapshot import CommitSnapshot
from mirel.hub.service import Hub
from mirel.instance.deploy.lease import Lease
from mirel.instance.deploy.planner import WORKING, DesiredState, Planner, Target, chunks
from mirel.instance.deploy.sources import SourceStore, Unpacked
from mirel.instance.deploy.steps import Checkpoint, no_checkpoint
from mirel.providers.base import InstanceReport
from mirel.providers.local import LocalProvider
from mirel.settings import Settings

log = logging.getLogger(__name__)

PENDING_START = "PENDING_START"
RUNNING = "RUNNING"
SUCCESS = "SUCCESS"
ERROR = "ERROR"
UNFINISHED = (PENDING_START, RUNNING)

INTERRUPTED = (
    "interrupted: the process running this deploy stopped before it finished; "
    "nothing of it went live, and the next deploy starts again"
)
_STATE_ID = 1
# Sources stored per transaction: a commit per source would cost a disk flush each on a cold deploy.
_BATCH_SOURCES = 200
_BATCH_BYTES = 16 * 1024 * 1024
_MAX_TRIGGER = 200
_MAX_REVISION = 256
_T = TypeVar("_T")


def _size(source: Unpacked) -> int:
    return sum(len(content) for content in source.files.values())


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime | None) -> str | None:
    """Return a time as RFC 3339 UTC with milliseconds (`2024-05-01T12:00:00.000Z`), or None."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # SQLite hands back the UTC time it stored, naive
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class DeploymentView:
    """One deployment as the API, the CLI and the pages show it."""

    id: int
    status: str  # PENDING_START, RUNNING, SUCCESS or ERROR
    commit_sha: str | None
    triggered_by: str | None
    created_at: str
    completed_at: str | None
    manifest: str | None
    changes: list[ChangeRecord]  # {"element_uuid", "kind", "name", "from", "to"}
    errors: list[str]
    log: str

    @classmethod
    def from_row(cls, row: Deployment) -> DeploymentView:
        """Return the view of a `deployments` row."""
        return cls(
            id=row.id,
            status=row.status,
            commit_sha=row.commit_sha,
            triggered_by=row.triggered_by,
            created_at=rfc3339(row.created_at) or "",
            completed_at=rfc3339(row.completed_at),
            manifest=row.manifest,
            changes=list(row.changes or []),
            errors=list(row.errors or []),
            log=row.log or "",
        )

    def to_json(self) -> dict[str, object]:
        """Return every field as a JSON object."""
        return {
            "id": self.id,
            "status": self.status,
            "commit_sha": self.commit_sha,
            "triggered_by": self.triggered_by,
            "created_at": self.created_at,
            "completed_at": self.completed_at,
            "manifest": self.manifest,
            "changes": self.changes,
            "errors": self.errors,
            "log": self.log,
        }


@dataclass(frozen=True)
class DeploymentSummary:
    """One deployment without its log and changes (how many there are), for long lists."""

    id: int
    status: str
    commit_sha: str | None
    triggered_by: str | None
    created_at: str
    completed_at: str | None
    manifest: str | None
    change_count: int
    errors: list[str]


@dataclass(frozen=True)
class Plan:
    """What a deploy of one commit would do: its changes and the problems that would stop it."""

    commit_sha: str
    manifest: str | None
    changes: list[ChangeRecord]
    errors: list[str]

    def to_json(self) -> dict[str, object]:
        """Return every field as a JSON object."""
        return {
            "commit_sha": self.commit_sha,
            "manifest": self.manifest,
            "changes": self.changes,
            "errors": self.errors,
        }


@dataclass(frozen=True)
class LiveElementView:
    """One element as this instance serves it."""

    uuid: str
    kind: str
    name: str
    live_release: str | None  # None: the working version
    in_manifest: bool
    pin: str | None
    source_commit: str | None
    files: list[str]

    def to_json(self) -> dict[str, object]:
        """Return every field as a JSON object."""
        return {
            "uuid": self.uuid,
            "kind": self.kind,
            "name": self.name,
            "live_release": self.live_release,
            "in_manifest": self.in_manifest,
            "pin": self.pin,
            "source_commit": self.source_commit,
            "files": self.files,
        }


class _LiveRow(NamedTuple):
    """One row of `live_elements`, in column order."""

    uuid: str
    kind: str
    name: str
    release: str | None
    pin: str | None
    in_manifest: bool
    source_key: str
    source_commit: str | None


LIVE = cast(Table, LiveElement.__table__)
assert tuple(LIVE.c.keys()) == _LiveRow._fields, "live_elements and _LiveRow must agree"


def _live_view(row: _LiveRow, files: list[str]) -> LiveElementView:
    return LiveElementView(
        uuid=row.uuid,
        kind=row.kind,
        name=row.name,
        live_release=row.release,
        in_manifest=row.in_manifest,
        pin=row.pin,
        source_commit=row.source_commit,
        files=files,
    )


def _read_live(connection: Connection) -> dict[str, _LiveRow]:
    """Return every live row by uuid, as plain tuples (ORM objects cost more than the query)."""
    return {row[0]: _LiveRow(*row) for row in connection.execute(select(*LIVE.c))}


def _change(uuid: str, kind: str, name: str, old: str | None, new: str | None) -> ChangeRecord:
    return {"element_uuid": uuid, "kind": kind, "name": name, "from": old, "to": new}


def _changes(current: Mapping[str, _LiveRow], targets: Iterable[Target]) -> list[ChangeRecord]:
    """Return what switching from the live rows to the targets changes, sorted by kind and name.

    An element changes when its source changes (another release, or a new working version) or its
    name does; a new pin that resolves to the same source changes nothing anyone is served.
    """
    changes: list[ChangeRecord] = []
    wanted: set[str] = set()
    for target in targets:
        wanted.add(target.uuid)
        row = current.get(target.uuid)
        if row is None:
            changes.append(_change(target.uuid, target.kind.name, target.name, None, target.label))
        elif row.source_key != target.source_key or row.name != target.name:
            old = row.release or WORKING
            changes.append(_change(target.uuid, target.kind.name, target.name, old, target.label))
    for uuid, row in current.items():
        if uuid not in wanted:
            changes.append(_change(uuid, row.kind, row.name, row.release or WORKING, None))
    changes.sort(
        key=lambda change: (str(change["kind"]), str(change["name"]), str(change["element_uuid"]))
    )
    return changes


class _Log:
    """The lines of one deployment's log, each with the time it was written."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, message: str) -> None:
        self.lines.append(f"{rfc3339(_now())} {message}")

    def text(self) -> str:
        """Return the log as text, one line per entry."""
        return "".join(line + "\n" for line in self.lines)


class Instance:
    """One mirel instance: a repository, a database, a selected manifest and what it serves."""

    def __init__(
        self, settings: Settings, hub: Hub | None = None, *, checkpoint: Checkpoint = no_checkpoint
    ) -> None:
        self.settings = settings
        self._checkpoint = checkpoint
        self._limits = ArtifactLimits(max_total_bytes=settings.max_artifact_bytes)
        if hub is None:
            repository = GitRepository(settings.repo)
            # Links in answers (pull requests, branches) lead to this instance's own pages.
            provider = LocalProvider(repository, web_url=settings.web_url)
            hub = Hub(repository, provider, limits=self._limits)
        self.hub = hub
        self.database = open_database(settings.database_url)
        self.engine = self.database.engine
        self.sessions: sessionmaker[Session] = self.database.sessions
        self.unpacked_count = 0
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        try:
            self._lease = Lease(self.engine)
            self._planner = Planner(self.sessions, self.hub.repo)
            self._sources = SourceStore(self.sessions, self.hub.repo, self._limits)
            self._ensure_state()
            self._lease.ensure_row()
            self._recover()
        except SQLAlchemyError as error:
            self.database.close()
            raise self.database.unreachable(error) from error
        except BaseException:
            self.database.close()
            raise

    def __enter__(self) -> Instance:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- state -------------------------------------------------------------------------------

    def _ensure_state(self) -> None:
        """Insert the single instance_state row unless it exists (racing processes tolerated)."""
        with self.sessions() as session:
            if session.get(InstanceState, _STATE_ID) is not None:
                return
            session.add(InstanceState(id=_STATE_ID, manifest=None, manifest_chosen=False))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()

    def _state(self, session: Session) -> InstanceState:
        state = session.get(InstanceState, _STATE_ID)
        assert state is not None, "instance_state is created when the instance opens"
        return state

    def selected_manifest(self) -> str | None:
        """Return the manifest this instance publishes: chosen through the API, else configured."""
        with self.sessions() as session:
            state = self._state(session)
            return state.manifest if state.manifest_chosen else self.settings.manifest

    def select_manifest(self, name: str | None) -> str | None:
        """Choose the manifest to publish (None: no manifest) and return it.

        Raises ManifestNotFound unless the manifest is on the default branch. A manifest that is
        there but invalid can be chosen: deploys then fail and say what is wrong with it. The
        choice takes effect at the next deploy.
        """
        if name is not None:
            check_name(name, "manifest")
            with contextlib.suppress(ManifestInvalid):
                load_manifest(self.hub.snapshot(), name)
        with self.sessions.begin() as session:
            state = self._state(session)
            state.manifest = name
            state.manifest_chosen = True
        return name

    # -- deploys -----------------------------------------------------------------------------

    def deploy(self, triggered_by: str | None, *, force: bool = False) -> DeploymentView:
        """Deploy the default branch's head and return its deployment.

        Returns the last deployment, recording nothing, when the head and the selected manifest
        are those of the last deploy that reached a verdict (unless `force`), and the running
        deployment when another deploy holds the lease (that one looks at the head again when
        it finishes, so this request is served too, though not forced).
        """
        trigger = triggered_by[:_MAX_TRIGGER] if triggered_by else None
        if not force:
            done = self._finished(self.hub.head(), self.selected_manifest())
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
                return self._running_or_last()
            # The lease was let go between the two statements: try to take it again.
        raise ConcurrentUpdate("could not take the deploy lease; try again in a moment")

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

    def _finished(self, commit_sha: str, manifest: str | None) -> DeploymentView | None:
        """Return the last deployment if it reached a verdict on this commit and manifest."""
        with self.sessions() as session:
            state = self._state(session)
            if (
                state.attempted_commit != commit_sha
                or state.attempted_manifest != manifest
                or state.last_deployment_id is None
            ):
                return None
            row = session.get(Deployment, state.last_deployment_id)
            return DeploymentView.from_row(row) if row is not None else None

    def _running_or_last(self) -> DeploymentView:
        """Return the running deployment (waiting a moment for it to appear), else the last."""
        deadline = time.monotonic() + 5.0
        while True:
            with self.sessions() as session:
                running = session.scalars(
                    select(Deployment)
                    .where(Deployment.status.in_(UNFINISHED))
                    .order_by(Deployment.id.desc())
                    .limit(1)
                ).first()
                if running is not None:
                    return DeploymentView.from_row(running)
            # The holder records its deployment right after taking the lease; a holder that
            # found nothing to do never records one, and lets go.
            if self._lease.holder() is None or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        last = self.deployments(limit=1)
        if last:
            return last[0]
        raise ConcurrentUpdate("another process is starting a deploy; ask again in a moment")

    def _sweep_interrupted(self) -> None:
        """Mark ERROR every deployment left unfinished (only called while holding the lease)."""
        with self.sessions.begin() as session:
            rows = session.scalars(select(Deployment).where(Deployment.status.in_(UNFINISHED)))
            for row in rows:
                row.status = ERROR
                row.errors = [*row.errors, INTERRUPTED]
                row.completed_at = _now()
                log.warning("deployment %s was interrupted; marked ERROR", row.id)

    def _recover(self) -> None:
        """Mark deployments of crashed processes ERROR, unless a live process is deploying."""
        token = self._lease.acquire()
        if token is None:
            return  # its holder is alive and will sweep when it next takes the lease
        self._holding(token, lambda _: self._sweep_interrupted())

    def _deploy(
        self, lost: threading.Event, *, token: str, triggered_by: str | None, force: bool
    ) -> DeploymentView:
        """Run one deploy while holding the lease; return its deployment."""
        self._sweep_interrupted()
        snapshot = self.hub.snapshot()
        manifest = self.selected_manifest()
        if not force:
            done = self._finished(snapshot.commit_sha, manifest)
            if done is not None:
                return done
        deployment_id = self._start(snapshot.commit_sha, triggered_by, manifest)
        entry = _Log()
        entry(
            f"deploying {snapshot.commit_sha} with "
            + (f"manifest {manifest}" if manifest else "no manifest (working versions)")
            + (f", triggered by {triggered_by}" if triggered_by else "")
        )
        try:
            self._checkpoint("started")
            desired = self._planner.desired(snapshot, manifest)
            for warning in desired.warnings:
                entry(f"warning: {warning}")
            entry(f"resolved {len(desired.targets)} elements")
            self._checkpoint("resolved")
            commits, problems = self._check_sources(desired, entry, lost)
            self._checkpoint("unpacked")
            if lost.is_set():
                raise LeaseLost("the deploy lease was taken over by another process")
            if problems:
                return self._reported(
                    self._fail(deployment_id, snapshot, manifest, problems, entry, verdict=True)
                )
            return self._reported(self._switch(token, deployment_id, desired, commits, entry))
        except (LeaseLost, MirelError) as error:
            failed = self._fail(
                deployment_id, snapshot, manifest, [str(error)], entry, verdict=False
            )
        except Exception as error:
            log.exception("deployment %s failed", deployment_id)
            message = f"internal error: {type(error).__name__}: {error}".splitlines()[0]
            failed = self._fail(deployment_id, snapshot, manifest, [message], entry, verdict=False)
        return self._reported(failed)

    def _reported(self, deployment: DeploymentView) -> DeploymentView:
        """Tell the repository what this instance serves after a deploy, and return `deployment`.

        Best effort: the report only feeds other instances' pages, so a failure is logged.
        """
        try:
            self.hub.provider.report_instance(self.report(deployment))
        except Exception as error:
            log.warning("could not report this instance's state to the repository: %s", error)
        return deployment

    def report(self, deployment: DeploymentView | None = None) -> InstanceReport:
        """Return what this instance serves now, as it reports it to the repository."""
        with self.sessions() as session:
            state = self._state(session)
            commit_sha, manifest = state.deployed_commit, state.deployed_manifest
            live = {
                row.uuid: row.release or WORKING
                for row in _read_live(session.connection()).values()
            }
        return InstanceReport(
            name=self.settings.name,
            url=self.settings.web_url,
            manifest=manifest,
            commit_sha=commit_sha,
            status=deployment.status if deployment is not None else SUCCESS,
            reported_at=rfc3339(_now()) or "",
            live=live,
        )

    def _start(self, commit_sha: str, triggered_by: str | None, manifest: str | None) -> int:
        """Record a RUNNING deployment and return its id (committed, so others see it)."""
        with self.sessions.begin() as session:
            row = Deployment(
                status=RUNNING,
                commit_sha=commit_sha,
                triggered_by=triggered_by,
                manifest=manifest,
                created_at=_now(),
                changes=[],
                errors=[],
                log="",
            )
            session.add(row)
            session.flush()
            return row.id

    def _check_sources(
        self,
        desired: DesiredState,
        entry: Callable[[str], None] | None,
        lost: threading.Event | None,
    ) -> tuple[dict[str, str | None], list[str]]:
        """Return each source's commit and every problem; unpack missing sources when deploying.

        With `entry` (a deploy's log) new sources are stored; without it (a test deploy) they are
        only read and checked. Problems are collected so that a deploy lists all of them.
        """
        problems = list(desired.problems)
        targets: dict[str, Target] = {}
        for target in desired.targets:
            targets.setdefault(target.source_key, target)
        known = self._sources.known(targets)
        commits: dict[str, str | None] = {}
        batch: list[Unpacked] = []
        unpacked = 0

        def flush() -> int:
            stored = self._sources.store(batch)
            batch.clear()
            for source in stored:
                target = targets[source.stored.key]
                if entry is not None:
                    entry(
                        f"unpacked {target.kind.name} {target.name} {target.label} "
                        f"from {target.path}"
                    )
            self.unpacked_count += len(stored)
            return len(stored)

        for key, target in targets.items():
            stored = known.get(key)
            if stored is not None:
                mismatch = self._sources.mismatch(target, stored)
                if mismatch is not None:
                    problems.append(mismatch)
                commits[key] = stored.source_commit
                continue
            if lost is not None and lost.is_set():
                raise LeaseLost("the deploy lease was taken over by another process")
            try:
                source = self._sources.read(target, desired.commit_sha)
            except MirelError as error:
                problems.append(str(error))
                continue
            commits[key] = source.stored.source_commit
            if entry is None:
                continue  # a test deploy: checked, not kept
            batch.append(source)
            if len(batch) >= _BATCH_SOURCES or sum(map(_size, batch)) >= _BATCH_BYTES:
                unpacked += flush()
        if entry is not None:
            unpacked += flush()
            entry(f"unpacked {_count(unpacked, 'source')}, reused {len(known)}")
        return commits, problems

    def _switch(
        self,
        token: str,
        deployment_id: int,
        desired: DesiredState,
        commits: Mapping[str, str | None],
        entry: _Log,
    ) -> DeploymentView:
        """Switch the live state, the deployed commit and the deployment in one transaction."""
        with self.sessions.begin() as session:
            connection = session.connection()
            # First, so the lease row stays locked (PostgreSQL) until this transaction ends.
            self._lease.renew(token, connection)
            current = _read_live(connection)
            changes = _changes(current, desired.targets)
            wanted = {
                target.uuid: _LiveRow(
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
            # Only the rows that differ are written: a one-pin deploy writes one row.
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
                    .values({name: bindparam(f"new_{name}") for name in _LiveRow._fields[1:]}),
                    changed,
                )
            if added:
                connection.execute(insert(LIVE), added)
            # A working version nothing serves is unlikely to be served again (its element has
            # moved on); releases are kept, since pinning an older one back is common.
            sources = cast(Table, Source.__table__)
            garbage = connection.execute(
                delete(sources).where(
                    sources.c.key.like("tree:%"),
                    sources.c.key.not_in(select(LiveElement.source_key)),
                )
            ).rowcount
            entry(
                f"switched {_count(len(changes), 'change')}"
                + (f"; removed {_count(garbage, 'unused working version')}" if garbage else "")
            )
            state = self._state(session)
            state.deployed_commit = desired.commit_sha
            state.deployed_manifest = desired.manifest
            state.attempted_commit = desired.commit_sha
            state.attempted_manifest = desired.manifest
            state.last_deployment_id = deployment_id
            deployment = session.get(Deployment, deployment_id)
            assert deployment is not None
            deployment.status = SUCCESS
            deployment.completed_at = _now()
            deployment.changes = changes
            deployment.errors = []
            deployment.log = entry.text()
            session.flush()
            view = DeploymentView.from_row(deployment)
            self._checkpoint("switching")
        self._checkpoint("switched")
        return view

    def _fail(
        self,
        deployment_id: int,
        snapshot: CommitSnapshot,
        manifest: str | None,
        errors: list[str],
        entry: _Log,
        *,
        verdict: bool,
    ) -> DeploymentView:
        """Mark a deployment ERROR, leaving the live state alone; return it.

        `verdict` says the errors come from the repository's content, so deploying the same
        commit and manifest again would fail the same way: the deploy is then not repeated.
        """
        entry(f"failed with {_count(len(errors), 'problem')}; nothing changed")
        with self.sessions.begin() as session:
            row = session.get(Deployment, deployment_id)
            assert row is not None
            row.status = ERROR
            row.completed_at = _now()
            row.changes = []
            row.errors = errors
            row.log = entry.text()
            state = self._state(session)
            state.last_deployment_id = deployment_id
            if verdict:
                state.attempted_commit = snapshot.commit_sha
                state.attempted_manifest = manifest
            session.flush()
            return DeploymentView.from_row(row)

    def test_deploy(self, commit_sha: str) -> Plan:
        """Return what deploying a commit would change and every problem; change nothing.

        Raises BranchNotFound when `commit_sha` names no commit, InvalidInput when it is not a
        revision at all. New artifacts are read and checked, not stored.
        """
        if (
            not isinstance(commit_sha, str)
            or not commit_sha
            or len(commit_sha) > _MAX_REVISION
            or not commit_sha.isprintable()
            or any(character.isspace() for character in commit_sha)
        ):
            raise InvalidInput(f"{str(commit_sha)[:80]!r} is not a commit sha; pass a commit id")
        snapshot = self.hub.snapshot(commit_sha)
        manifest = self.selected_manifest()
        desired = self._planner.desired(snapshot, manifest)
        _, problems = self._check_sources(desired, None, None)
        with self.sessions() as session:
            changes = _changes(_read_live(session.connection()), desired.targets)
        return Plan(
            commit_sha=snapshot.commit_sha, manifest=manifest, changes=changes, errors=problems
        )

    def deployments(self, limit: int = 100) -> list[DeploymentView]:
        """Return the last `limit` deployments, newest first."""
        with self.sessions() as session:
            rows = session.scalars(
                select(Deployment).order_by(Deployment.id.desc()).limit(max(0, limit))
            )
            return [DeploymentView.from_row(row) for row in rows]

    def deployment_summaries(self, limit: int = 100) -> list[DeploymentSummary]:
        """Return the last `limit` deployments without their logs and changes, newest first.

        A cold deploy's log has a line per element: a page of 100 deployments reads none of it.
        """
        changes = func.coalesce(func.json_array_length(Deployment.changes), 0)
        with self.sessions() as session:
            rows = session.execute(
                select(
                    Deployment.id,
                    Deployment.status,
                    Deployment.commit_sha,
                    Deployment.triggered_by,
                    Deployment.created_at,
                    Deployment.completed_at,
                    Deployment.manifest,
                    changes,
                    Deployment.errors,
                )
                .order_by(Deployment.id.desc())
                .limit(max(0, limit))
            )
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
                for row in rows
            ]

    def deployment(self, deployment_id: int) -> DeploymentView:
        """Return one deployment; raise DeploymentNotFound."""
        with self.sessions() as session:
            row = (
                session.get(Deployment, deployment_id) if -(2**31) < deployment_id < 2**31 else None
            )
            if row is None:
                raise DeploymentNotFound(
                    f"there is no deployment {deployment_id}; GET /source_control/deployments "
                    "lists them"
                )
            return DeploymentView.from_row(row)

    def info(self) -> dict[str, object]:
        """Return this instance: name, manifest, deployed commit, repository, last deployment."""
        with self.sessions() as session:
            state = self._state(session)
            deployed_commit, deployed_manifest = state.deployed_commit, state.deployed_manifest
        last = self.deployments(limit=1)
        return {
            "name": self.settings.name,
            "manifest": self.selected_manifest(),
            "deployed_commit": deployed_commit,
            "deployed_manifest": deployed_manifest,
            "repository": str(self.hub.repo.path),
            "default_branch": self.hub.default_branch,
            "last_deployment": last[0].to_json() if last else None,
        }

    # -- live state --------------------------------------------------------------------------

    def _live(self, uuid: str | None) -> list[LiveElementView]:
        """Return live elements with their file paths, read in one statement (one snapshot)."""
        statement = select(*LIVE.c, SourceFile.path).outerjoin(
            SourceFile, SourceFile.source_key == LIVE.c.source_key
        )
        if uuid is not None:
            statement = statement.where(LIVE.c.uuid == uuid)
        found: dict[str, tuple[_LiveRow, list[str]]] = {}
        with self.sessions() as session:
            for *columns, path in session.execute(statement):
                _, files = found.setdefault(columns[0], (_LiveRow(*columns), []))
                if path is not None:
                    files.append(path)
        # Sorted here, not in SQL: PostgreSQL's collation and SQLite's byte order disagree.
        return [
            _live_view(row, sorted(files))
            for row, files in sorted(found.values(), key=lambda item: item[0][1:3] + item[0][:1])
        ]

    def live_page(
        self,
        *,
        query: str | None = None,
        kind: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[LiveElementView], int]:
        """Return a page of what this instance serves (without file lists) and how many match.

        `query` matches a part of the name, in any case; `kind` one kind. One indexed query per
        page, so the home page costs the same with 20 elements or 2,000.
        """
        conditions: list[ColumnElement[bool]] = []
        needle = (query or "").strip()
        if needle:
            escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(LIVE.c.name.ilike(f"%{escaped}%", escape="\\"))
        if kind:
            conditions.append(LIVE.c.kind == kind)
        with self.sessions() as session:
            total = session.scalar(select(func.count()).select_from(LIVE).where(*conditions)) or 0
            rows = session.execute(
                select(*LIVE.c)
                .where(*conditions)
                .order_by(LIVE.c.kind, LIVE.c.name, LIVE.c.uuid)
                .offset(max(0, offset))
                .limit(max(0, limit))
            )
            found = [_live_view(_LiveRow(*values), []) for values in rows]
        return found, total

    def live_elements(self) -> list[LiveElementView]:
        """Return every element this instance serves, sorted by kind and name."""
        return self._live(None)

    def live_element(self, uuid: str) -> LiveElementView:
        """Return one element this instance serves; raise ElementNotFound."""
        found = self._live(uuid)
        if not found:
            raise ElementNotFound(
                f"this instance serves no element {uuid[:80]!r}; GET /elements lists what it serves"
            )
        return found[0]

    def live_file(self, uuid: str, path: str) -> bytes:
        """Return one file of an element this instance serves; raise ElementNotFound or
        LiveFileNotFound."""
        with self.sessions() as session:
            content = session.scalar(
                select(SourceFile.content)
                .join(LiveElement, LiveElement.source_key == SourceFile.source_key)
                .where(LiveElement.uuid == uuid, SourceFile.path == path)
            )
        if content is not None:
            return bytes(content)
        element = self.live_element(uuid)
        raise LiveFileNotFound(
            f"{element.name} has no file {path[:200]!r} in what this instance serves; "
            f"GET /elements/{element.uuid} lists its files"
        )

    # -- polling -----------------------------------------------------------------------------

    def start_poller(self) -> None:
        """Deploy now and then every `poll_interval` seconds in a background thread (0: never)."""
        if self.settings.poll_interval <= 0:
            return
        if self._poller is not None and self._poller.is_alive():
            return
        self._stop.clear()
        self._poller = threading.Thread(
            target=self._poll, name=f"mirel-poller-{self.settings.name}", daemon=True
        )
        self._poller.start()

    def _poll(self) -> None:
        reported: str | None = None
        while True:
            try:
                self.deploy("poller")
                reported = None
            except MirelError as error:
                # The same failure every few seconds (an unreachable repository) is logged once.
                if str(error) != reported:
                    log.warning("poller: %s", error)
                    reported = str(error)
            except Exception:
                log.exception("poller: deploy failed")
            if self._stop.wait(self.settings.poll_interval):
                return

    def stop_poller(self) -> None:
        """Stop the background poller, waiting for a deploy it runs to finish (up to 60 s)."""
        self._stop.set()
        poller, self._poller = self._poller, None
        if poller is not None and poller is not threading.current_thread():
            poller.join(timeout=60)

    def close(self) -> None:
        """Stop the poller and close the database connections."""
        self.stop_poller()
        self.database.close()

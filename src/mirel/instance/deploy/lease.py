"""A lease in the `locks` table: one deploy at a time, across every process sharing the database.

Every step is one atomic UPDATE on the lease's row, so it works the same on SQLite (one writer at a
time) and PostgreSQL (row locks, read committed) without advisory locks or `SELECT ... FOR UPDATE`:

- **take**: `UPDATE ... SET holder = me WHERE holder IS NULL OR expires_at < now`; one row changed
  means the lease is ours. The row is inserted first when missing (a duplicate from a racing
  process is simply ignored).
- **renew**: `UPDATE ... SET expires_at = ... WHERE holder = me`; no row changed means another
  process took the lease after it expired, and the caller must stop.
- **request**: someone who finds the lease taken sets `requested` on the row while it is held; the
  holder then runs once more before letting go (see `release`), so a deploy asked for mid-deploy
  (a merge's hook while the poller deploys, say) is not lost.
- **release**: `UPDATE ... SET holder = NULL WHERE holder = me AND NOT requested`; when that
  changes nothing, a request came in: it is cleared and handed to the holder instead.

A holder is `host|pid namespace|pid|process start time|random token`. Besides waiting for the
expiry, a process takes over at once a lease whose holder is a process of the same machine and pid
namespace that no longer exists (a server killed mid-deploy), with a compare-and-swap on the exact
holder value. While a deploy runs, a heartbeat thread renews its lease every third of its time to
live, so a slow step never lets it expire under a live process.

Times come from an injectable `Clock` (the system's by default), so that tests of expiry advance a
fake clock instead of sleeping past a time to live.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import Connection, Engine, Table, false, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from mirel.db.models import Lock
from mirel.errors import LeaseLost

log = logging.getLogger(__name__)

LOCKS = cast(Table, Lock.__table__)
DEFAULT_TTL = 30.0  # seconds
# A deploy still running after this long is stuck (a hung file system, say): its heartbeat stops,
# so the lease expires and another process can deploy instead of waiting for ever.
MAX_HOLD = 3600.0


class Clock(Protocol):
    """Where a lease reads the time: wall-clock seconds for expiry, monotonic ones for durations."""

    def time(self) -> float:
        """Return seconds since the epoch: expiry times are stored so, for every process."""
        ...

    def monotonic(self) -> float:
        """Return seconds from an arbitrary start that never goes back."""
        ...


class SystemClock:
    """The system's clocks."""

    def time(self) -> float:
        """Return `time.time()`."""
        return time.time()

    def monotonic(self) -> float:
        """Return `time.monotonic()`."""
        return time.monotonic()


@dataclass(frozen=True)
class Request:
    """A request made while the lease was held: run again on behalf of `triggered_by`."""

    triggered_by: str | None


def _process_start(pid: int) -> str | None:
    """Return a process's start time in clock ticks since boot, None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stream:
            stat = stream.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: fields restart after the last ')'.
    fields = stat.rpartition(")")[2].split()
    if len(fields) < 20:
        return None
    if fields[0] in ("Z", "X"):
        return None  # a zombie has finished running: its lease is as good as released
    return fields[19]


def _pid_namespace() -> str | None:
    """Return the inode of this process's pid namespace (Linux), None elsewhere."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return None


def make_holder() -> str:
    """Return a new holder value naming this process and one acquisition of the lease."""
    pid = os.getpid()
    return "|".join(
        (
            socket.gethostname(),
            _pid_namespace() or "-",
            str(pid),
            _process_start(pid) or "-",
            secrets.token_hex(8),
        )
    )


def holder_is_dead(holder: str) -> bool:
    """Return whether `holder` names a process of this machine and pid namespace that is gone.

    False whenever that cannot be known for sure (another machine, another namespace, no /proc),
    so such a lease is only ever taken over once it expires.
    """
    parts = holder.split("|")
    if len(parts) != 5:
        return False
    host, namespace, pid_text, started, _ = parts
    if host != socket.gethostname() or namespace == "-" or namespace != _pid_namespace():
        return False
    if not pid_text.isdigit() or started == "-":
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # another thread of this very process: alive by definition
    # A pid that was reused by a new process has another start time.
    return _process_start(pid) != started


class Lease:
    """One named lease in the `locks` table."""

    def __init__(
        self,
        engine: Engine,
        name: str = "deploy",
        ttl: float = DEFAULT_TTL,
        max_hold: float = MAX_HOLD,
        *,
        clock: Clock | None = None,
        beat: float | None = None,
    ) -> None:
        self.engine = engine
        self.name = name
        self.ttl = ttl
        self.max_hold = max_hold
        self.clock: Clock = clock or SystemClock()
        # Seconds between the heartbeat's renewals: a third of the time to live, so that one
        # failed renewal still leaves two before the lease expires.
        self.beat = ttl / 3 if beat is None else beat

    def ensure_row(self) -> None:
        """Insert the lease's row unless it exists (a racing insert from elsewhere is fine)."""
        with self.engine.connect() as connection:
            if connection.scalar(select(LOCKS.c.name).where(LOCKS.c.name == self.name)):
                return
            try:
                connection.execute(
                    insert(LOCKS).values(
                        name=self.name, holder=None, expires_at=None, requested=False
                    )
                )
                connection.commit()
            except IntegrityError:
                connection.rollback()

    def holder(self) -> str | None:
        """Return who holds the lease now, None when it is free or expired."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(LOCKS.c.holder, LOCKS.c.expires_at).where(LOCKS.c.name == self.name)
            ).first()
        if row is None or row.holder is None or (row.expires_at or 0) < self.clock.time():
            return None
        return str(row.holder)

    def acquire(self) -> str | None:
        """Return a holder token when the lease was taken, None when someone else holds it."""
        me = make_holder()
        for _ in range(2):
            now = self.clock.time()
            with self.engine.begin() as connection:
                taken = connection.execute(
                    update(LOCKS)
                    .where(
                        LOCKS.c.name == self.name,
                        or_(LOCKS.c.holder.is_(None), LOCKS.c.expires_at < now),
                    )
                    .values(
                        holder=me, expires_at=now + self.ttl, requested=False, requested_by=None
                    )
                ).rowcount
            if taken == 1:
                return me
            current = self._current_holder()
            if current is None:
                # No row yet (a new database), or it was released between the two statements.
                self.ensure_row()
                continue
            if holder_is_dead(current):
                with self.engine.begin() as connection:
                    taken = connection.execute(
                        update(LOCKS)
                        .where(LOCKS.c.name == self.name, LOCKS.c.holder == current)
                        .values(
                            holder=me,
                            expires_at=self.clock.time() + self.ttl,
                            requested=False,
                            requested_by=None,
                        )
                    ).rowcount
                if taken == 1:
                    log.warning(
                        "took over the %s lease of %s, a process that is gone", self.name, current
                    )
                    return me
            return None
        return None

    def _current_holder(self) -> str | None:
        with self.engine.connect() as connection:
            value: Any = connection.scalar(select(LOCKS.c.holder).where(LOCKS.c.name == self.name))
        return None if value is None else str(value)

    def renew(self, token: str, connection: Connection | None = None) -> None:
        """Extend the lease by its time to live; raise LeaseLost when it is no longer ours.

        Given a connection, the renewal is part of that connection's transaction: on PostgreSQL
        the lease row then stays locked until that transaction ends, so nobody can take the lease
        between the renewal and the commit.
        """
        statement = (
            update(LOCKS)
            .where(LOCKS.c.name == self.name, LOCKS.c.holder == token)
            .values(expires_at=self.clock.time() + self.ttl)
        )
        if connection is not None:
            changed = connection.execute(statement).rowcount
        else:
            with self.engine.begin() as own:
                changed = own.execute(statement).rowcount
        if changed != 1:
            raise LeaseLost(f"the {self.name} lease was taken over by another process")

    def request(self, triggered_by: str | None) -> bool:
        """Return True when the current holder will run again for us; False if nobody holds it."""
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(LOCKS)
                .where(
                    LOCKS.c.name == self.name,
                    LOCKS.c.holder.is_not(None),
                    LOCKS.c.expires_at >= self.clock.time(),
                )
                .values(requested=True, requested_by=(triggered_by or None))
            ).rowcount
        return changed == 1

    def release(self, token: str) -> Request | None:
        """Let go of the lease and return None, or keep it and return the request that came in."""
        with self.engine.begin() as connection:
            released = connection.execute(
                update(LOCKS)
                .where(
                    LOCKS.c.name == self.name,
                    LOCKS.c.holder == token,
                    LOCKS.c.requested == false(),
                )
                .values(holder=None, expires_at=None)
            ).rowcount
            if released == 1:
                return None
            row = connection.execute(
                select(LOCKS.c.requested_by).where(
                    LOCKS.c.name == self.name, LOCKS.c.holder == token
                )
            ).first()
            if row is None:
                return None  # not ours any more: nothing to release
            connection.execute(
                update(LOCKS)
                .where(LOCKS.c.name == self.name, LOCKS.c.holder == token)
                .values(requested=False, requested_by=None, expires_at=self.clock.time() + self.ttl)
            )
            return Request(triggered_by=row.requested_by)

    def force_release(self, token: str) -> None:
        """Let go of the lease whatever was requested (used when the work under it failed)."""
        with self.engine.begin() as connection:
            connection.execute(
                update(LOCKS)
                .where(LOCKS.c.name == self.name, LOCKS.c.holder == token)
                .values(holder=None, expires_at=None, requested=False, requested_by=None)
            )

    @contextmanager
    def heartbeat(self, token: str) -> Iterator[threading.Event]:
        """Renew the lease in the background while the block runs; yield the "lost" event.

        The event is set when a renewal finds the lease taken over; the work under the lease
        checks it between steps. A renewal that fails for another reason (the database is busy)
        is retried at the next beat (`self.beat` seconds later, in real time). After
        `max_hold` seconds the beats stop, and the lease runs out unless the block ends first.
        """
        lost = threading.Event()
        stop = threading.Event()
        give_up = self.clock.monotonic() + self.max_hold

        def renew_until_stopped() -> None:
            while not stop.wait(self.beat):
                if self.clock.monotonic() > give_up:
                    log.error(
                        "held the %s lease over %s s; letting it expire", self.name, self.max_hold
                    )
                    return
                try:
                    self.renew(token)
                except LeaseLost:
                    lost.set()
                    return
                except DBAPIError as error:
                    log.warning("could not renew the %s lease: %s", self.name, error)

        thread = threading.Thread(
            target=renew_until_stopped, name=f"mirel-lease-{self.name}", daemon=True
        )
        thread.start()
        try:
            yield lost
        finally:
            stop.set()
            thread.join()

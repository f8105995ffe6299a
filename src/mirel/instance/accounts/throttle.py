"""Sign-in throttling, per account and per client address.

The first `FREE_FAILURES` wrong passwords in a row cost nothing; each one after that makes the
next attempt wait twice as long (1 s, 2 s, 4 s, ... up to `MAX_DELAY`), and while it waits no
attempt is even checked, so the right password does not work at once either. An account reaching
`LOCKOUT_FAILURES` is locked until an admin unlocks it (`mirel user unlock`, *Settings → Users*);
an address is only slowed, never locked, since many people may share one. A successful sign-in
clears both counters. Every failure and lockout is logged with the account and the address.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mirel.db.models import SignInThrottle, as_utc
from mirel.errors import SignInThrottled

log = logging.getLogger("mirel.signin")

FREE_FAILURES = 3
MAX_DELAY = timedelta(minutes=5)
LOCKOUT_FAILURES = 20


def _account(username: str) -> str:
    return f"user:{username.lower()[:150]}"


def _address(address: str) -> str:
    return f"address:{address[:150]}"


def _delay(failures: int) -> timedelta:
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(timedelta(seconds=2 ** (failures - FREE_FAILURES)), MAX_DELAY)


def check(sessions: sessionmaker[Session], username: str, address: str) -> None:
    """Raise SignInThrottled when the account is locked or either counter says to wait."""
    now = datetime.now(UTC)
    with sessions() as session:
        rows = session.scalars(
            select(SignInThrottle).where(
                SignInThrottle.key.in_((_account(username), _address(address)))
            )
        ).all()
    for row in rows:
        if row.locked:
            raise SignInThrottled(
                f"the account {username[:64]!r} is locked after {row.failures} failed sign-ins; "
                "ask an admin to unlock it",
                retry_after=None,
            )
        if row.blocked_until is not None and as_utc(row.blocked_until) > now:
            wait = math.ceil((as_utc(row.blocked_until) - now).total_seconds())
            raise SignInThrottled(
                f"too many failed sign-ins; try again in {wait} second{'s' if wait != 1 else ''}",
                retry_after=wait,
            )


def failed(sessions: sessionmaker[Session], username: str, address: str) -> None:
    """Count a failed sign-in against the account and the address."""
    now = datetime.now(UTC)
    with sessions.begin() as session:
        for key in (_account(username), _address(address)):
            row = session.get(SignInThrottle, key, with_for_update=True)
            if row is None:
                row = SignInThrottle(key=key, failures=0, locked=False)
                session.add(row)
            row.failures += 1
            delay = _delay(row.failures)
            row.blocked_until = now + delay if delay else None
            if key.startswith("user:") and row.failures >= LOCKOUT_FAILURES and not row.locked:
                row.locked = True
                log.warning(
                    "sign-in: account %r locked after %d failures (last from %s)",
                    username[:64],
                    row.failures,
                    address,
                )
    log.warning("sign-in failed for %r from %s", username[:64], address)


def succeeded(sessions: sessionmaker[Session], username: str, address: str) -> None:
    """Clear the counters of an account and address that signed in."""
    with sessions.begin() as session:
        for key in (_account(username), _address(address)):
            row = session.get(SignInThrottle, key)
            if row is not None:
                session.delete(row)


def unlock(sessions: sessionmaker[Session], username: str) -> bool:
    """Lift an account's lockout and wait; return whether there was anything to lift."""
    with sessions.begin() as session:
        row = session.get(SignInThrottle, _account(username))
        if row is None:
            return False
        session.delete(row)
    log.warning("sign-in: account %r unlocked", username[:64])
    return True

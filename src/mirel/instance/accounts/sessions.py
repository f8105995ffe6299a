"""Sign-in sessions of the web UI's users, stored in the instance database.

A session is a random secret in an `HttpOnly`, `SameSite` cookie; the database keeps its sha256,
as it does for API tokens, with the session's CSRF token, the Releases tab's pending pin changes
(the draft) and one-time messages for the next page (the flash). Sessions live in the database,
so every server process of an instance shares them.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session, sessionmaker

from mirel.db.models import DraftChange, FlashMessage, User, WebSession, as_utc
from mirel.instance.accounts.lookup import first_row
from mirel.instance.accounts.users import Role, UserInfo

SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class SessionInfo:
    """A signed-in session: its user, CSRF token, draft and pending messages."""

    id_hash: str
    user: UserInfo
    csrf_token: str
    draft: list[DraftChange]
    flash: list[FlashMessage]


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def open_session(sessions: sessionmaker[Session], user: UserInfo) -> str:
    """Start a session for `user` and return its cookie secret; expired sessions are removed."""
    secret = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with sessions.begin() as session:
        session.execute(delete(WebSession).where(WebSession.expires_at < now))
        session.add(
            WebSession(
                id_hash=_hash_secret(secret),
                user_id=user.id,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
                draft=[],
                flash=[],
            )
        )
    return secret


# The lookup every page request makes, built once (accounts/lookup.py).
_LOOKUP = (
    select(
        WebSession.id_hash,
        WebSession.csrf_token,
        WebSession.expires_at,
        WebSession.draft,
        WebSession.flash,
        User.id,
        User.username,
        User.email,
        User.role,
        User.created_at,
    )
    .join(User, User.id == WebSession.user_id)
    .where(WebSession.id_hash == bindparam("id_hash"))
)


def load_session(sessions: sessionmaker[Session], secret: str | None) -> SessionInfo | None:
    """Return the live session whose cookie secret is `secret`, or None."""
    if not secret or len(secret) > 200:
        return None
    found = first_row(sessions, _LOOKUP, {"id_hash": _hash_secret(secret)})
    if found is None:
        return None
    id_hash, csrf_token, expires_at, draft, flash, user_id, username, email, role, created_at = (
        tuple(found)
    )
    if as_utc(expires_at) <= datetime.now(UTC):
        return None
    return SessionInfo(
        id_hash,
        UserInfo(user_id, username, email, Role(role), as_utc(created_at)),
        csrf_token,
        list(draft or []),
        list(flash or []),
    )


def close_session(sessions: sessionmaker[Session], id_hash: str) -> None:
    """End a session (signing out)."""
    with sessions.begin() as session:
        session.execute(delete(WebSession).where(WebSession.id_hash == id_hash))


def save_draft(sessions: sessionmaker[Session], id_hash: str, draft: list[DraftChange]) -> None:
    """Replace a session's pending pin changes."""
    update_draft(sessions, id_hash, lambda _: draft)


# One draft update at a time in this process (SQLite); PostgreSQL also locks the session's row,
# for several processes. A picker that posts twice at once must not lose either change.
_DRAFTS = threading.Lock()


def update_draft(
    sessions: sessionmaker[Session],
    id_hash: str,
    change: Callable[[list[DraftChange]], list[DraftChange]],
) -> list[DraftChange]:
    """Replace a session's pending pin changes by `change(current)` and return them.

    Read and written in one transaction, so concurrent changes of one session are applied one
    after the other. An exception from `change` leaves the draft as it was.
    """
    with _DRAFTS, sessions.begin() as session:
        row = session.get(WebSession, id_hash, with_for_update=True)
        if row is None:
            return []
        draft = change(list(row.draft or []))
        row.draft = draft
        return draft


def add_flash(sessions: sessionmaker[Session], id_hash: str, message: FlashMessage) -> None:
    """Queue a message for the session's next page."""
    with sessions.begin() as session:
        row = session.get(WebSession, id_hash)
        if row is not None:
            row.flash = [*(row.flash or []), message][-5:]


def take_flash(sessions: sessionmaker[Session], id_hash: str) -> list[FlashMessage]:
    """Return the session's queued messages and forget them."""
    with sessions.begin() as session:
        row = session.get(WebSession, id_hash)
        if row is None or not row.flash:
            return []
        messages = list(row.flash)
        row.flash = []
        return messages

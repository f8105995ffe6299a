"""Local users of the web UI, stored in the instance database.

- A user has a name, an optional email (the author address of the commits they make) and one
  role: `viewer` reads, `editor` also makes change requests, `admin` also merges pull requests,
  deploys, chooses the manifest and manages users and tokens.
- Passwords are stored only as argon2id hashes (argon2-cffi, RFC 9106's parameters).

Their sign-ins are in `sessions.py`.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mirel.db.models import User, WebSession, as_utc
from mirel.errors import InvalidInput, LastAdmin, UserExists, UserNotFound
from mirel.git.repository import Author


class Role(StrEnum):
    """What a user may do; each role includes the ones before it."""

    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Return the role's place: viewer 0, editor 1, admin 2."""
        return list(Role).index(self)

    @classmethod
    def parse(cls, text: str) -> Role:
        """Return the role named `text`; raise InvalidInput listing the roles."""
        try:
            return cls(text)
        except ValueError:
            roles = ", ".join(role.value for role in cls)
            raise InvalidInput(f"unknown role {text!r}; use one of: {roles}") from None


USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
_hasher = PasswordHasher()
# Verified when the user is unknown, so that a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class UserInfo:
    """A user as the pages and the CLI show it: never the password hash."""

    id: int
    username: str
    email: str | None
    role: Role
    created_at: datetime

    def can(self, role: Role) -> bool:
        """Return whether this user holds `role` or a higher one."""
        return self.role.rank >= role.rank

    @property
    def author(self) -> Author:
        """Return the git author of the changes this user makes."""
        return Author(self.username, self.email or f"{self.username}@users.mirel.invalid")

    def to_json(self) -> dict[str, int | str | None]:
        """Return the user's public description."""
        return {
            "id": self.id,
            "username": self.username,
            "email": self.email,
            "role": str(self.role),
            "created_at": as_utc(self.created_at).isoformat(),
        }


def user_info(row: User) -> UserInfo:
    """Return the public description of a `users` row."""
    return UserInfo(row.id, row.username, row.email, Role(row.role), as_utc(row.created_at))


def check_username(username: str) -> str:
    """Return the user name; raise InvalidInput unless it matches the allowed pattern."""
    if not USERNAME.fullmatch(username):
        raise InvalidInput(
            f"user name {username[:80]!r} is not allowed; use 1 to 64 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit"
        )
    return username


def check_password(password: str) -> str:
    """Return the password; raise InvalidInput when it is too short or too long."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters; choose a longer one"
            if len(password) < MIN_PASSWORD
            else f"a password has at most {MAX_PASSWORD} characters"
        )
    return password


# No control character (NUL above all) either: git and the databases could not keep it.
_EMAIL = re.compile(r"[^\s<>@\x00-\x1f\x7f]+@[^\s<>@\x00-\x1f\x7f]+")


def check_email(email: str | None) -> str | None:
    """Return the email (None when empty); raise InvalidInput when git could not use it."""
    email = (email or "").strip()
    if not email:
        return None
    if len(email) > 200 or not _EMAIL.fullmatch(email):
        raise InvalidInput(f"{email[:80]!r} is not an email address; write it like ada@example.com")
    return email


def hash_password(password: str) -> str:
    """Return the argon2id hash stored for `password`."""
    return _hasher.hash(check_password(password))


def create_user(
    sessions: sessionmaker[Session],
    username: str,
    password: str,
    role: Role | str,
    email: str | None = None,
) -> UserInfo:
    """Create a user and return it; raise UserExists, or InvalidInput for bad values."""
    return put_user(sessions, username, hash_password(password), role, email, replace=False)


def put_user(
    sessions: sessionmaker[Session],
    username: str,
    password_hash: str,
    role: Role | str,
    email: str | None = None,
    *,
    replace: bool,
) -> UserInfo:
    """Store a user with an existing password hash (one password valid on several instances).

    With `replace`, an existing user of that name takes the new hash, role and email, and its
    sessions end; otherwise an existing user is refused with UserExists.
    """
    check_username(username)
    chosen = role if isinstance(role, Role) else Role.parse(role)
    email = check_email(email)
    with sessions.begin() as session:
        row = session.scalars(select(User).where(User.username == username)).first()
        if row is not None and not replace:
            raise UserExists(f"user {username} already exists; choose another name")
        if row is None:
            row = User(username=username, created_at=datetime.now(UTC))
            session.add(row)
        else:
            session.execute(delete(WebSession).where(WebSession.user_id == row.id))
        row.password_hash, row.role, row.email = password_hash, str(chosen), email
        try:
            session.flush()
        except IntegrityError as error:  # a racing process created the same name
            raise UserExists(f"user {username} already exists; choose another name") from error
        return user_info(row)


def list_users(sessions: sessionmaker[Session]) -> list[UserInfo]:
    """Return every user, by name."""
    with sessions() as session:
        return [user_info(row) for row in session.scalars(select(User).order_by(User.username))]


def _row_named(session: Session, username: str) -> User:
    row = session.scalars(select(User).where(User.username == username)).first()
    if row is None:
        raise UserNotFound(
            f"there is no user {username[:80]!r}", cli_hint="'mirel user list' shows them"
        )
    return row


def _check_admin_left(session: Session, row: User) -> None:
    """Raise LastAdmin when `row` is the only admin."""
    if row.role != Role.ADMIN:
        return
    # Locking the admins' rows (PostgreSQL) makes two admins demoting each other at once wait for
    # one another, so that the second sees the first's change and keeps the last admin.
    admins = session.scalars(select(User.id).where(User.role == Role.ADMIN).with_for_update()).all()
    if len(admins) <= 1:
        raise LastAdmin(
            f"{row.username} is the only admin; make another user admin first, so that someone "
            "can still merge and manage users"
        )


def set_role(sessions: sessionmaker[Session], username: str, role: Role | str) -> UserInfo:
    """Give a user another role and return it; the last admin keeps theirs."""
    chosen = role if isinstance(role, Role) else Role.parse(role)
    with sessions.begin() as session:
        row = _row_named(session, username)
        if chosen is not Role.ADMIN:
            _check_admin_left(session, row)
        row.role = str(chosen)
        return user_info(row)


def set_password(sessions: sessionmaker[Session], username: str, password: str) -> UserInfo:
    """Give a user a new password and return it; their sessions end."""
    password_hash = hash_password(password)
    with sessions.begin() as session:
        row = _row_named(session, username)
        row.password_hash = password_hash
        session.execute(delete(WebSession).where(WebSession.user_id == row.id))
        return user_info(row)


def delete_user(sessions: sessionmaker[Session], username: str) -> UserInfo:
    """Delete a user (and their sessions) and return who it was; the last admin stays."""
    with sessions.begin() as session:
        row = _row_named(session, username)
        _check_admin_left(session, row)
        info = user_info(row)
        session.execute(delete(WebSession).where(WebSession.user_id == row.id))
        session.delete(row)
        return info


def authenticate(sessions: sessionmaker[Session], username: str, password: str) -> UserInfo | None:
    """Return the user when the name and password match, else None (in similar time)."""
    with sessions() as session:
        row = (
            session.scalars(select(User).where(User.username == username)).first()
            if USERNAME.fullmatch(username) and len(password) <= MAX_PASSWORD
            else None
        )
        try:
            _hasher.verify(row.password_hash if row is not None else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        return user_info(row) if row is not None else None

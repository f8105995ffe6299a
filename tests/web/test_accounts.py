"""Local users and sessions, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from mirel.db.engine import open_database
from mirel.db.models import WebSession
from mirel.errors import InvalidInput, LastAdmin, UserExists, UserNotFound
from mirel.instance.accounts.sessions import (
    add_flash,
    close_session,
    load_session,
    open_session,
    save_draft,
    take_flash,
    update_draft,
)
from mirel.instance.accounts.users import (
    Role,
    authenticate,
    create_user,
    delete_user,
    list_users,
    put_user,
    set_password,
    set_role,
)


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Return the sessions of a new, migrated database (SQLite, then PostgreSQL)."""
    with open_database(database_url) as database:
        yield database.sessions


def test_a_user_signs_in_with_the_right_password_only(sessions: sessionmaker[Session]) -> None:
    created = create_user(sessions, "ada", "s3cret-pass", "editor", "ada@example.com")
    assert created.role is Role.EDITOR
    assert str(created.author) == "ada <ada@example.com>"
    found = authenticate(sessions, "ada", "s3cret-pass")
    assert found is not None
    assert found.id == created.id
    assert authenticate(sessions, "ada", "wrong-pass") is None
    assert authenticate(sessions, "nobody", "s3cret-pass") is None
    assert authenticate(sessions, "../etc", "s3cret-pass") is None


def test_passwords_are_kept_as_argon2_hashes_only(sessions: sessionmaker[Session]) -> None:
    create_user(sessions, "ada", "s3cret-pass", "viewer")
    with sessions() as session:
        from mirel.db.models import User

        row = session.query(User).one()
    assert row.password_hash.startswith("$argon2id$")
    assert "s3cret-pass" not in row.password_hash


@pytest.mark.parametrize(
    ("username", "password", "role", "email", "message"),
    [
        ("a b", "long-enough", "viewer", None, "is not allowed"),
        ("", "long-enough", "viewer", None, "is not allowed"),
        ("-dash", "long-enough", "viewer", None, "is not allowed"),
        ("x" * 65, "long-enough", "viewer", None, "is not allowed"),
        ("ok", "short", "viewer", None, "8 to 1024 characters"),
        ("ok", "long-enough", "owner", None, "unknown role 'owner'"),
        ("ok", "long-enough", "viewer", "not an email", "is not an email address"),
        ("ok", "long-enough", "viewer", "a<b>@c", "is not an email address"),
    ],
)
def test_bad_user_fields_are_refused(
    sessions: sessionmaker[Session],
    username: str,
    password: str,
    role: str,
    email: str | None,
    message: str,
) -> None:
    with pytest.raises(InvalidInput, match=message):
        create_user(sessions, username, password, role, email)
    assert list_users(sessions) == []


def test_a_taken_name_is_refused(sessions: sessionmaker[Session]) -> None:
    create_user(sessions, "ada", "s3cret-pass", "viewer")
    with pytest.raises(UserExists, match="user ada already exists"):
        create_user(sessions, "ada", "other-pass", "admin")
    assert [user.role for user in list_users(sessions)] == [Role.VIEWER]


def test_the_last_admin_cannot_be_demoted_or_deleted(sessions: sessionmaker[Session]) -> None:
    create_user(sessions, "ada", "s3cret-pass", "admin")
    with pytest.raises(LastAdmin, match="ada is the only admin"):
        set_role(sessions, "ada", "editor")
    with pytest.raises(LastAdmin):
        delete_user(sessions, "ada")
    create_user(sessions, "bob", "s3cret-pass", "admin")
    assert set_role(sessions, "ada", "viewer").role is Role.VIEWER
    delete_user(sessions, "ada")
    assert [user.username for user in list_users(sessions)] == ["bob"]
    with pytest.raises(UserNotFound):
        delete_user(sessions, "ada")


def test_a_session_carries_its_user_csrf_token_draft_and_messages(
    sessions: sessionmaker[Session],
) -> None:
    user = create_user(sessions, "ada", "s3cret-pass", "editor")
    secret = open_session(sessions, user)
    session = load_session(sessions, secret)
    assert session is not None
    assert session.user.username == "ada"
    assert len(session.csrf_token) >= 40
    save_draft(sessions, session.id_hash, [{"manifest": "prod", "uuid": "x", "release": "1.0.0"}])
    add_flash(sessions, session.id_hash, {"message": "done"})
    again = load_session(sessions, secret)
    assert again is not None
    assert again.draft[0]["release"] == "1.0.0"
    assert take_flash(sessions, session.id_hash) == [{"message": "done"}]
    assert take_flash(sessions, session.id_hash) == []  # shown once
    assert load_session(sessions, secret + "x") is None
    assert load_session(sessions, None) is None
    close_session(sessions, session.id_hash)
    assert load_session(sessions, secret) is None


def test_an_expired_session_is_not_accepted(sessions: sessionmaker[Session]) -> None:
    user = create_user(sessions, "ada", "s3cret-pass", "editor")
    secret = open_session(sessions, user)
    with sessions.begin() as session:
        session.execute(
            update(WebSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert load_session(sessions, secret) is None


def test_a_new_password_ends_the_users_sessions(sessions: sessionmaker[Session]) -> None:
    user = create_user(sessions, "ada", "s3cret-pass", "editor")
    secret = open_session(sessions, user)
    set_password(sessions, "ada", "another-pass")
    assert load_session(sessions, secret) is None
    assert authenticate(sessions, "ada", "another-pass") is not None
    secret = open_session(sessions, user)
    put_user(sessions, "ada", "$argon2id$v=19$m=65536,t=3,p=4$x$y", "admin", replace=True)
    assert load_session(sessions, secret) is None
    with pytest.raises(UserExists):
        put_user(sessions, "ada", "$argon2id$x", "admin", replace=False)


def test_concurrent_draft_changes_of_one_session_are_all_kept(
    sessions: sessionmaker[Session],
) -> None:
    user = create_user(sessions, "ada", "s3cret-pass", "editor")
    session = load_session(sessions, open_session(sessions, user))
    assert session is not None
    start = threading.Barrier(8)

    def add(index: int) -> None:
        start.wait()

        def change(draft: list[dict[str, object]]) -> list[dict[str, object]]:
            time.sleep(0.01)  # widen the window a lost update would need
            return [*draft, {"manifest": f"m{index}", "uuid": "u", "release": "latest"}]

        update_draft(sessions, session.id_hash, change)

    threads = [threading.Thread(target=add, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with sessions() as db:
        row = db.get(WebSession, session.id_hash)
        assert row is not None
        assert sorted(change["manifest"] for change in row.draft) == [f"m{i}" for i in range(8)]

"""`mirel up`'s token and admin login: one secret for the three instances, new every run."""

from __future__ import annotations

from pathlib import Path

from mirel.cli.fleet import ADMIN_USER, TOKEN_NAME, admin_credentials, plan
from mirel.db.engine import open_database
from mirel.instance.accounts.tokens import authenticate as token_info
from mirel.instance.accounts.users import Role, authenticate, create_user, list_users


def _users_and_check(database_url: str, password: str, token: str) -> list[str]:
    with open_database(database_url) as database:
        sessions = database.sessions
        user = authenticate(sessions, ADMIN_USER, password)
        assert user is not None
        assert user.role is Role.ADMIN
        info = token_info(sessions, token)
        assert info is not None
        assert info.name == TOKEN_NAME
        return [item.username for item in list_users(sessions)]


def test_each_run_gives_one_new_login_and_token_valid_on_every_instance(tmp_path: Path) -> None:
    members = plan(tmp_path, 8600)
    first = admin_credentials(members)
    for member in members:
        assert _users_and_check(member.database_url, first.password, first.token) == ["admin"]
    # An operator's own user survives the next run; the admin's old password does not.
    with open_database(members[0].database_url) as database:
        create_user(database.sessions, "eve", "eve-password", "editor")
    second = admin_credentials(members)
    assert second.password != first.password
    assert second.token != first.token
    assert _users_and_check(members[0].database_url, second.password, second.token) == [
        "admin",
        "eve",
    ]
    with open_database(members[1].database_url) as database:
        assert authenticate(database.sessions, ADMIN_USER, first.password) is None
        assert token_info(database.sessions, first.token) is None

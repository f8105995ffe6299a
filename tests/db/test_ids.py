"""Ids are never reused: a revoked token's, a removed user's or a deleted deployment's id never
comes to name another row, on SQLite and on PostgreSQL, in new databases and in upgraded ones."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, delete, insert, inspect, select, text

from mirel.db.engine import MIGRATIONS, Database, open_database
from mirel.db.models import Deployment, Token, User, WebSession
from mirel.errors import NotFound
from mirel.hub import Hub
from mirel.instance.accounts.tokens import create_token, list_tokens, revoke_token
from mirel.instance.accounts.users import Role, create_user, delete_user, list_users
from mirel.instance.deployments import DeploymentStore
from mirel.instance.state import Attempt, StateStore

READ = ["source_control:read"]
PASSWORD = "a long enough password"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    with open_database(database_url) as database:
        yield database


# -- a database made by this version ----------------------------------------------------------


def test_a_revoked_tokens_id_names_no_later_token(database_url: str) -> None:
    with open_database(database_url) as database:
        create_token(database.sessions, "one", READ)
        create_token(database.sessions, "two", READ)
        assert revoke_token(database.sessions, 2).name == "two"
    # `mirel token create` after `mirel token revoke 2`: another process, the same database.
    with open_database(database_url) as database:
        create_token(database.sessions, "three", READ)
        assert [(info.id, info.name) for info in list_tokens(database.sessions)] == [
            (1, "one"),
            (3, "three"),
        ]
        # Revoking 2 again revokes nothing, rather than the token made since.
        with pytest.raises(NotFound):
            revoke_token(database.sessions, 2)
        assert len(list_tokens(database.sessions)) == 2


def test_a_removed_users_id_names_no_later_user(database: Database) -> None:
    create_user(database.sessions, "ann", PASSWORD, Role.ADMIN)
    create_user(database.sessions, "bob", PASSWORD, Role.VIEWER)
    delete_user(database.sessions, "bob")
    create_user(database.sessions, "cy", PASSWORD, Role.EDITOR)
    assert [(user.id, user.username) for user in list_users(database.sessions)] == [
        (1, "ann"),
        (3, "cy"),
    ]


def test_a_deleted_deployments_id_names_no_later_deployment(database: Database, hub: Hub) -> None:
    deployments = DeploymentStore(database.sessions, StateStore(database.sessions, hub, None))
    attempt = Attempt(hub.head(), "prod")
    assert [deployments.start(attempt, "test") for _ in range(2)] == [1, 2]
    # mirel never deletes a deployment; someone pruning the table by hand does.
    with database.sessions.begin() as session:
        session.execute(delete(Deployment).where(Deployment.id == 2))
    assert deployments.start(attempt, "test") == 3


# -- a database made before ids were kept: migrations 0001 and 0002 -------------------------------


def _upgrade(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _database_at_0002(url: str) -> None:
    """Make the database at `url` as mirel did before 0003, holding three of each kind of row."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            _upgrade(connection, "0002")
            for number in (1, 2, 3):
                connection.execute(
                    insert(Token).values(
                        name=f"token {number}",
                        token_hash=f"{number:064x}",
                        scopes=READ,
                        created_at=NOW,
                    )
                )
                connection.execute(
                    insert(User).values(
                        username=f"user{number}",
                        email=None,
                        role="admin",
                        password_hash="not a hash",
                        created_at=NOW,
                    )
                )
                connection.execute(
                    insert(Deployment).values(
                        status="SUCCESS",
                        commit_sha=None,
                        triggered_by="test",
                        manifest="prod",
                        created_at=NOW,
                        completed_at=NOW,
                        changes=[],
                        errors=[],
                        log=f"deploy {number}",
                    )
                )
                connection.execute(
                    insert(WebSession).values(
                        id_hash=f"{number:064x}",
                        user_id=number,
                        csrf_token="csrf",
                        created_at=NOW,
                        expires_at=NOW,
                        draft=[],
                        flash=[],
                    )
                )
    finally:
        engine.dispose()


def _rows(database: Database) -> dict[str, list[tuple[object, ...]]]:
    with database.engine.connect() as connection:
        return {
            "tokens": [tuple(row) for row in connection.execute(select(Token.id, Token.name))],
            "users": [tuple(row) for row in connection.execute(select(User.id, User.username))],
            "deployments": [
                tuple(row) for row in connection.execute(select(Deployment.id, Deployment.log))
            ],
            "web_sessions": [tuple(row) for row in connection.execute(select(WebSession.user_id))],
        }


def _newest_revision() -> str:
    """Return the newest migration's revision: where every upgrade ends."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


NEWEST = _newest_revision()


def _revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return connection.scalar(text("SELECT version_num FROM alembic_version"))


def _ids_after_deleting_the_highest(database: Database) -> dict[str, int]:
    """Delete each table's row 3, add one, and return the id each new row got."""
    with database.sessions.begin() as session:
        session.execute(delete(WebSession).where(WebSession.user_id == 3))
        for model in (Token, User, Deployment):
            session.execute(delete(model).where(model.id == 3))
    create_token(database.sessions, "new", READ)
    create_user(database.sessions, "new", PASSWORD, Role.VIEWER)
    with database.sessions.begin() as session:
        session.add(
            Deployment(status="SUCCESS", manifest="prod", created_at=NOW, changes=[], errors=[])
        )
    with database.engine.connect() as connection:
        return {
            table: connection.scalar(select(model.id).order_by(model.id.desc()).limit(1))
            for table, model in (("tokens", Token), ("users", User), ("deployments", Deployment))
        }


def test_an_upgraded_database_keeps_its_rows_and_reuses_no_id(database_url: str) -> None:
    _database_at_0002(database_url)
    with open_database(database_url) as database:
        assert _revision(database) == NEWEST
        assert _rows(database) == {
            "tokens": [(1, "token 1"), (2, "token 2"), (3, "token 3")],
            "users": [(1, "user1"), (2, "user2"), (3, "user3")],
            "deployments": [(1, "deploy 1"), (2, "deploy 2"), (3, "deploy 3")],
            # Rebuilding `users` must not take the sign-ins that point at it along.
            "web_sessions": [(1,), (2,), (3,)],
        }
    with open_database(database_url) as database:
        assert _ids_after_deleting_the_highest(database) == {
            "tokens": 4,
            "users": 4,
            "deployments": 4,
        }


# Each waits for the `go` file, so that all of them migrate at the same moment.
_OPEN_ON_GO = """
import sys, time
from pathlib import Path
from mirel.db.engine import open_database
print("ready", flush=True)
while not Path(sys.argv[2]).exists():
    time.sleep(0.001)
open_database(sys.argv[1]).close()
"""


@pytest.mark.slow
def test_processes_starting_together_upgrade_a_database_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'instance.db'}"
    _database_at_0002(url)
    go = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_ON_GO, url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline() == "ready\n"
        go.touch()
        results = [process.communicate(timeout=120) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert [process.returncode for process in processes] == [0] * 4, results
    with open_database(url) as database:
        assert _revision(database) == NEWEST
        # Nothing left half-way: no table of a rebuild that another process finished first.
        assert sorted(inspect(database.engine).get_table_names()) == [
            "alembic_version",
            "deployments",
            "element_metadata",
            "instance_state",
            "live_elements",
            "locks",
            "sign_in_throttle",
            "source_control",
            "source_files",
            "sources",
            "tokens",
            "users",
            "web_sessions",
            "webhook_deliveries",
        ]
        assert _rows(database)["web_sessions"] == [(1,), (2,), (3,)]
        assert _ids_after_deleting_the_highest(database)["tokens"] == 4

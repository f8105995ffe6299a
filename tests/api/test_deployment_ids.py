"""Deployment ids are the seed API's uuids, also for deployments recorded before mirel had them
(migration 0007), and mirel's numbers stay: never reused, still taken by the API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from api_support import Api, Seed, TokenMaker, data, open_instance

from mirel.db.engine import MIGRATIONS, open_database
from mirel.instance.accounts.tokens import create_token
from mirel.instance.deployments import DeploymentStore
from mirel.instance.state import Attempt, StateStore
from mirel.server import create_app
from support import AUTHOR, merge

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
# The deployments table as migration 0006 left it.
OLD = sa.table(
    "deployments",
    sa.column("id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("commit_sha", sa.String),
    sa.column("triggered_by", sa.String),
    sa.column("manifest", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("completed_at", sa.DateTime(timezone=True)),
    sa.column("changes", sa.JSON),
    sa.column("errors", sa.JSON),
    sa.column("log", sa.Text),
)


def _database_at_0006(url: str) -> None:
    """Make a database as mirel 0006 did, with deployments 1 to 4, the 4th deleted by hand."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, "0006")
            for number in (1, 2, 3, 4):
                connection.execute(
                    sa.insert(OLD).values(
                        status="SUCCESS",
                        commit_sha=None,
                        triggered_by="poller" if number == 1 else "ci (token 1)",
                        manifest="prod",
                        created_at=NOW,
                        completed_at=NOW,
                        changes=[],
                        errors=[],
                        log=f"deploy {number}",
                    )
                )
            connection.execute(sa.delete(OLD).where(OLD.c.id == 4))
    finally:
        engine.dispose()


def test_an_upgraded_database_gives_each_deployment_a_uuid_and_keeps_its_number(
    database_url: str, seed: Seed
) -> None:
    _database_at_0006(database_url)
    with open_database(database_url) as database:
        deployments = DeploymentStore(
            database.sessions, StateStore(database.sessions, seed.hub, None)
        )
        old = deployments.recent()
        assert [(item.id, item.log) for item in old] == [
            (3, "deploy 3"),
            (2, "deploy 2"),
            (1, "deploy 1"),
        ]
        uuids = [item.uuid for item in old]
        assert len(set(uuids)) == 3
        assert all(str(uuid.UUID(value)) == value for value in uuids)
        assert [item.caller for item in old] == ["user_token1", "user_token1", None]
        # The number of the deployment deleted by hand is not handed out again.
        assert deployments.start(Attempt(seed.hub.head(), "prod"), "test") == 5
        new = deployments.get(5)
        assert new.uuid not in uuids
        assert deployments.get(new.uuid) == new
        assert deployments.get(uuids[0]).id == 3


def test_the_api_answers_an_old_deployment_by_its_uuid_and_its_number(
    database_url: str, seed: Seed
) -> None:
    _database_at_0006(database_url)
    instance = open_instance(seed, database_url)
    api = Api(create_app(instance))
    try:
        token = create_token(instance.sessions, "reader", ["source_control:deploy"])
        listed = data(api.get("/source_control/deployments", token))["deployments"]
        assert [(item["number"], item["trigger"], item["triggered_by"]) for item in listed] == [
            (3, "ci (token 1)", "user_token1"),
            (2, "ci (token 1)", "user_token1"),
            (1, "poller", None),
        ]
        for item in listed:
            assert data(api.get(f"/source_control/deployment/{item['id']}", token)) == item
            assert data(api.get(f"/source_control/deployment/{item['number']}", token)) == item
    finally:
        api.close()
        instance.close()


def test_a_deploy_is_triggered_by_its_token_whatever_the_tokens_name(
    sqlite_api: Api, sqlite_make_token: TokenMaker, seed: Seed
) -> None:
    # A name at the longest, and one that looks like another caller's label: the id is the
    # token's own, kept whole.
    for release, name in (("1.0.0", "n" * 200), ("1.1.0", "ann (user 9)")):
        # A change to deploy: an unchanged head answers the last deployment again.
        merge(seed.hub, seed.hub.manifests.set_pin("dev", seed.billing, release, AUTHOR))
        token = sqlite_make_token("source_control:deploy", name=name)
        found = data(sqlite_api.post("/source_control/deploy", token))
        token_id = found["triggered_by"].removeprefix("user_token")
        assert found["triggered_by"] == f"user_token{int(token_id)}"
        assert found["trigger"].endswith(f" (token {token_id})")
        assert len(found["trigger"]) <= 200
        assert found["trigger"].startswith(name[:150])

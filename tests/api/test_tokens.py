"""Tokens: random secrets, stored only as sha256 hashes, with exactly the scopes they were given."""

from __future__ import annotations

import hashlib

import pytest
from api_support import Api, data, failed
from sqlalchemy import select, text

from mirel.db.models import Token
from mirel.errors import InvalidInput, NotFound
from mirel.instance import Instance
from mirel.instance.accounts.tokens import (
    SCOPES,
    TOKEN_PREFIX,
    authenticate,
    create_token,
    list_tokens,
    revoke_token,
)


def test_the_six_scopes_of_the_spec() -> None:
    assert SCOPES == (
        "source_control:releases:read",
        "source_control:releases:write",
        "source_control:read",
        "source_control:write",
        "source_control:deploy",
        "source_control:test_deploy",
    )


def test_tokens_are_stored_only_as_hashes(instance: Instance) -> None:
    secret = create_token(instance.sessions, "ci", ["source_control:deploy"])
    assert secret.startswith(TOKEN_PREFIX)
    assert len(secret) >= len(TOKEN_PREFIX) + 40
    with instance.database.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM tokens")).mappings().all()
    assert len(rows) == 1
    stored = " ".join(str(value) for value in rows[0].values())
    assert secret not in stored
    assert secret.removeprefix(TOKEN_PREFIX) not in stored
    assert rows[0]["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()


def test_each_token_is_new(instance: Instance) -> None:
    secrets = {create_token(instance.sessions, "same", ["source_control:read"]) for _ in range(5)}
    assert len(secrets) == 5
    with instance.sessions() as session:
        assert len(session.scalars(select(Token)).all()) == 5


def test_authenticate_finds_the_token_by_its_hash(instance: Instance) -> None:
    secret = create_token(
        instance.sessions, "deployer", ["source_control:test_deploy", "source_control:deploy"]
    )
    info = authenticate(instance.sessions, secret)
    assert info is not None
    assert info.name == "deployer"
    assert info.scopes == {"source_control:deploy", "source_control:test_deploy"}
    assert info.to_json()["scopes"] == ["source_control:deploy", "source_control:test_deploy"]
    assert authenticate(instance.sessions, secret + "x") is None
    assert authenticate(instance.sessions, secret[:-1]) is None
    assert authenticate(instance.sessions, "") is None


@pytest.mark.parametrize(
    ("scopes", "message"),
    [
        (["source_control:admin"], "unknown scope 'source_control:admin'"),
        (["releases:read"], "unknown scope 'releases:read'"),
        ([], "at least one scope"),
    ],
)
def test_unknown_or_no_scopes_are_refused(
    instance: Instance, scopes: list[str], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        create_token(instance.sessions, "x", scopes)
    assert list_tokens(instance.sessions) == []


@pytest.mark.parametrize("name", ["", "   ", "a <b>", "line\nbreak", "x" * 201])
def test_names_that_cannot_author_a_commit_are_refused(instance: Instance, name: str) -> None:
    with pytest.raises(InvalidInput):
        create_token(instance.sessions, name, ["source_control:read"])


def test_revoked_tokens_no_longer_work(instance: Instance, api: Api) -> None:
    secret = create_token(instance.sessions, "temp", ["source_control:read"])
    data(api.get("/source_control/test_connection", secret))
    (info,) = list_tokens(instance.sessions)
    assert revoke_token(instance.sessions, info.id).name == "temp"
    failed(api.get("/source_control/test_connection", secret), 401)
    with pytest.raises(NotFound):
        revoke_token(instance.sessions, info.id)


def test_api_writes_are_authored_by_the_token(instance: Instance, api: Api) -> None:
    secret = create_token(instance.sessions, "Release Bot", ["source_control:releases:write"])
    body = {"manifest": {"apps": []}}
    found = data(api.put("/source_control/manifests/empty", secret, json=body))
    commit = instance.hub.repo.commit(found["commit_sha"])
    assert commit.author_name == "Release Bot"
    (info,) = list_tokens(instance.sessions)
    assert commit.author_email == f"token-{info.id}@mirel.invalid"

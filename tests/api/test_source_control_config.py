"""`/source_control/config` and `/source_control/settings` (issue 10, acceptance 5): the seed
API's fields per provider, secrets stored encrypted and never answered or logged, and a stored
connection used by the instance from its next start."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from api_support import Api, Seed, TokenMaker, data, failed
from sqlalchemy import select

from mirel.db.models import SourceControlRecord
from mirel.instance import Instance
from mirel.instance.source_control import MASK
from mirel.settings import Settings

TOKEN = "ghp_the-personal-access-token-of-the-test"
GITHUB = {
    "provider": "GitHub",
    "org": "acme",
    "repo": "shared",
    "default_branch": "main",
    "config": {"type": "Personal", "personal_access_token": TOKEN},
}


def test_a_configuration_is_stored_with_its_secrets_sealed_and_never_answered(
    api: Api, make_token: TokenMaker, instance: Instance, caplog: pytest.LogCaptureFixture
) -> None:
    token = make_token()
    assert "no source control configuration" in failed(
        api.get("/source_control/config", token), 404
    )
    with caplog.at_level(logging.DEBUG):
        stored = data(api.put("/source_control/config", token, json={"config": GITHUB}))
    assert stored["config"] == {"type": "Personal", "personal_access_token": MASK}
    assert (stored["provider"], stored["org"], stored["repo"]) == ("GitHub", "acme", "shared")
    assert data(api.get("/source_control/config", token)) == stored
    assert TOKEN not in caplog.text
    with instance.sessions() as session:
        row = session.scalar(select(SourceControlRecord))
        assert row is not None
        assert row.secrets is not None
        assert TOKEN.encode() not in row.secrets
        assert TOKEN not in str(row.value)
    connection = instance.source_control.connection()
    assert connection is not None
    assert connection.repo == "https://github.com/acme/shared.git"
    assert (connection.host.kind, connection.host.repository) == ("github", "acme/shared")
    assert connection.host.token == TOKEN
    # Read, edited and written back with the mask: the token stays.
    edited = {**stored, "default_branch": "trunk"}
    assert (
        data(api.put("/source_control/config", token, json={"config": edited}))["default_branch"]
        == "trunk"
    )
    connection = instance.source_control.connection()
    assert connection is not None
    assert connection.host.token == TOKEN
    assert data(api.request("DELETE", "/source_control/config", token)) == {"deleted": True}
    failed(api.get("/source_control/config", token), 404)
    assert instance.source_control.connection() is None


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({**GITHUB, "config": {"type": "Personal"}}, "personal_access_token"),
        ({**GITHUB, "config": {"type": "App", "app_id": "1"}}, "personal access token"),
        ({**GITHUB, "org": ""}, "`org` and `repo`"),
        ({"provider": "GitLab", "org": "g", "repo": "p", "config": {}}, "project_access_token"),
        ({**GITHUB, "config": {"personal_access_token": MASK}}, "no value of it is stored"),
    ],
)
def test_an_incomplete_configuration_is_refused_naming_what_is_missing(
    api: Api, make_token: TokenMaker, config: dict[str, object], named: str
) -> None:
    token = make_token()
    assert named in failed(api.put("/source_control/config", token, json={"config": config}), 400)
    failed(api.get("/source_control/config", token), 404)


def test_a_configuration_needs_the_secret_key_that_seals_it(seed: Seed, sqlite_url: str) -> None:
    settings = Settings(name="t", repo=str(seed.hub.repo.path), database_url=sqlite_url)
    with Instance(settings, seed.hub) as instance:
        with pytest.raises(Exception, match="MIREL_SECRET_KEY"):
            instance.source_control.put_config(GITHUB)
        assert instance.source_control.config() is None


def test_the_settings_have_the_seed_apis_defaults_and_are_replaced_whole(
    api: Api, make_token: TokenMaker
) -> None:
    token = make_token()
    found = data(api.get("/source_control/settings", token))
    assert found["auto_branch_naming_enabled"] is True
    assert found["version_control_locked"] is False
    changed = data(
        api.put(
            "/source_control/settings",
            token,
            json={
                "settings": {"version_control_locked": True, "custom_pull_request_template": "x"}
            },
        )
    )
    assert changed["version_control_locked"] is True
    assert changed["auto_cleanup_branches_enabled"] is True
    assert data(api.get("/source_control/settings", token)) == changed
    failed(api.put("/source_control/settings", token, json={"settings": {"nope": 1}}), 400)


def test_a_read_token_cannot_change_the_configuration(api: Api, make_token: TokenMaker) -> None:
    token = make_token("source_control:read")
    failed(api.put("/source_control/config", token, json={"config": GITHUB}), 403)


def test_the_stored_connection_replaces_the_settings_at_the_next_start(
    seed: Seed, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'restart.db'}"
    key = "a key of this test, long enough"
    from pydantic import SecretStr

    settings = Settings(
        name="t",
        repo=str(tmp_path / "nothing-here.git"),
        database_url=url,
        secret_key=SecretStr(key),
        poll_interval=0,
    )
    with Instance(settings, seed.hub) as instance:
        git = {"provider": "Git", "config": {"url": str(seed.hub.repo.path)}}
        instance.source_control.put_config(git)
    # Started again, it opens the stored repository, not MIREL_REPO's missing one.
    with Instance(settings) as restarted:
        assert restarted.hub.repo.path == seed.hub.repo.path
        assert restarted.hub.head() == seed.hub.head()


def test_post_creates_a_configuration_and_refuses_to_replace_one(
    api: Api, make_token: TokenMaker
) -> None:
    # The seed API: POST "will result in an error if configuration already is already set";
    # PUT sets it whatever is there.
    token = make_token()
    created = data(api.post("/source_control/config", token, json={"config": GITHUB}))
    assert created["repo"] == "shared"
    again = {**GITHUB, "repo": "other"}
    assert "PUT /source_control/config" in failed(
        api.post("/source_control/config", token, json={"config": again}), 409
    )
    assert data(api.get("/source_control/config", token))["repo"] == "shared"
    assert data(api.put("/source_control/config", token, json={"config": again}))["repo"] == "other"


def test_a_stored_secret_is_never_kept_for_another_host(
    api: Api, make_token: TokenMaker, instance: Instance
) -> None:
    token = make_token()
    data(api.put("/source_control/config", token, json={"config": GITHUB}))
    # Whoever may write the configuration cannot point the stored token at a server of theirs.
    elsewhere = {
        **GITHUB,
        "config": {
            "type": "Personal",
            "url": "https://evil.example",
            "personal_access_token": MASK,
        },
    }
    message = failed(api.put("/source_control/config", token, json={"config": elsewhere}), 400)
    assert "config.url" in message
    connection = instance.source_control.connection()
    assert connection is not None
    assert connection.repo == "https://github.com/acme/shared.git"


def test_a_git_url_with_credentials_in_it_is_refused(api: Api, make_token: TokenMaker) -> None:
    token = make_token()
    config = {"provider": "Git", "config": {"url": "https://bot:pw@git.example.com/r.git"}}
    message = failed(api.put("/source_control/config", token, json={"config": config}), 400)
    assert "config.password" in message
    assert "pw@" not in message


def test_a_gitlab_project_id_is_kept_and_the_project_opens_by_its_path(
    api: Api, make_token: TokenMaker, instance: Instance
) -> None:
    token = make_token()
    gitlab = {
        "provider": "GitLab",
        "org": "acme",
        "repo": "shared",
        "config": {
            "project_id": 4242,
            "url": "https://gitlab.example.com",
            "project_access_token": "t",
        },
    }
    stored = data(api.put("/source_control/config", token, json={"config": gitlab}))
    assert stored["config"]["project_id"] == 4242
    connection = instance.source_control.connection()
    assert connection is not None
    assert connection.host.repository == "acme/shared"

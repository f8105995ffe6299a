"""Settings → Source control: an admin stores, changes and forgets the connection to the host and
saves the source control settings; everyone else only looks. No secret ever appears in a page,
not even masked, nor in a log line."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from web_support import Browser, Page, open_web_instance

from mirel.hub import Hub
from mirel.instance import Instance
from mirel.instance.source_control import DEFAULT_SETTINGS, MASK
from mirel.server import create_app

PAGE = "/settings/source-control"
KEY = "a long random key for the tests of the source control page"
SECRET = "ghp_NeverShowThisToken_7f3a9c"
OTHER_SECRET = "bb_AnotherSecret_2d81e4"
GITHUB = {
    "provider": "GitHub",
    "org": "acme",
    "repo": "billing",
    "default_branch": "main",
    "config": {"personal_access_token": SECRET},
}


class Recording(Browser):
    """A client that keeps every answer's body, to look for secrets in all of them."""

    def __init__(self, app: FastAPI, bodies: list[str]) -> None:
        super().__init__(app)
        self.bodies = bodies

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Return the answer, having kept its body."""
        answer = super().request(method, path, **kwargs)
        self.bodies.append(answer.text)
        return answer


Make = Callable[[str], Recording]


@pytest.fixture
def keyed(demo: Hub, tmp_path: Path) -> Iterator[Instance]:
    """Return an instance with a secret key, so that it can store secrets."""
    opened = open_web_instance(demo, f"sqlite:///{tmp_path / 'keyed.db'}", secret_key=KEY)
    yield opened
    opened.close()


@pytest.fixture
def bodies() -> list[str]:
    """Return the list every answer's body is added to."""
    return []


@pytest.fixture
def person(keyed: Instance, bodies: list[str]) -> Iterator[Make]:
    """Return a function giving a client of `keyed` signed in as one user."""
    app = create_app(keyed)
    made: list[Recording] = []

    def make(username: str) -> Recording:
        client = Recording(app, bodies)
        made.append(client)
        client.sign_in(username)
        return client

    yield make
    for client in made:
        client.close()


def no_secret_in(bodies: list[str], *secrets: str) -> None:
    """Assert that no answer showed a secret, nor the mask that stands for one."""
    assert bodies, "no answer was recorded"
    for body in bodies:
        for secret in (*secrets, MASK):
            assert secret not in body


def connection_form(page: Page, provider: str) -> dict[str, str]:
    """Return the fields of a provider's form on the page."""
    return page.form(PAGE, provider=provider).fields


def post_connection(client: Browser, provider: str, **fields: str) -> Page:
    """Open the form of `provider` and submit it with `fields` (config fields as `config.x`)."""
    slug = {"Bitbucket": "bitbucket", "GitLab": "gitlab", "AWS CodeCommit": "codecommit"}
    page = client.get(f"{PAGE}?provider={slug.get(provider, provider.lower())}")
    return client.submit(page.form(PAGE, provider=provider), **fields)


def test_an_admin_stores_a_configuration_and_sees_its_secret_only_as_set(
    person: Make, keyed: Instance, bodies: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ada = person("ada")
    settings = ada.get("/settings")
    assert PAGE in settings.links
    page = ada.get(PAGE)
    assert "No configuration is stored" in page.text
    assert str(keyed.hub.repo.path) in page.text  # the connection in use
    landed = post_connection(
        ada, "GitHub", org="acme", repo="billing", **{"config.personal_access_token": SECRET}
    )
    assert landed.status == 200
    assert "The GitHub configuration is stored" in landed.text
    assert "used from this instance's next start" in landed.text
    assert 'id="stored-org">acme<' in landed.html
    assert 'id="stored-personal_access_token"><span class="badge ok">set<' in landed.html
    assert 'id="stored-url"><span class="muted">not set<' in landed.html
    assert connection_form(landed, "GitHub")["config.personal_access_token"] == ""
    assert connection_form(landed, "GitHub")["org"] == "acme"
    assert str(keyed.hub.repo.path) in landed.text  # still the connection in use until a restart
    stored = keyed.source_control.connection()
    assert stored is not None
    assert stored.git_token == SECRET
    assert stored.repo == "https://github.com/acme/billing.git"
    ada.get(f"{PAGE}?provider=github")
    no_secret_in(bodies, SECRET)
    assert SECRET not in caplog.text


def test_an_empty_secret_keeps_the_stored_one_and_its_box_removes_it(
    person: Make, keyed: Instance, bodies: list[str]
) -> None:
    keyed.source_control.put_config(
        {
            "provider": "Bitbucket",
            "org": "team",
            "repo": "apps",
            "config": {"username": "ann", "app_password": SECRET},
        }
    )
    ada = person("ada")
    page = ada.get(f"{PAGE}?provider=bitbucket")
    assert "Leave it empty to keep the stored one" in page.text
    assert connection_form(page, "Bitbucket")["config.username"] == "ann"
    post_connection(ada, "Bitbucket", repo="apps-2")
    kept = keyed.source_control.connection()
    assert kept is not None
    assert kept.git_token == SECRET
    assert kept.repo == "https://bitbucket.org/team/apps-2.git"
    # From an app password to an access token: remove the one, give the other.
    post_connection(
        ada,
        "Bitbucket",
        **{"clear.app_password": "1", "config.username": "", "config.token": OTHER_SECRET},
    )
    config = keyed.source_control.config()
    assert config is not None
    assert config["config"] == {"token": MASK}
    changed = keyed.source_control.connection()
    assert changed is not None
    assert changed.git_token == OTHER_SECRET
    no_secret_in(bodies, SECRET, OTHER_SECRET)


def test_an_incomplete_configuration_is_refused_with_its_message_and_nothing_stored(
    person: Make, keyed: Instance, bodies: list[str]
) -> None:
    ada = person("ada")
    refused = post_connection(
        ada,
        "AWS CodeCommit",
        repo="billing",
        **{
            "config.url": "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/billing",
            "config.region": "eu-west-1",
            "config.secret_access_key": SECRET,
        },
    )
    assert refused.status == 400
    assert "the AWS CodeCommit configuration needs access_key_id, https_username" in refused.text
    kept = connection_form(refused, "AWS CodeCommit")
    assert kept["config.region"] == "eu-west-1"  # what was typed, shown again
    assert kept["config.secret_access_key"] == ""  # but never a secret
    assert keyed.source_control.config() is None
    no_repo = post_connection(ada, "GitHub", org="acme", **{"config.personal_access_token": SECRET})
    assert no_repo.status == 400
    assert "the GitHub configuration needs `org` and `repo`" in no_repo.text
    assert keyed.source_control.config() is None
    # Removing the stored token of a stored configuration is refused as well, keeping it.
    keyed.source_control.put_config(GITHUB)
    removed = post_connection(ada, "GitHub", **{"clear.personal_access_token": "1"})
    assert removed.status == 400
    assert "needs personal_access_token" in removed.text
    stored = keyed.source_control.connection()
    assert stored is not None
    assert stored.git_token == SECRET
    no_secret_in(bodies, SECRET)


def test_without_a_secret_key_the_page_says_so_and_stores_no_secret(
    browser: Callable[[str | None], Browser], instance: Instance
) -> None:
    ada = browser("ada")
    page = ada.get(f"{PAGE}?provider=git")
    assert "This instance has no secret key (MIREL_SECRET_KEY)" in page.text
    refused = ada.submit(
        page.form(PAGE, provider="Git"),
        **{"config.url": "https://git.example/hub.git", "config.password": SECRET},
    )
    assert refused.status == 400
    assert "set MIREL_SECRET_KEY" in refused.text
    assert SECRET not in refused.html
    assert instance.source_control.config() is None
    # A configuration without secrets needs no key.
    stored = ada.submit(page.form(PAGE, provider="Git"), **{"config.url": "https://git.example/h"})
    assert "The Git configuration is stored" in stored.text
    assert instance.source_control.config() == {
        "provider": "Git",
        "default_branch": "main",
        "config": {"url": "https://git.example/h"},
    }


def test_forget_removes_the_stored_configuration(
    person: Make, keyed: Instance, bodies: list[str]
) -> None:
    keyed.source_control.put_config(GITHUB)
    ada = person("ada")
    page = ada.get(PAGE)
    forgotten = ada.submit(page.form(f"{PAGE}/forget"))
    assert "The stored configuration is forgotten" in forgotten.text
    assert "No configuration is stored" in forgotten.text
    assert keyed.source_control.config() is None
    assert all(form.action != f"{PAGE}/forget" for form in forgotten.forms)
    again = ada.post(f"{PAGE}/forget")
    assert "No configuration was stored; nothing changed." in again.text
    no_secret_in(bodies, SECRET)


def test_an_admin_saves_the_source_control_settings(person: Make, keyed: Instance) -> None:
    ada = person("ada")
    page = ada.get(PAGE)
    form = page.form(f"{PAGE}/settings")
    assert form.fields["auto_branch_naming_enabled"] == "on"  # the defaults, ticked
    assert "version_control_locked" not in form.fields
    fields = dict(form.fields)
    del fields["auto_cleanup_branches_enabled"]  # unticked
    fields |= {
        "version_control_locked": "on",
        "custom_pull_request_template_enabled": "on",
        "custom_pull_request_template": "## What\r\n\r\n## Why\r\n",
    }
    saved = ada.post(f"{PAGE}/settings", fields, csrf=False)
    assert "The source control settings are saved." in saved.text
    assert keyed.source_control.settings() == {
        **DEFAULT_SETTINGS,
        "auto_cleanup_branches_enabled": False,
        "version_control_locked": True,
        "custom_pull_request_template_enabled": True,
        "custom_pull_request_template": "## What\n\n## Why\n",
    }
    shown = saved.form(f"{PAGE}/settings").fields
    assert shown["version_control_locked"] == "on"
    assert "auto_cleanup_branches_enabled" not in shown
    assert shown["custom_pull_request_template"].strip() == "## What\n\n## Why"
    too_long = ada.post(f"{PAGE}/settings", {**fields, "custom_pull_request_template": "x" * 2001})
    assert too_long.status == 400
    assert "pull request template is longer than 2,000 characters" in too_long.text
    assert keyed.source_control.settings()["version_control_locked"] is True


@pytest.mark.parametrize("username", ["vic", "eve"])
def test_viewers_and_editors_see_the_page_read_only_and_cannot_change_it(
    person: Make, keyed: Instance, bodies: list[str], username: str
) -> None:
    keyed.source_control.put_config(GITHUB)
    client = person(username)
    page = client.get(PAGE)
    assert page.status == 200
    assert 'id="stored-personal_access_token"><span class="badge ok">set<' in page.html
    assert "Only an admin can change the connection and these settings." in page.text
    assert [form.action for form in page.post_forms()] == ["/logout"]
    before = (keyed.source_control.config(), keyed.source_control.settings())
    for path, data in (
        (PAGE, {"provider": "Git", "config.url": "https://evil.example/x.git"}),
        (f"{PAGE}/forget", {}),
        (f"{PAGE}/settings", {"version_control_locked": "on"}),
        (f"{PAGE}/test", {}),
    ):
        answer = client.request("POST", path, data={**data, "csrf_token": client.csrf})
        assert answer.status_code == 403, path
        assert "needs the admin role" in answer.text
    assert (keyed.source_control.config(), keyed.source_control.settings()) == before
    no_secret_in(bodies, SECRET)


def test_test_connection_says_what_it_found(person: Make, keyed: Instance) -> None:
    ada = person("ada")
    page = ada.get(PAGE)
    checked = ada.submit(page.form(f"{PAGE}/test"))
    assert f"connected to {keyed.hub.repo.path}" in checked.text
    assert 'class="flash success"' in checked.html

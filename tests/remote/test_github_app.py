"""The github provider signed in as a GitHub App (issue 10): an app id, an installation and the
app's private key (made here, in the test) traded for installation tokens, which serve both the
API calls and the mirror's fetches and pushes, and are renewed before they expire. The simulator
verifies each JWT's RS256 signature with the app's public key, and the loopback git server takes
the tokens it issued, until they expire, as GitHub's git does."""

from __future__ import annotations

import base64
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import SecretStr

from git_server import GitHttpServer
from github_sim import GitHubSimulator
from mirel.cli.base import Options
from mirel.core.kinds import APP
from mirel.errors import InvalidInput, MirelError
from mirel.git.remote import RemoteAccess, open_repository
from mirel.hub import Hub
from mirel.instance import Instance
from mirel.instance.connection import connection_of
from mirel.instance.instance import settings_connection
from mirel.instance.source_control import MASK
from mirel.providers import HostSettings
from mirel.providers.github_app import GitHubApp, InstallationTokens, app_jwt
from mirel.settings import Settings
from support import AUTHOR, merge

APP_ID = "424242"
INSTALLATION = 77


class Clock:
    """A clock the test moves on: the app's and the simulator's both."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def app_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    # As GitHub's app settings page makes them: PKCS#1, "BEGIN RSA PRIVATE KEY".
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


@pytest.fixture
def key_file(tmp_path: Path, app_key: rsa.RSAPrivateKey) -> Path:
    path = tmp_path / "mirel-app.private-key.pem"
    path.write_bytes(_pem(app_key))
    path.chmod(0o600)
    return path


@pytest.fixture
def app_github(
    github: GitHubSimulator, git_server: GitHttpServer, app_key: rsa.RSAPrivateKey
) -> GitHubSimulator:
    """Return the GitHub simulator with the app installed, its git server taking the app's
    installation tokens."""
    github.install_app(APP_ID, INSTALLATION, app_key.public_key())
    git_server.authorize = github.git_access
    return github


def _settings(
    tmp_path: Path, git_server: GitHttpServer, github: GitHubSimulator, key: Path, **more: Any
) -> Settings:
    values: dict[str, Any] = {
        "name": "prod",
        "repo": git_server.url("shared"),
        "mirror": str(tmp_path / "prod-mirror.git"),
        "provider": "github",
        "host_repository": "acme/shared",
        "host_api_url": github.api_url,
        "github_app_id": APP_ID,
        "github_app_installation_id": INSTALLATION,
        "github_app_private_key": str(key),
        "database_url": f"sqlite:///{tmp_path / 'prod.db'}",
        "poll_interval": 0,
    }
    return Settings(**{**values, **more})


def _write_token(git_server: GitHttpServer) -> str:
    # The fixture's own (not imported from conftest: tests/e2e has a conftest module too).
    return next(token for token, allowed in git_server.tokens.items() if allowed == "write")


def _seed_config(github: GitHubSimulator, git_server: GitHttpServer, pem: bytes) -> dict[str, Any]:
    return {
        "provider": "GitHub",
        "org": "acme",
        "repo": "shared",
        "default_branch": "main",
        "config": {
            "type": "App",
            "app_id": APP_ID,
            "installation_id": str(INSTALLATION),
            "private_key": base64.b64encode(pem).decode(),
            "url": f"http://127.0.0.1:{git_server.port}",
            "enterprise_api_url": github.api_url,
        },
    }


def test_an_instance_signed_in_as_a_github_app_pushes_opens_and_merges(
    app_github: GitHubSimulator,
    git_server: GitHttpServer,
    origin: Hub,
    key_file: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        caplog.at_level(logging.DEBUG),
        Instance(_settings(tmp_path, git_server, app_github, key_file)) as instance,
    ):
        hub = instance.hub
        change = hub.elements.add(APP, "billing", {"main.rsx": b"v1"}, AUTHOR)
        assert change.pull_request is not None
        # The branch was pushed with the installation token, then the pull request opened.
        head = change.pull_request.head_branch
        assert origin.repo.branch_sha(head) == change.commit_sha
        on_host = app_github.pulls[change.pull_request.number]
        assert (on_host["head"]["ref"], on_host["base"]["ref"]) == (head, "main")
        merge(hub, change)
        assert app_github.pulls[change.pull_request.number]["merged"] is True
        assert origin.head() == hub.head()
        assert origin.catalog.element("billing").name == "billing"
    # One installation token served every fetch, push and API call of the flow.
    assert len(app_github.issued) == 1
    assert app_github.calls.count(("POST", f"/app/installations/{INSTALLATION}/access_tokens")) == 1
    (token,) = app_github.issued
    pem_line = key_file.read_text().splitlines()[1]
    assert token not in caplog.text
    assert pem_line not in caplog.text


def test_a_seed_configuration_of_type_app_connects_the_instance_through_the_app(
    app_github: GitHubSimulator,
    git_server: GitHttpServer,
    origin: Hub,
    app_key: rsa.RSAPrivateKey,
    tmp_path: Path,
) -> None:
    # The seed's URL is {url}/{org}/{repo}.git: the git server serves acme/shared.git too.
    (git_server.root / "acme").symlink_to(git_server.root)
    settings = Settings(
        name="prod",
        repo=git_server.url("shared"),
        mirror=str(tmp_path / "first.git"),
        git_token=SecretStr(_write_token(git_server)),
        secret_key=SecretStr("the instance's own long random secret key"),
        database_url=f"sqlite:///{tmp_path / 'prod.db'}",
        poll_interval=0,
    )
    config = _seed_config(app_github, git_server, _pem(app_key))
    with Instance(settings) as instance:
        stored = instance.source_control.put_config(config)
    assert stored["config"]["private_key"] == MASK
    assert stored["config"]["type"] == "App"
    # From its next start the instance works through the stored connection: the app's.
    again = settings.model_copy(update={"mirror": str(tmp_path / "second.git")})
    with Instance(again) as instance:
        assert instance.hub.repo.location == f"http://127.0.0.1:{git_server.port}/acme/shared.git"
        change = instance.hub.elements.add(APP, "crm", {"main.rsx": b"x"}, AUTHOR)
        assert change.pull_request is not None
        merge(instance.hub, change)
        assert app_github.pulls[change.pull_request.number]["merged"] is True
    assert origin.catalog.element("crm").name == "crm"
    assert len(app_github.issued) == 1


def test_the_command_line_signs_in_as_the_app_from_the_environment(
    app_github: GitHubSimulator,
    git_server: GitHttpServer,
    key_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("MIREL_GIT_TOKEN", "MIREL_HOST_TOKEN", "MIREL_GIT_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    environment = {
        "MIREL_MIRROR": str(tmp_path / "cli.git"),
        "MIREL_PROVIDER": "github",
        "MIREL_HOST_REPOSITORY": "acme/shared",
        "MIREL_HOST_API_URL": app_github.api_url,
        "MIREL_GITHUB_APP_ID": APP_ID,
        "MIREL_GITHUB_APP_INSTALLATION_ID": str(INSTALLATION),
        "MIREL_GITHUB_APP_PRIVATE_KEY": str(key_file),
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    hub = Options(repo=git_server.url("shared")).hub()
    change = hub.elements.add(APP, "billing", {"main.rsx": b"v1"}, AUTHOR)
    assert change.pull_request is not None
    assert app_github.pulls[change.pull_request.number]["state"] == "open"
    assert len(app_github.issued) == 1


def test_installation_tokens_are_renewed_before_they_expire_for_git_and_the_api(
    app_github: GitHubSimulator,
    git_server: GitHttpServer,
    origin: Hub,
    app_key: rsa.RSAPrivateKey,
    tmp_path: Path,
) -> None:
    clock = Clock()
    app_github.clock = clock
    tokens = InstallationTokens(
        GitHubApp(APP_ID, INSTALLATION, app_key), app_github.api_url, clock=clock
    )
    repository = open_repository(
        git_server.url("shared"), mirror=tmp_path / "m.git", token=tokens, username="x-access-token"
    )
    host = HostSettings("github", "acme/shared", app_github.api_url, token_source=tokens)
    hub = Hub.open(repository, host=host)
    change = hub.elements.add(APP, "billing", {"main.rsx": b"v1"}, AUTHOR)
    assert change.pull_request is not None
    number = change.pull_request.number
    (first,) = app_github.issued
    assert tokens.expires_at == pytest.approx(clock.now + 3600, abs=2)
    clock.advance(50 * 60)  # ten minutes left: the token is kept
    hub.repo.refresh()
    hub.provider.get(number)
    assert list(app_github.issued) == [first]
    clock.advance(6 * 60)  # four minutes left: the next call asks for a new one first
    hub.repo.refresh()
    assert len(app_github.issued) == 2
    second = list(app_github.issued)[1]
    clock.advance(5 * 60)
    # The first has expired: GitHub's API and its git refuse it now.
    assert not app_github.token_valid(first)
    assert app_github.git_access("x-access-token", first) is None
    # The merge fetches, calls the API and pushes with the second one.
    merge(hub, change)
    assert app_github.pulls[number]["merged"] is True
    assert origin.head() == hub.head()
    assert list(app_github.issued) == [first, second]


def test_the_jwt_is_signed_rs256_issued_a_minute_ago_and_lives_under_ten_minutes(
    app_key: rsa.RSAPrivateKey,
) -> None:
    now = 1_800_000_000.0
    jwt = app_jwt(GitHubApp(APP_ID, INSTALLATION, app_key), now)
    header, claims, signature = (
        base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in jwt.split(".")
    )
    assert json.loads(header) == {"alg": "RS256", "typ": "JWT"}
    assert json.loads(claims) == {"iat": int(now) - 60, "exp": int(now) + 540, "iss": 424242}
    signed = jwt.rsplit(".", 1)[0].encode()
    app_key.public_key().verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())


def _one_line(error: BaseException, *secrets: str) -> str:
    message = str(error)
    assert "\n" not in message
    for secret in secrets:
        assert secret not in message
    return message


def test_a_bad_private_key_file_stops_the_start_naming_the_setting(
    app_github: GitHubSimulator, git_server: GitHttpServer, tmp_path: Path
) -> None:
    garbled = tmp_path / "garbled.pem"
    body = "bm90LWEta2V5LXNlY3JldA=="
    garbled.write_text(f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n")
    with pytest.raises(InvalidInput) as bad:
        settings_connection(_settings(tmp_path, git_server, app_github, garbled))
    message = _one_line(bad.value, "bm90LWEta2V5LXNlY3JldA")
    assert "MIREL_GITHUB_APP_PRIVATE_KEY" in message
    assert "PEM" in message
    with pytest.raises(InvalidInput) as missing:
        settings_connection(_settings(tmp_path, git_server, app_github, tmp_path / "none.pem"))
    assert "MIREL_GITHUB_APP_PRIVATE_KEY: cannot read" in _one_line(missing.value)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"github_app_id": "999"}, "MIREL_GITHUB_APP_ID"),
        ({"github_app_installation_id": 78}, "MIREL_GITHUB_APP_INSTALLATION_ID"),
        ({"other_key": True}, "MIREL_GITHUB_APP_PRIVATE_KEY"),
    ],
)
def test_github_refusing_the_app_stops_the_start_in_one_line_naming_the_setting(
    app_github: GitHubSimulator,
    git_server: GitHttpServer,
    key_file: Path,
    tmp_path: Path,
    change: dict[str, Any],
    named: str,
) -> None:
    key = key_file
    if change.pop("other_key", False):
        # A valid RSA key, but not the one whose public key GitHub holds for the app.
        key = tmp_path / "another-app.pem"
        key.write_bytes(_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    pem_line = key.read_text().splitlines()[1]
    with pytest.raises(MirelError) as refused:
        Instance(_settings(tmp_path, git_server, app_github, key, **change))
    message = _one_line(refused.value, pem_line, "eyJ", "ghs_")
    assert named in message
    assert app_github.issued == {}


def test_incomplete_or_conflicting_app_settings_are_refused_by_name(
    app_github: GitHubSimulator, git_server: GitHttpServer, key_file: Path, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInput, match="set MIREL_GITHUB_APP_INSTALLATION_ID"):
        settings_connection(
            _settings(tmp_path, git_server, app_github, key_file, github_app_installation_id=None)
        )
    with pytest.raises(InvalidInput, match=r"MIREL_GITHUB_APP_\*\) or MIREL_GIT_TOKEN, not both"):
        settings_connection(
            _settings(tmp_path, git_server, app_github, key_file, git_token=SecretStr("t"))
        )
    with pytest.raises(InvalidInput, match="MIREL_PROVIDER=github"):
        settings_connection(_settings(tmp_path, git_server, app_github, key_file, provider="git"))


def test_a_seed_app_configuration_with_a_bad_key_is_refused_naming_the_field(
    app_github: GitHubSimulator, git_server: GitHttpServer, app_key: rsa.RSAPrivateKey
) -> None:
    config = _seed_config(app_github, git_server, _pem(app_key))
    config["config"]["private_key"] = "bm90IGEga2V5IGF0IGFsbA=="
    with pytest.raises(InvalidInput) as bad:
        connection_of(config)
    assert "`config.private_key`" in _one_line(bad.value, "bm90IGEga2V5IGF0IGFsbA")
    del config["config"]["private_key"], config["config"]["installation_id"]
    with pytest.raises(InvalidInput, match="needs installation_id, private_key"):
        connection_of(config)


def test_the_private_key_and_the_tokens_are_in_no_repr(
    app_github: GitHubSimulator,
    git_server: GitHttpServer,
    app_key: rsa.RSAPrivateKey,
    key_file: Path,
    tmp_path: Path,
) -> None:
    pem = _pem(app_key)
    encoded = base64.b64encode(pem).decode()
    connection = connection_of(_seed_config(app_github, git_server, pem))
    tokens = connection.host.token_source
    assert isinstance(tokens, InstallationTokens)
    token = tokens()
    from_settings = settings_connection(_settings(tmp_path, git_server, app_github, key_file))
    shown = [
        repr(connection),
        repr(connection.host),
        repr(tokens),
        repr(tokens.app),
        repr(RemoteAccess(connection.repo, tokens, "x-access-token")),
        repr(from_settings),
        repr(from_settings.host),
    ]
    for text in shown:
        assert "PRIVATE KEY" not in text
        assert encoded[:60] not in text
        assert pem.decode().splitlines()[1] not in text
        assert token not in text
    assert repr(tokens) == (
        f"InstallationTokens(app_id='{APP_ID}', installation_id={INSTALLATION}, "
        f"api_url='{app_github.api_url}')"
    )

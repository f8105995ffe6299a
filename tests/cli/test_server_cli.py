"""The server commands' own checks, in process: settings that fail fast, tokens, bad instance URLs.

The commands against live servers are in tests/e2e/.
"""

from __future__ import annotations

import io
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import Cli

from mirel.db.engine import open_database
from mirel.hub import Hub
from mirel.instance.accounts.tokens import SCOPES, authenticate


@pytest.fixture
def listening() -> Iterator[int]:
    """Return a loopback port that something listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """Return a loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# -- serve: bad settings fail before anything starts -----------------------------------------------


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--poll-interval", "-1"], "MIREL_POLL_INTERVAL"),
        (["--poll-interval", "often"], "MIREL_POLL_INTERVAL"),
        (["--port", "70000"], "MIREL_PORT"),
        (["--port", "http"], "MIREL_PORT"),
        (["--db", "mysql://db/mirel"], "MIREL_DATABASE_URL"),
        (["--manifest", "no/slashes"], "MIREL_MANIFEST"),
    ],
)
def test_serve_refuses_bad_options_in_one_line(
    cli: Cli, tmp_path: Path, args: list[str], named: str
) -> None:
    result = cli("serve", "--repo", tmp_path / "hub.git", *args)
    assert result.exit_code == 1
    assert named in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_serve_reads_bad_values_from_the_environment_too(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIREL_PORT", "-5")
    result = cli("serve", "--repo", tmp_path / "hub.git")
    assert result.exit_code == 1
    assert "MIREL_PORT" in result.stderr


def test_serve_needs_a_repository(cli: Cli) -> None:
    result = cli("serve")
    assert result.exit_code == 1
    assert "MIREL_REPO" in result.stderr


def test_serve_refuses_a_port_in_use(cli: Cli, tmp_path: Path, listening: int) -> None:
    result = cli("serve", "--repo", tmp_path / "hub.git", "--port", str(listening))
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{listening}" in result.stderr
    assert "--port" in result.stderr


def test_serve_refuses_a_missing_repository(
    cli: Cli, tmp_path: Path, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MIREL_DATABASE_URL", raising=False)
    result = cli("serve", "--repo", tmp_path / "nowhere.git", "--port", str(closed_port))
    assert result.exit_code == 1
    assert "no repository at" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    # Bad input changes nothing: not even a new database file in the current folder.
    assert not (tmp_path / "mirel.db").exists()


def test_serve_refuses_an_unreachable_database(
    cli: Cli, hub: Hub, closed_port: int, tmp_path: Path
) -> None:
    result = cli(
        "serve",
        "--repo",
        hub.repo.path,
        "--port",
        str(closed_port),
        "--db",
        f"postgresql://nobody@127.0.0.1:{closed_port}/mirel",
    )
    assert result.exit_code == 1
    assert "cannot open the database" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def listening_after_a_free_port() -> Iterator[int]:
    """Return a loopback port something listens on, whose predecessor was free a moment ago
    (other tests run at once: a port picked at random may be taken by one of them)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port: int = busy.getsockname()[1]
            if _free(port - 1):
                yield port
                return
    raise RuntimeError("no loopback port with a free predecessor")


def test_up_refuses_ports_in_use_before_writing_anything(
    cli: Cli, tmp_path: Path, listening_after_a_free_port: int
) -> None:
    listening = listening_after_a_free_port
    result = cli("up", "--dir", tmp_path / "up", "--port", str(listening - 1))
    assert result.exit_code == 1
    assert f"port {listening} (staging) is in use" in result.stderr
    assert not (tmp_path / "up").exists()


# -- tokens -----------------------------------------------------------------------------------


def test_token_create_stores_only_a_hash(cli: Cli, database_url: str) -> None:
    result = cli(
        "token",
        "create",
        "--db",
        database_url,
        "--name",
        "ci pipeline",
        "--scope",
        "source_control:deploy",
        "--scope",
        "source_control:releases:read",
    )
    assert result.exit_code == 0, result.stderr
    secret = result.stdout.strip()
    assert secret.startswith("mirel_")
    assert "shown only now" in result.stderr
    with open_database(database_url) as database:
        info = authenticate(database.sessions, secret)
        with database.engine.connect() as connection:
            stored = [row[0] for row in connection.exec_driver_sql("select token_hash from tokens")]
    assert info is not None
    assert info.name == "ci pipeline"
    assert info.scopes == {"source_control:deploy", "source_control:releases:read"}
    assert secret not in stored
    assert len(stored) == 1
    assert len(stored[0]) == 64


def test_token_all_scopes_list_and_revoke(cli: Cli, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'instance.db'}"
    created = cli("token", "create", "--db", url, "--scope", "all", "--name", "admin", "--json")
    assert created.exit_code == 0, created.stderr
    assert created.json["scopes"] == list(SCOPES)
    assert created.json["name"] == "admin"

    listed = cli("token", "list", "--db", url, "--json")
    assert [item["name"] for item in listed.json["tokens"]] == ["admin"]
    assert created.json["token"] not in listed.stdout
    token_id = listed.json["tokens"][0]["id"]

    assert cli("token", "revoke", str(token_id), "--db", url).exit_code == 0
    assert cli("token", "list", "--db", url, "--json").json == {"tokens": []}
    again = cli("token", "revoke", str(token_id), "--db", url)
    assert again.exit_code == 1
    assert "no token" in again.stderr


def test_token_create_takes_the_database_from_the_environment(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'from-env.db'}"
    monkeypatch.setenv("MIREL_DATABASE_URL", url)
    assert cli("token", "create", "--scope", "all").exit_code == 0
    assert (tmp_path / "from-env.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scope", "source_control:everything"], "unknown scope 'source_control:everything'"),
        (["--scope", "all", "--name", "a <b>"], "'<', '>'"),
        (["--scope", "all", "--db", "mysql://x/y"], "sqlite:///"),
    ],
)
def test_token_create_refuses_bad_input(
    cli: Cli, tmp_path: Path, args: list[str], message: str
) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'instance.db'}"] if "--db" not in args else []
    result = cli("token", "create", *db, *args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_token_create_without_a_database_says_which_to_name(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MIREL_DATABASE_URL", raising=False)
    result = cli("token", "create", "--scope", "all")
    assert result.exit_code == 1
    assert "--db URL" in result.stderr
    assert not (tmp_path / "mirel.db").exists()


@pytest.mark.parametrize("command", [("token", "list"), ("user", "list")])
def test_a_database_that_cannot_be_opened_is_one_line_and_exit_1(
    cli: Cli, tmp_path: Path, command: tuple[str, ...]
) -> None:
    missing = tmp_path / "no such folder" / "instance.db"
    started = time.monotonic()
    result = cli(*command, "--db", f"sqlite:///{missing}")
    assert result.exit_code == 1
    assert "cannot open the database" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    # Not retried as if another process were migrating it: that took 20 tries over 21 s.
    assert time.monotonic() - started < 10


def test_token_create_needs_a_scope(cli: Cli, tmp_path: Path) -> None:
    result = cli("token", "create", "--db", f"sqlite:///{tmp_path / 'i.db'}")
    assert result.exit_code == 2


# -- instance commands without an instance ----------------------------------------------------


@pytest.mark.parametrize("command", ["deploy", "deployments", "status"])
def test_instance_commands_say_where_the_instance_is_missing(
    cli: Cli, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MIREL_URL", raising=False)
    monkeypatch.setenv("MIREL_TOKEN", "mirel_x")
    result = cli(command)
    assert result.exit_code == 1
    assert "--url" in result.stderr


def test_instance_commands_need_a_token(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MIREL_TOKEN", raising=False)
    result = cli("status", "--url", "http://127.0.0.1:9")
    assert result.exit_code == 1
    assert "MIREL_TOKEN" in result.stderr


@pytest.mark.parametrize("command", ["deploy", "deployments", "status"])
def test_an_unreachable_instance_is_one_line_and_exit_1(
    cli: Cli, command: str, closed_port: int
) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    result = cli(command, "--url", url, "--token", "mirel_x", "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"cannot reach the instance at {url}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_url_that_is_not_http_is_refused(cli: Cli) -> None:
    result = cli("status", "--url", "127.0.0.1:8600", "--token", "mirel_x")
    assert result.exit_code == 1
    assert "http://host:8600" in result.stderr


def test_json_of_token_create_is_one_object(cli: Cli, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'i.db'}"
    result = cli("token", "create", "--db", url, "--scope", "source_control:read", "--json")
    assert json.loads(result.stdout)["scopes"] == ["source_control:read"]


# -- web users ----------------------------------------------------------------------------------


def test_user_commands_create_list_change_and_remove(
    cli: Cli, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mirel.instance.accounts.users import authenticate as sign_in

    monkeypatch.setattr("sys.stdin", io.StringIO("first-password\n"))
    made = cli(
        "user",
        "create",
        "eve",
        "--role",
        "editor",
        "--email",
        "eve@example.com",
        "--db",
        database_url,
        "--password-stdin",
        "--json",
    )
    assert made.exit_code == 0, made.stderr
    assert made.json["role"] == "editor"
    assert made.json["email"] == "eve@example.com"
    assert "password" not in made.stdout
    listed = cli("user", "list", "--db", database_url, "--json")
    assert [user["username"] for user in listed.json["users"]] == ["eve"]
    assert cli("user", "set-role", "eve", "admin", "--db", database_url).exit_code == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("second-password\n"))
    assert (
        cli("user", "set-password", "eve", "--db", database_url, "--password-stdin").exit_code == 0
    )
    with open_database(database_url) as database:
        assert sign_in(database.sessions, "eve", "first-password") is None
        user = sign_in(database.sessions, "eve", "second-password")
        assert user is not None
        assert user.role == "admin"
    refused = cli("user", "remove", "eve", "--db", database_url)
    assert refused.exit_code == 1
    assert "eve is the only admin" in refused.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["create", "eve"], "", "pass --password-stdin"),
        (["create", "eve", "--password-stdin"], "short\n", "8 to 1024 characters"),
        (
            ["create", "e ve", "--password-stdin"],
            "long-enough\n",
            "user name 'e ve' is not allowed",
        ),
        (["set-role", "nobody", "admin"], "", "there is no user 'nobody'"),
        (["remove", "nobody"], "", "there is no user 'nobody'"),
    ],
)
def test_user_commands_refuse_bad_input_in_one_line(
    cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    stdin: str,
    message: str,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    database = f"sqlite:///{tmp_path / 'users.db'}"
    result = cli("user", *args, "--db", database)
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert cli("user", "list", "--db", database, "--json").json == {"users": []}


def test_connect_stores_the_connection_with_its_secret_sealed(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from mirel.db.engine import open_database
    from mirel.instance.source_control import SecretBox, SourceControlStore

    url = f"sqlite:///{tmp_path / 'instance.db'}"
    secret = "glpat-the-project-token-of-the-test"
    args = ["connect", "gitlab", "--db", url, "--org", "acme", "--name", "shared"]
    # Without the instance's key nothing is stored, and the message says which key.
    monkeypatch.setattr("sys.stdin", io.StringIO(f"project_access_token={secret}\n"))
    refused = cli(*args, "--secrets-stdin")
    assert refused.exit_code == 1
    assert "MIREL_SECRET_KEY" in refused.stderr
    monkeypatch.setenv("MIREL_SECRET_KEY", "the key of this test, long and random")
    monkeypatch.setattr("sys.stdin", io.StringIO(f"project_access_token={secret}\n"))
    done = cli(*args, "--field", "url=https://gitlab.example.com", "--secrets-stdin", "--json")
    assert done.exit_code == 0, done.stderr
    assert done.json["config"]["project_access_token"] == "********"
    assert secret not in done.stdout + done.stderr
    with open_database(url) as database:
        store = SourceControlStore(database.sessions, SecretBox(os.environ["MIREL_SECRET_KEY"]))
        connection = store.connection()
    assert connection is not None
    assert connection.repo == "https://gitlab.example.com/acme/shared.git"
    assert connection.host.api_url == "https://gitlab.example.com/api/v4"
    assert connection.host.token == secret


def test_connect_never_echoes_a_secret_nor_takes_one_as_an_argument(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setenv("MIREL_SECRET_KEY", "the key of this test, long and random")
    url = f"sqlite:///{tmp_path / 'instance.db'}"
    args = ["connect", "github", "--db", url, "--org", "acme", "--name", "shared"]
    monkeypatch.setattr("sys.stdin", io.StringIO("ghp_a-token-without-its-name\n"))
    nameless = cli(*args, "--secrets-stdin")
    assert nameless.exit_code == 1
    assert "ghp_a-token-without-its-name" not in nameless.stdout + nameless.stderr
    argument = cli(*args, "--field", "personal_access_token=ghp_in-the-shell-history")
    assert argument.exit_code == 1
    assert "--secret" in argument.stderr
    assert "ghp_in-the-shell-history" not in argument.stdout + argument.stderr
    monkeypatch.setattr("sys.stdin", io.StringIO("api_token=x\n"))
    unknown = cli(*args, "--secrets-stdin")
    assert unknown.exit_code == 1
    assert "not a secret field" in unknown.stderr

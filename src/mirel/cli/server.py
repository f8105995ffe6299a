"""The server side of the `mirel` command (SPEC.md §6).

- `serve` runs one instance (the REST API under uvicorn), `up` the embedded default of three;
- `token create | list | revoke` manage API tokens in an instance's database;
- `deploy`, `deployments` and `status` talk to a running instance over HTTP (`--url`/MIREL_URL,
  `--token`/MIREL_TOKEN). Their `--json` prints exactly the `data` of the API's answer; an HTTP
  error exits 1 with the server's message, an unreachable instance exits 1 with one line.

The commands register themselves on the `cli` group when this module is imported (main.py does).
"""

from __future__ import annotations

import getpass
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from mirel.cli.main import cli, common, emit, options, print_table, stderr, stdout
from mirel.errors import InstanceRefused, InstanceUnreachable, InvalidInput
from mirel.settings import DEFAULT_DATABASE_URL, load_settings, normalise_database_url

F = TypeVar("F", bound=Callable[..., Any])

API = "/api/v2"
DONE = frozenset({"SUCCESS", "ERROR"})


# -- serve --------------------------------------------------------------------------------------


def listen(host: str, port: int) -> socket.socket:
    """Return a socket bound to `host:port`, or raise InvalidInput saying how to free the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # As uvicorn does: a port left in TIME_WAIT by a stopped server can be taken again at once.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise InvalidInput(
            f"cannot listen on {host}:{port}: {error.strerror or error}; "
            "stop what uses it or pass --port with a free port"
        ) from error
    sock.set_inheritable(True)
    return sock


@cli.command()
@common
@click.option("--manifest", help="The manifest to publish (or MIREL_MANIFEST).")
@click.option("--db", "database_url", metavar="URL", help="Database URL (or MIREL_DATABASE_URL).")
# Values are checked by the settings, so a bad one exits 1 with the same message as a bad
# MIREL_* variable.
@click.option("--port", help="Port to listen on (or MIREL_PORT; default 8600).")
@click.option("--host", help="Address to listen on (or MIREL_HOST; default 127.0.0.1).")
@click.option("--name", help="The instance's display name (or MIREL_NAME).")
@click.option(
    "--poll-interval",
    metavar="SECONDS",
    help="Seconds between polls of the default branch, 0 for none (or MIREL_POLL_INTERVAL).",
)
@click.option(
    "--webhook-secret",
    metavar="SECRET",
    help="Secret that signs webhooks (or MIREL_WEBHOOK_SECRET, which keeps it out of `ps`).",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
    help="How much the server logs.",
)
def serve(
    manifest: str | None,
    database_url: str | None,
    port: str | None,
    host: str | None,
    name: str | None,
    poll_interval: str | None,
    webhook_secret: str | None,
    log_level: str,
) -> None:
    """Run one instance: the REST API, deploys and the poller (settings: docs/settings.md)."""
    settings = load_settings(
        repo=options().repo,
        manifest=manifest,
        database_url=database_url,
        port=port,
        host=host,
        name=name,
        poll_interval=poll_interval,
        webhook_secret=webhook_secret,
    )
    sock = listen(settings.host, settings.port)
    # Imported once the settings are known to be good, so that bad ones fail at once.
    import uvicorn

    from mirel.instance import Instance
    from mirel.server import create_app

    try:
        instance = Instance(settings)
    except BaseException:
        sock.close()
        raise
    try:
        app = create_app(instance)
        bound_port = sock.getsockname()[1]
        publishing = instance.state.selected_manifest() or "(no manifest)"
        stderr.print(
            f"mirel instance {settings.name} on http://{settings.host}:{bound_port} publishing "
            f"{publishing} from {instance.hub.repo.path}",
            markup=False,
        )
        config = uvicorn.Config(app, log_level=log_level, lifespan="on")
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        instance.close()


@cli.command()
@common
@click.option(
    "--dir",
    "folder",
    default="mirel-up",
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Where the repository, databases and logs live (reused when it exists).",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65533),
    default=8600,
    show_default=True,
    help="Port of dev; staging and prod take the next two.",
)
def up(folder: Path, port: int) -> None:
    """Run the embedded default: a demo repository and instances dev, staging and prod."""
    from mirel.cli.fleet import run_fleet

    run_fleet(folder, port)


# -- tokens -------------------------------------------------------------------------------------


def _database_url(given: str | None) -> str:
    """Return the database URL of --db, else MIREL_DATABASE_URL, else the default file."""
    url = given or os.environ.get("MIREL_DATABASE_URL")
    if not url:
        # A token written into a new database next to the user's shell would never be seen by the
        # instance they meant, so the default file must be there already.
        if not Path(DEFAULT_DATABASE_URL.removeprefix("sqlite:///")).exists():
            raise InvalidInput(
                "say which instance database: pass --db URL or set MIREL_DATABASE_URL "
                "(the URL 'mirel serve' uses)"
            )
        url = DEFAULT_DATABASE_URL
    return normalise_database_url(url)


@contextmanager
def _sessions(database_url: str | None) -> Iterator[sessionmaker[Session]]:
    """Yield the sessions of an instance database, brought up to date; close it afterwards."""
    from mirel.db.engine import open_database

    with open_database(_database_url(database_url)) as database:
        yield database.sessions


def database_option(command: F) -> F:
    """Add --db to a token or user command."""
    return click.option(
        "--db",
        "database_url",
        metavar="URL",
        help="The instance's database URL (or MIREL_DATABASE_URL).",
    )(command)


@cli.group()
@common
def token() -> None:
    """Create, list and revoke API tokens (in an instance's database)."""


@token.command("create")
@common
@database_option
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    metavar="SCOPE",
    help="A scope the token grants; repeat it, or 'all' for every scope.",
)
@click.option("--name", help="What the token is for (default: your user name).")
def token_create(database_url: str | None, scopes: tuple[str, ...], name: str | None) -> None:
    """Create a token and print it once (only its hash is stored)."""
    from mirel.instance.accounts.tokens import SCOPES, create_token

    chosen = list(SCOPES) if "all" in scopes else list(scopes)
    label = (name if name is not None else _user_name()).strip()
    with _sessions(database_url) as sessions:
        secret = create_token(sessions, label, chosen)
    granted = [scope for scope in SCOPES if scope in chosen]
    data = {"token": secret, "name": label, "scopes": granted}

    def human() -> None:
        # The secret alone on stdout, so that `export MIREL_TOKEN=$(mirel token create ...)` works.
        click.echo(secret)
        stderr.print(
            f"token {label!r} with {', '.join(granted)}; "
            "it is shown only now, so keep it somewhere safe",
            markup=False,
        )

    emit(data, human)


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "mirel cli"


@token.command("list")
@common
@database_option
def token_list(database_url: str | None) -> None:
    """List the tokens of an instance's database (names and scopes, never secrets)."""
    from mirel.instance.accounts.tokens import list_tokens

    with _sessions(database_url) as sessions:
        tokens = list_tokens(sessions)

    def human() -> None:
        table = Table("id", "name", "created", "scopes", box=None)
        for info in tokens:
            table.add_row(
                str(info.id),
                escape(info.name),
                info.created_at.isoformat()[:19],
                ", ".join(info.ordered_scopes),
            )
        print_table(table if tokens else "no tokens; create one with 'mirel token create'")

    emit({"tokens": [info.to_json() for info in tokens]}, human)


@token.command("revoke")
@common
@database_option
@click.argument("token_id", metavar="ID", type=int)
def token_revoke(database_url: str | None, token_id: int) -> None:
    """Revoke a token by its id ('mirel token list' shows them)."""
    from mirel.instance.accounts.tokens import revoke_token

    with _sessions(database_url) as sessions:
        info = revoke_token(sessions, token_id).to_json()
    emit(info, lambda: stdout.print(f"[green]✓[/] revoked token {token_id} ({info['name']})"))


# -- web users --------------------------------------------------------------------------------


@cli.group()
@common
def user() -> None:
    """Create, list and change the web UI's users (in an instance's database)."""


def _read_password(from_stdin: bool) -> str:
    """Return a new password: one line of stdin, or typed twice at a terminal."""
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise InvalidInput(
            "no password given; pass --password-stdin and write it to stdin, or run this at a "
            "terminal to type it"
        )
    typed: str = click.prompt("password", hide_input=True, confirmation_prompt=True)
    return typed


def _user_row(item: dict[str, Any]) -> tuple[str, str, str, str]:
    return (
        escape(str(item["username"])),
        str(item["role"]),
        escape(str(item["email"] or "")),
        str(item["created_at"])[:19],
    )


@user.command("create")
@common
@database_option
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(["viewer", "editor", "admin"]),
    default="viewer",
    show_default=True,
    help="viewer reads; editor makes change requests; admin also merges and manages.",
)
@click.option("--email", help="The author address of their commits (optional).")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
def user_create(
    database_url: str | None, username: str, role: str, email: str | None, password_stdin: bool
) -> None:
    """Create a user who signs in to the web UI (only an argon2 hash of the password is kept)."""
    from mirel.instance.accounts.users import check_username, create_user

    check_username(username)
    password = _read_password(password_stdin)
    with _sessions(database_url) as sessions:
        info = create_user(sessions, username, password, role, email).to_json()
    emit(info, lambda: stdout.print(f"[green]✓[/] user {escape(username)} ({role}) can sign in"))


@user.command("list")
@common
@database_option
def user_list(database_url: str | None) -> None:
    """List the users of an instance's database (never their passwords)."""
    from mirel.instance.accounts.users import list_users

    with _sessions(database_url) as sessions:
        found = [info.to_json() for info in list_users(sessions)]

    def human() -> None:
        table = Table("user", "role", "email", "created", box=None)
        for item in found:
            table.add_row(*_user_row(item))
        print_table(table if found else "no users; create one with 'mirel user create'")

    emit({"users": found}, human)


@user.command("set-role")
@common
@database_option
@click.argument("username")
@click.argument("role", type=click.Choice(["viewer", "editor", "admin"]))
def user_set_role(database_url: str | None, username: str, role: str) -> None:
    """Give a user another role (the last admin stays an admin)."""
    from mirel.instance.accounts.users import set_role

    with _sessions(database_url) as sessions:
        info = set_role(sessions, username, role).to_json()
    emit(info, lambda: stdout.print(f"[green]✓[/] {escape(username)} is {role} now"))


@user.command("set-password")
@common
@database_option
@click.argument("username")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
def user_set_password(database_url: str | None, username: str, password_stdin: bool) -> None:
    """Give a user a new password; their sessions end."""
    from mirel.instance.accounts.users import set_password

    password = _read_password(password_stdin)
    with _sessions(database_url) as sessions:
        info = set_password(sessions, username, password).to_json()
    emit(info, lambda: stdout.print(f"[green]✓[/] {escape(username)} has a new password"))


@user.command("remove")
@common
@database_option
@click.argument("username")
def user_remove(database_url: str | None, username: str) -> None:
    """Delete a user and their sessions (the last admin stays)."""
    from mirel.instance.accounts.users import delete_user

    with _sessions(database_url) as sessions:
        info = delete_user(sessions, username).to_json()
    emit(info, lambda: stdout.print(f"[green]✓[/] removed user {escape(username)}"))


# -- talking to a running instance -------------------------------------------------------------


def remote(command: F) -> F:
    """Add --url and --token to a command that talks to a running instance."""
    command = click.option(
        "--token",
        "token_value",
        metavar="TOKEN",
        help="API token (or MIREL_TOKEN; the variable keeps it out of `ps`).",
    )(command)
    return click.option(
        "--url", metavar="URL", help="The instance, e.g. http://127.0.0.1:8600 (or MIREL_URL)."
    )(command)


class Remote:
    """An instance's REST API, answering `data` or raising a MirelError with one line."""

    def __init__(self, url: str | None, token_value: str | None, timeout: float = 30.0) -> None:
        base = url or os.environ.get("MIREL_URL")
        if not base:
            raise InvalidInput(
                "say which instance: pass --url URL or set MIREL_URL (e.g. http://127.0.0.1:8600)"
            )
        secret = token_value or os.environ.get("MIREL_TOKEN")
        if not secret:
            raise InvalidInput(
                "no API token: pass --token or set MIREL_TOKEN; "
                "make one with 'mirel token create --scope all --db URL'"
            )
        self.url = base.rstrip("/").removesuffix(API)
        if not self.url.startswith(("http://", "https://")):
            raise InvalidInput(f"{base!r} is not an http(s) URL; write it like http://host:8600")
        self._headers = {"Authorization": f"Bearer {secret}"}
        self._timeout = timeout

    def call(
        self, method: str, path: str, body: object = None, timeout: float | None = None
    ) -> Any:
        """Return the `data` of one API call."""
        try:
            response = httpx.request(
                method,
                f"{self.url}{API}{path}",
                headers=self._headers,
                json=body,
                timeout=timeout or self._timeout,
            )
        except httpx.HTTPError as error:
            detail = (str(error).splitlines() or ["no answer"])[0]
            raise InstanceUnreachable(
                f"cannot reach the instance at {self.url} ({error.__class__.__name__}: "
                f"{detail}); is it running? check --url or MIREL_URL"
            ) from error
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or "success" not in answer:
            raise InstanceRefused(
                f"{self.url} answered HTTP {response.status_code} without mirel's JSON; "
                "is --url the address of a mirel instance?",
                response.status_code,
            )
        if not answer["success"] or response.is_error:
            message = str(answer.get("message") or f"HTTP {response.status_code}")
            raise InstanceRefused(message.splitlines()[0], response.status_code)
        return answer.get("data")


def _deployment_line(item: dict[str, Any]) -> str:
    commit = str(item.get("commit_sha") or "-")[:12]
    return f"#{item.get('id')} {item.get('status')} at {commit}"


@cli.command()
@common
@remote
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait until the deploy has finished.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=300,
    show_default=True,
    help="Seconds to wait for the deploy to finish.",
)
def deploy(url: str | None, token_value: str | None, wait: bool, timeout: float) -> None:
    """Deploy the head of the default branch on a running instance; exit 1 if it fails."""
    client = Remote(url, token_value)
    before = client.call("GET", "/source_control/deployments?limit=1")["deployments"]
    # The API deploys before it answers (allow for a big first deploy).
    deployment: dict[str, Any] = client.call(
        "POST", "/source_control/deploy", timeout=max(timeout, 30.0)
    )
    # An unchanged head and manifest answer the last deployment again: nothing was done now.
    repeated = bool(before) and before[0]["id"] == deployment.get("id")
    deadline = time.monotonic() + timeout
    while wait and deployment.get("status") not in DONE and time.monotonic() < deadline:
        time.sleep(0.2)
        deployment = client.call("GET", f"/source_control/deployment/{deployment['id']}")

    def human() -> None:
        status = deployment.get("status")
        mark = {"SUCCESS": "[green]✓[/]", "ERROR": "[red]✗[/]"}.get(str(status), "…")
        if repeated and status == "SUCCESS":
            stdout.print(
                f"{mark} already deployed: deployment {_deployment_line(deployment)} "
                "has the current head and manifest; nothing to do"
            )
            return
        stdout.print(f"{mark} deployment {_deployment_line(deployment)}")
        changes = deployment.get("changes") or []
        for change in changes:
            stdout.print(f"  {_change_text(change)}", markup=False)
        if status == "SUCCESS" and not changes:
            stdout.print("  nothing changed")
        for problem in deployment.get("errors") or []:
            stderr.print(f"  {problem}", markup=False)

    emit(deployment, human)
    if deployment.get("status") == "ERROR":
        count = len(deployment.get("errors") or [])
        raise InstanceRefused(
            f"deployment #{deployment.get('id')} failed with {count} problem"
            f"{'s' if count != 1 else ''}; the instance keeps serving what it served before",
            409,
        )
    if wait and deployment.get("status") not in DONE:
        raise InstanceRefused(
            f"deployment #{deployment.get('id')} is still {deployment.get('status')} after "
            f"{timeout:g} s; follow it with 'mirel deployments'",
            409,
        )


def _change_text(change: object) -> str:
    """Return one change of a deployment as `name (kind): from → to`."""
    if not isinstance(change, dict):
        return str(change)

    def shown(release: object, missing: str) -> str:
        if release is None:
            return missing
        return "working version" if release == "working" else str(release)

    return (
        f"{change.get('name')} ({change.get('kind')}): "
        f"{shown(change.get('from'), 'not served')} → {shown(change.get('to'), 'not served')}"
    )


@cli.command()
@common
@remote
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="Show at most this many (newest first).",
)
def deployments(url: str | None, token_value: str | None, limit: int) -> None:
    """List a running instance's deployments, newest first."""
    data: dict[str, Any] = Remote(url, token_value).call(
        "GET", f"/source_control/deployments?limit={limit}"
    )

    def human() -> None:
        items = data.get("deployments", [])
        table = Table("id", "status", "commit", "manifest", "by", "started", "took", box=None)
        for item in items:
            table.add_row(
                str(item.get("id")),
                str(item.get("status")),
                str(item.get("commit_sha") or "-")[:12],
                escape(str(item.get("manifest") or "-")),
                escape(str(item.get("triggered_by") or "-")),
                str(item.get("created_at") or "-")[:19],
                _duration(item),
            )
        print_table(table if items else "no deployments yet; start one with 'mirel deploy'")

    emit(data, human)


def _duration(item: dict[str, Any]) -> str:
    from datetime import datetime

    try:
        started = datetime.fromisoformat(str(item["created_at"]))
        finished = datetime.fromisoformat(str(item["completed_at"]))
    except (KeyError, TypeError, ValueError):
        return "-"
    return f"{(finished - started).total_seconds():.2f} s"


@cli.command()
@common
@remote
def status(url: str | None, token_value: str | None) -> None:
    """Show a running instance: its name, manifest, deployed commit and last deployment."""
    client = Remote(url, token_value)
    data: dict[str, Any] = client.call("GET", "/instance")

    def human() -> None:
        stdout.print(f"instance  {escape(str(data.get('name')))}  ({client.url})")
        stdout.print(f"manifest  {escape(str(data.get('manifest') or '(none)'))}")
        stdout.print(f"deployed  {data.get('deployed_commit') or '(nothing yet)'}")
        last = data.get("last_deployment")
        if isinstance(last, dict):
            stdout.print(f"last      deployment {_deployment_line(last)}")

    emit(data, human)

"""Administration of an instance's database, without a running server: `mirel token create |
list | revoke` (API tokens) and `mirel user create | list | set-role | set-password | remove`
(the web UI's users).

Each command takes the database as `--db URL` (or MIREL_DATABASE_URL), the URL `mirel serve` uses.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from mirel.cli.base import F, common, emit, print_table, stderr, stdout
from mirel.errors import InvalidInput
from mirel.settings import DEFAULT_DATABASE_URL, normalise_database_url

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

# The values of mirel.instance.accounts.users.Role, written out so that `mirel --help` does not
# import the accounts (argon2, SQLAlchemy).
ROLES = ["viewer", "editor", "admin"]


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


# -- API tokens ---------------------------------------------------------------------------------


@click.group()
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
        info = revoke_token(sessions, token_id)
    emit(
        info.to_json(), lambda: stdout.print(f"[green]✓[/] revoked token {token_id} ({info.name})")
    )


# -- web users ----------------------------------------------------------------------------------


@click.group()
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


password_option = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)


@user.command("create")
@common
@database_option
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="viewer",
    show_default=True,
    help="viewer reads; editor makes change requests; admin also merges and manages.",
)
@click.option("--email", help="The author address of their commits (optional).")
@password_option
def user_create(
    database_url: str | None, username: str, role: str, email: str | None, password_stdin: bool
) -> None:
    """Create a user who signs in to the web UI (only an argon2 hash of the password is kept)."""
    from mirel.instance.accounts.users import check_username, create_user

    check_username(username)
    password = _read_password(password_stdin)
    with _sessions(database_url) as sessions:
        info = create_user(sessions, username, password, role, email)
    emit(
        info.to_json(),
        lambda: stdout.print(f"[green]✓[/] user {escape(username)} ({role}) can sign in"),
    )


@user.command("list")
@common
@database_option
def user_list(database_url: str | None) -> None:
    """List the users of an instance's database (never their passwords)."""
    from mirel.instance.accounts.users import list_users

    with _sessions(database_url) as sessions:
        found = list_users(sessions)

    def human() -> None:
        table = Table("user", "role", "email", "created", box=None)
        for info in found:
            table.add_row(
                escape(info.username),
                str(info.role),
                escape(info.email or ""),
                info.created_at.isoformat()[:19],
            )
        print_table(table if found else "no users; create one with 'mirel user create'")

    emit({"users": [info.to_json() for info in found]}, human)


@user.command("set-role")
@common
@database_option
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
def user_set_role(database_url: str | None, username: str, role: str) -> None:
    """Give a user another role (the last admin stays an admin)."""
    from mirel.instance.accounts.users import set_role

    with _sessions(database_url) as sessions:
        info = set_role(sessions, username, role)
    emit(info.to_json(), lambda: stdout.print(f"[green]✓[/] {escape(username)} is {role} now"))


@user.command("set-password")
@common
@database_option
@click.argument("username")
@password_option
def user_set_password(database_url: str | None, username: str, password_stdin: bool) -> None:
    """Give a user a new password; their sessions end."""
    from mirel.instance.accounts.users import set_password

    password = _read_password(password_stdin)
    with _sessions(database_url) as sessions:
        info = set_password(sessions, username, password)
    emit(info.to_json(), lambda: stdout.print(f"[green]✓[/] {escape(username)} has a new password"))


@user.command("remove")
@common
@database_option
@click.argument("username")
def user_remove(database_url: str | None, username: str) -> None:
    """Delete a user and their sessions (the last admin stays)."""
    from mirel.instance.accounts.users import delete_user

    with _sessions(database_url) as sessions:
        info = delete_user(sessions, username)
    emit(info.to_json(), lambda: stdout.print(f"[green]✓[/] removed user {escape(username)}"))


@user.command("unlock")
@common
@database_option
@click.argument("username")
def user_unlock(database_url: str | None, username: str) -> None:
    """Let a user sign in again after too many failed attempts."""
    from mirel.instance.accounts.throttle import unlock

    with _sessions(database_url) as sessions:
        lifted = unlock(sessions, username)
    emit(
        {"username": username, "unlocked": lifted},
        lambda: stdout.print(
            f"[green]✓[/] {escape(username)} may sign in again"
            if lifted
            else f"{escape(username)} was not locked"
        ),
    )

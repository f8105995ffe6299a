"""What every command shares: the common options (`Options`, `common`) and the output helpers.

`--json` prints exactly the objects the REST API returns in `data` (`emit`); without it, commands
print for people on `stdout` and report on `stderr`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from mirel.errors import InvalidInput

# What a command needs is imported when it runs (pygit2, the hub, httpx, pydantic's models):
# `mirel --help` and every command start without paying for the others.
if TYPE_CHECKING:
    from fastapi import FastAPI
    from rich.table import Table

    from mirel.git.repository import Author
    from mirel.hub import ChangeRequest, Hub
    from mirel.instance import Instance

# A command function, as click decorators (common, and the option groups of other modules) take it.
F = TypeVar("F", bound=Callable[..., Any])

# The application of one instance; `mirel serve` runs it. The CLI never imports the server
# (both are top layers): the installed command (mirel.console) hands the factory in.
AppFactory = Callable[["Instance"], "FastAPI"]

# User text (names, paths, descriptions, authors) is printed as written: no emoji codes, and
# `escape()` wherever it is mixed into markup.
stdout = Console(highlight=False, soft_wrap=True, emoji=False)
stderr = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


@dataclass
class Options:
    """The options every command accepts, before or after the command name, and what the
    command line was started with (the server's application factory)."""

    repo: str | None = None
    author: str | None = None
    json: bool = False
    debug: bool = False
    create_app: AppFactory | None = None

    def hub(self) -> Hub:
        """Return the hub of `--repo` (or MIREL_REPO)."""
        from mirel.git.remote import open_repository
        from mirel.hub import Hub
        from mirel.providers import HostSettings, repository_path

        path = self.repo or os.environ.get("MIREL_REPO")
        if not path:
            raise InvalidInput("say which repository: pass --repo PATH or set MIREL_REPO")
        # A remote URL is read through a local mirror, brought up to date as it opens.
        env = os.environ
        token = env.get("MIREL_GIT_TOKEN") or None
        provider = env.get("MIREL_PROVIDER") or "local"
        app = None
        username = env.get("MIREL_GIT_USERNAME") or "mirel"
        app_settings = (
            "MIREL_GITHUB_APP_ID",
            "MIREL_GITHUB_APP_INSTALLATION_ID",
            "MIREL_GITHUB_APP_PRIVATE_KEY",
        )
        if any(env.get(name) for name in app_settings):
            from mirel.providers import github_app  # its cryptography only when an app is set

            app = github_app.from_settings(
                env.get("MIREL_GITHUB_APP_ID"),
                env.get("MIREL_GITHUB_APP_INSTALLATION_ID"),
                env.get("MIREL_GITHUB_APP_PRIVATE_KEY"),
                provider=provider,
                api_url=env.get("MIREL_HOST_API_URL") or None,
                tokens={
                    name: bool(env.get(name)) for name in ("MIREL_GIT_TOKEN", "MIREL_HOST_TOKEN")
                },
            )
            username = github_app.GIT_USERNAME if app else username
        repository = open_repository(
            path,
            mirror=env.get("MIREL_MIRROR") or None,
            token=app or token,
            username=username,
            ssh_key=env.get("MIREL_GIT_SSH_KEY") or None,
        )
        host = HostSettings(
            provider,
            env.get("MIREL_HOST_REPOSITORY") or repository_path(path),
            env.get("MIREL_HOST_API_URL") or None,
            env.get("MIREL_HOST_TOKEN") or token,
            env.get("MIREL_HOST_USERNAME") or None,
            token_source=app,
        )
        return Hub.open(repository, host=host)

    def who(self, hub: Hub) -> Author:
        """Return the author: --author, MIREL_AUTHOR, else git's user.name and user.email."""
        from mirel.git.repository import Author

        text = self.author or os.environ.get("MIREL_AUTHOR")
        if text:
            return Author.parse(text)
        configured = hub.repo.configured_author()
        if configured is None:
            raise InvalidInput(
                "no author known; pass --author 'Name <email>', set MIREL_AUTHOR, "
                "or set git's user.name and user.email"
            )
        return configured


def _merge_option(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, _: click.Parameter, value: Any) -> Any:
        options = ctx.ensure_object(Options)
        if value not in (None, False):
            setattr(options, name, value)
        return value

    return callback


def common(command: F) -> F:
    """Add --repo, --author, --json and --debug to a command (and to the group)."""
    decorators = [
        click.option(
            "--repo",
            callback=_merge_option("repo"),
            expose_value=False,
            help="The bare repository (or MIREL_REPO).",
            metavar="PATH",
        ),
        click.option(
            "--author",
            callback=_merge_option("author"),
            expose_value=False,
            help="'Name <email>' (or MIREL_AUTHOR, else git's configuration).",
        ),
        click.option(
            "--json",
            "json_output",
            is_flag=True,
            default=False,
            callback=_merge_option("json"),
            expose_value=False,
            help="Print the API's JSON instead of text.",
        ),
        click.option(
            "--debug",
            is_flag=True,
            default=False,
            callback=_merge_option("debug"),
            expose_value=False,
            help="Show tracebacks of internal errors.",
        ),
    ]
    for decorator in decorators:
        command = decorator(command)
    return command


def options() -> Options:
    """Return the merged options of the running command."""
    return click.get_current_context().ensure_object(Options)


# -- output -------------------------------------------------------------------------------------


def print_table(table: Table | str) -> None:
    """Print a table; when the output is not a terminal, at full width, so no cell is cut."""
    piped = Console(highlight=False, soft_wrap=True, emoji=False, width=100_000)
    (stdout if stdout.is_terminal else piped).print(table)


def emit(data: object, human: Callable[[], None]) -> None:
    """Print `data` as JSON under --json, else call `human` to print it for people.

    `data` holds the API's answer models (or plain JSON values), so `--json` prints exactly what
    the REST API returns in `data`.
    """
    if options().json:
        from pydantic_core import to_jsonable_python

        shown = to_jsonable_python(data, by_alias=True)
        click.echo(json.dumps(shown, indent=2, sort_keys=False))
    else:
        human()


def emit_change(change: ChangeRequest, what: str) -> None:
    """Print the answer of a write: branch, commit and pull request."""

    def human() -> None:
        stdout.print(f"[green]✓[/] {escape(what)}")
        stdout.print(f"  branch  {escape(change.branch_name)}")
        stdout.print(f"  commit  {change.commit_sha}")
        if change.pull_request:
            stdout.print(
                f"  pull request #{change.pull_request.number} ({change.pull_request.state}): "
                f"merge it with 'mirel pr merge {change.pull_request.number}'"
            )

    if not options().json:
        human()
        return
    from mirel.http.models import ChangeRequestPublic

    emit(ChangeRequestPublic.of(change), human)


@contextmanager
def progress(message: str) -> Iterator[Callable[[str], None]]:
    """Show a spinner on a terminal while something takes a moment; yield a way to update it."""
    if not sys.stderr.isatty() or options().json:
        yield lambda _: None
        return
    with stderr.status(message) as status:
        yield lambda text: status.update(text)

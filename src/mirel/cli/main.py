"""The `mirel` command line: its root group, the command modules registered on it, and `main`,
the one mapping of errors to exit codes (SPEC.md §6).

Exit codes: 0 success, 1 a user error (one line saying what to do), 2 wrong usage, 3 an internal
error (the traceback is written to a file whose path is printed; `--debug` shows it instead).
`--json` prints exactly the objects the REST API returns in `data`.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback

import click

from mirel.cli.base import AppFactory, Options, common, stderr
from mirel.errors import MirelError

# Every command of `mirel`: its name, the module and attribute that hold it, and its one-line
# help (tests/cli/test_console.py checks each against the command's own). A command's module
# is imported only when that command runs, so `mirel --help` imports none of them, and a
# command pays only for what it uses.
COMMANDS: tuple[tuple[str, str, str, str], ...] = (
    ("init", "repository", "init", "Create a new bare repository with the standard layout."),
    (
        "validate",
        "repository",
        "validate",
        "Check the repository format; exit non-zero listing every problem.",
    ),
    (
        "matrix",
        "repository",
        "matrix",
        "Show every element against every manifest, with pins and drift.",
    ),
    (
        "repair",
        "repository",
        "repair",
        "Finish or release what interrupted commands left: a merge or close cut short, a "
        "release claimed by a branch without its pull request.",
    ),
    ("hook", "repository", "hook", "Deploy hooks: URLs the repository notifies after each merge."),
    (
        "demo",
        "repository",
        "demo",
        "Create a demo repository with apps, workflows, releases and manifests, and show it.",
    ),
    ("element", "elements", "element", "Put folders under source control and list elements."),
    ("release", "releases", "release", "Create, list, compare and delete releases."),
    (
        "manifest",
        "manifests",
        "manifest",
        "Create, show and change manifests (which release each instance publishes).",
    ),
    ("hotfix", "hotfixes", "hotfix", "Patch an older release line."),
    ("pr", "pull_requests", "pr", "List, show, merge and close pull requests (local provider)."),
    (
        "serve",
        "serve",
        "serve",
        "Run one instance: the REST API, deploys and the poller (settings: docs/settings.md).",
    ),
    (
        "up",
        "serve",
        "up",
        "Run the embedded default: a demo repository and instances dev, staging and prod.",
    ),
    ("token", "admin", "token", "Create, list and revoke API tokens (in an instance's database)."),
    (
        "user",
        "admin",
        "user",
        "Create, list and change the web UI's users (in an instance's database).",
    ),
    (
        "connect",
        "connect",
        "connect",
        "Connect an instance to its repository's host (docs/remote.md lists each provider's "
        "fields); the instance uses it from its next start.",
    ),
    (
        "deploy",
        "remote",
        "deploy",
        "Deploy the head of the default branch on a running instance; exit 1 if it fails.",
    ),
    (
        "deployments",
        "remote",
        "deployments",
        "List a running instance's deployments, newest first.",
    ),
    (
        "rollback",
        "remote",
        "rollback",
        "Propose (or --merge) restoring what an earlier deployment of MANIFEST served, as exact "
        "pins that no later release moves.",
    ),
    (
        "status",
        "remote",
        "status",
        "Show a running instance: its name, manifest, deployed commit and last deployment.",
    ),
)
_WHERE = {name: (module, attribute) for name, module, attribute, _ in COMMANDS}
_SHORT = {name: short for name, _, _, short in COMMANDS}


def load_command(name: str) -> click.Command:
    """Return command `name`, importing the module that holds it."""
    module, attribute = _WHERE[name]
    command = getattr(importlib.import_module(f"mirel.cli.{module}"), attribute)
    assert isinstance(command, click.Command)
    return command


def _cut(text: str, limit: int) -> str:
    """Return `text` cut to `limit` at a word, ending in "..." when cut (as click cuts)."""
    if len(text) <= limit:
        return text
    shown = ""
    for word in text.split():
        longer = f"{shown} {word}".strip()
        if len(longer) + 3 > limit:
            break
        shown = longer
    return f"{shown}..."


class _Commands(click.Group):
    """The root group: its commands imported when they run, listed from COMMANDS."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_WHERE)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(cmd_name) if cmd_name in _WHERE else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        # Cut as click cuts a loaded command's help, to the width the terminal leaves.
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, _cut(_SHORT[name], limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@common
@click.version_option(package_name="mirel")
def cli() -> None:
    """mirel: which release of each app and workflow is live on each instance, through git."""


def main(argv: list[str] | None = None, *, create_app: AppFactory | None = None) -> int:
    """Run the CLI and return its exit code (0 ok, 1 user error, 2 usage, 3 internal error).

    `create_app` builds the application `mirel serve` runs (mirel.console passes the server's).
    """
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or bool(os.environ.get("MIREL_DEBUG"))
    try:
        cli.main(
            args=args,
            prog_name="mirel",
            standalone_mode=False,
            obj=Options(create_app=create_app),
        )
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.UsageError as error:
        error.show()
        return 2
    except click.exceptions.Abort:
        stderr.print("aborted")
        return 1
    except click.ClickException as error:
        error.show()
        return 1
    except MirelError as error:
        hint = f"; {error.cli_hint}" if error.cli_hint else ""
        stderr.print(f"error: {error.message}{hint}", markup=False)
        return error.exit_code
    except Exception:
        _report_crash(debug)
        return 3
    return 0


def _report_crash(debug: bool) -> None:
    """Show the traceback of an internal error (--debug), or write it to a file and say where."""
    if debug:
        traceback.print_exc()
        return
    import tempfile  # only a crash writes a file

    handle, path = tempfile.mkstemp(prefix="mirel-crash-", suffix=".log")
    with os.fdopen(handle, "w") as stream:
        traceback.print_exc(file=stream)
    stderr.print(
        f"internal error: mirel failed unexpectedly; details written to {path} "
        "(rerun with --debug to see them here)",
        markup=False,
    )

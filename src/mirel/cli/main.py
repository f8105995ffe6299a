"""The `mirel` command line: its root group, the command modules registered on it, and `main`,
the one mapping of errors to exit codes (SPEC.md §6).

Exit codes: 0 success, 1 a user error (one line saying what to do), 2 wrong usage, 3 an internal
error (the traceback is written to a file whose path is printed; `--debug` shows it instead).
`--json` prints exactly the objects the REST API returns in `data`.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback

import click

from mirel.cli import (
    admin,
    connect,
    elements,
    hotfixes,
    manifests,
    pull_requests,
    releases,
    remote,
    repository,
    serve,
)
from mirel.cli.base import AppFactory, Options, common, stderr
from mirel.errors import MirelError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@common
@click.version_option(package_name="mirel")
def cli() -> None:
    """mirel: which release of each app and workflow is live on each instance, through git."""


# Every command of `mirel`, by the module that holds it.
COMMANDS: tuple[click.Command, ...] = (
    repository.init,
    repository.validate,
    repository.matrix,
    repository.repair,
    repository.hook,
    repository.demo,
    elements.element,
    releases.release,
    manifests.manifest,
    hotfixes.hotfix,
    pull_requests.pr,
    serve.serve,
    serve.up,
    admin.token,
    admin.user,
    connect.connect,
    remote.deploy,
    remote.deployments,
    remote.status,
)
for command in COMMANDS:
    cli.add_command(command)


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
    handle, path = tempfile.mkstemp(prefix="mirel-crash-", suffix=".log")
    with os.fdopen(handle, "w") as stream:
        traceback.print_exc(file=stream)
    stderr.print(
        f"internal error: mirel failed unexpectedly; details written to {path} "
        "(rerun with --debug to see them here)",
        markup=False,
    )

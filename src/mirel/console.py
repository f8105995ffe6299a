"""The installed `mirel` command (and `python -m mirel`): the command line with the server wired in.

`mirel.cli` and `mirel.server` are independent top layers, so the command line cannot import the
server's `create_app`. This module, outside the layers, is the composition root that joins them:
it runs the CLI with an application factory that imports the server only when `mirel serve`
builds its application, so that every other command (and `mirel --help`) starts without FastAPI.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from mirel.cli.main import main as run_cli

if TYPE_CHECKING:
    from fastapi import FastAPI

    from mirel.instance import Instance


def create_app(instance: Instance) -> FastAPI:
    """Return the application (REST API and pages) of one instance, as mirel.server builds it."""
    from mirel.server import create_app as assemble

    return assemble(instance)


def main(argv: list[str] | None = None) -> int:
    """Run the `mirel` command with `argv` (default: the process's arguments); return its exit
    code."""
    return run_cli(argv, create_app=create_app)


def run() -> None:
    """Console-script entry point: run `mirel` and exit with its code."""
    sys.exit(main())

"""`mirel element add | push | list`: put folders under source control and list elements."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from mirel.cli.base import F, common, emit, emit_change, options, print_table, stderr
from mirel.cli.folders import read_folder
from mirel.core.kinds import KINDS


@click.group()
@common
def element() -> None:
    """Put folders under source control and list elements."""


def _from_folder(help_text: str) -> Callable[[F], F]:
    """Return the required `--from DIR` option: the local folder a command reads files from."""
    return click.option(
        "--from", "source", required=True, type=click.Path(path_type=Path), help=help_text
    )


@element.command("add")
@common
# Not a click.Choice: an unknown kind is bad input (exit 1, one line), not wrong usage.
@click.argument("kind", metavar="{" + "|".join(kind.name for kind in KINDS) + "}")
@click.argument("name")
@_from_folder("The folder holding the element's files.")
def element_add(kind: str, name: str, source: Path) -> None:
    """Put a folder under source control as a new app or workflow (pull request)."""
    element_kind = KINDS.get(kind)
    hub = options().hub()
    change = hub.elements.add(element_kind, name, read_folder(source), options().who(hub))
    emit_change(change, f"proposed {element_kind.name} {name}")


@element.command("push")
@common
@click.argument("name")
@_from_folder("The folder holding the element's new files.")
@click.option(
    "--branch", help="Commit to this branch (an existing one, e.g. a hotfix, or a new one)."
)
@click.option("-m", "--message", help="The commit message.")
def element_push(name: str, source: Path, branch: str | None, message: str | None) -> None:
    """Commit a folder's new content for an element (pull request)."""
    hub = options().hub()
    change = hub.elements.push(
        name,
        read_folder(source),
        options().who(hub),
        branch=branch,
        message=f"{message}\n" if message else None,
    )
    emit_change(change, f"pushed {name}")


@element.command("list")
@common
def element_list() -> None:
    """List the elements on the default branch."""
    hub = options().hub()
    listing = hub.catalog.listing()
    rows = [
        {"uuid": e.uuid, "kind": e.kind.name, "element_type": e.kind.api_type, "name": e.name}
        for e in listing.elements
    ]
    # Folders that are not valid elements are listed with why (see BrokenFolder).
    broken = [
        {
            "kind": folder.kind.name,
            "name": folder.name,
            "path": folder.path,
            "problems": [str(problem) for problem in folder.problems],
        }
        for folder in listing.broken
    ]

    def human() -> None:
        table = Table("kind", "name", "uuid", box=None)
        for row in rows:
            table.add_row(row["kind"], escape(row["name"]), row["uuid"])
        for folder in listing.broken:
            table.add_row(folder.kind.name, escape(folder.name), "[red]broken[/]")
        empty = "no elements yet; add one with 'mirel element add'"
        print_table(table if rows or broken else empty)
        for folder in listing.broken:
            for problem in folder.problems:
                stderr.print(f"[red]broken[/] {escape(str(problem))}")

    emit({"elements": rows, "broken": broken}, human)

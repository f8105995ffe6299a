"""Commands about a whole repository: `mirel init`, `validate`, `matrix`, `repair`, `hook add |
remove | list` (its deploy hooks) and `demo`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from mirel.cli.base import common, emit, options, print_table, progress, stderr, stdout
from mirel.errors import InvalidInput, RepositoryInvalid
from mirel.git.repository import Author, global_author
from mirel.hub import Hub

# The matrix and its API model (pydantic) are imported by the commands that show it: `validate`
# and the others start without them.
if TYPE_CHECKING:
    from mirel.hub.values import Matrix
    from mirel.providers.base import DeployHookRegistry


@click.command()
@common
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--default-branch", default="main", show_default=True, help="The default branch.")
def init(path: Path, default_branch: str) -> None:
    """Create a new bare repository with the standard layout."""
    text = options().author or os.environ.get("MIREL_AUTHOR")
    author = Author.parse(text) if text else _git_author()
    hub = Hub.init(path, author, default_branch)
    data = {"path": str(hub.repo.path), "default_branch": default_branch, "commit_sha": hub.head()}
    emit(
        data,
        lambda: stdout.print(
            f"[green]✓[/] created {escape(str(hub.repo.path))} on {default_branch}"
        ),
    )


def _git_author() -> Author:
    author = global_author()
    if author is None:
        raise InvalidInput("no author known; pass --author 'Name <email>' or set MIREL_AUTHOR")
    return author


@click.command()
@common
@click.option("--ref", help="Check this branch or commit instead of the default branch.")
def validate(ref: str | None) -> None:
    """Check the repository format; exit non-zero listing every problem."""
    hub = options().hub()
    with progress("validating") as update:
        snapshot = hub.snapshot(ref)
        problems = hub.catalog.validate(ref, progress=lambda path: update(f"checking {path}"))
    data = {
        "commit_sha": snapshot.commit_sha,
        "valid": not problems,
        "problems": [{"path": p.path, "line": p.line, "message": p.message} for p in problems],
    }

    def human() -> None:
        for problem in problems:
            stdout.print(str(problem), markup=False)
        if not problems:
            stdout.print(f"[green]✓[/] {snapshot.commit_sha[:12]} is valid")

    emit(data, human)
    if problems:
        raise RepositoryInvalid(problems)


@click.command()
@common
def matrix() -> None:
    """Show every element against every manifest, with pins and drift."""
    from mirel.http.models import MatrixPublic
    from mirel.hub.matrix import matrix as build_matrix

    data = build_matrix(options().hub().catalog)
    emit(MatrixPublic.of(data), lambda: _print_matrix(data))


def _print_matrix(data: Matrix) -> None:
    names = data.manifests
    table = Table("element", "kind", "latest", *names, box=None)
    marks = {"ok": "", "behind": " [yellow](behind)[/]", "missing": " [red](missing)[/]"}
    for row in data.elements:
        cells = []
        for name in names:
            cell = row.pins[name]
            if cell.status == "not_in_manifest":
                cells.append("[dim]—[/]")
                continue
            shown = cell.release
            if cell.release == "latest":
                shown = f"latest={cell.resolved or 'working'}"
            cells.append(f"{shown}{marks.get(cell.status, '')}")
        name = f"{escape(row.name)} [red](broken)[/]" if row.problems else escape(row.name)
        table.add_row(name, row.kind, row.latest or "[dim]working[/]", *cells)
    for folder in data.broken:
        table.add_row(
            f"{escape(folder.name)} [red](broken)[/]", folder.kind, "", *["" for _ in names]
        )
    print_table(table if data.elements or data.broken else "no elements yet")
    for problem in data.problems:
        stderr.print(f"[red]problem[/] {escape(problem)}")
    for problem in [p for row in data.elements for p in row.problems] + [
        p for folder in data.broken for p in folder.problems
    ]:
        stderr.print(f"[red]broken[/] {escape(problem)}")


@click.command()
@common
def repair() -> None:
    """Finish or release what interrupted commands left: a merge or close cut short, a
    release claimed by a branch without its pull request. Safe to run at any time."""
    hub = options().hub()
    with progress("repairing"):
        done = hub.branches.leftovers.repair()
    data = {"repaired": [{"subject": item.subject, "action": item.action} for item in done]}

    def human() -> None:
        for item in done:
            stdout.print(f"{escape(item.subject)}: {escape(item.action)}")
        if not done:
            stdout.print("[green]✓[/] nothing to repair")

    emit(data, human)


@click.group()
@common
def hook() -> None:
    """Deploy hooks: URLs the repository notifies after each merge."""


def _hooks() -> DeployHookRegistry:
    return options().hub().provider.hooks


@hook.command("add")
@common
@click.argument("url")
@click.option(
    "--secret", help="Sign each call with HMAC-SHA256 of this secret (X-Mirel-Signature)."
)
def hook_add(url: str, secret: str | None) -> None:
    """Register a deploy hook URL."""
    hooks = _hooks().add(url, secret)
    emit({"hooks": hooks}, lambda: stdout.print(f"[green]✓[/] {escape(url)} registered"))


@hook.command("remove")
@common
@click.argument("url")
def hook_remove(url: str) -> None:
    """Unregister a deploy hook URL."""
    hooks = _hooks().remove(url)
    emit({"hooks": hooks}, lambda: stdout.print(f"[green]✓[/] {escape(url)} removed"))


@hook.command("list")
@common
def hook_list() -> None:
    """List deploy hook URLs."""
    hooks = _hooks().urls()
    emit(
        {"hooks": hooks}, lambda: stdout.print("\n".join(hooks) or "no deploy hooks", markup=False)
    )


@click.command()
@common
@click.option(
    "--dir",
    "folder",
    default="mirel-demo",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Where to create the demo repository.",
)
def demo(folder: Path) -> None:
    """Create a demo repository with apps, workflows, releases and manifests, and show it."""
    from mirel.http.models import MatrixPublic
    from mirel.hub.demo import build_demo
    from mirel.hub.matrix import matrix as build_matrix

    with progress("building the demo repository") as update:
        hub = build_demo(folder, progress=update)
    data = build_matrix(hub.catalog)
    emit(MatrixPublic.of(data), lambda: None)
    if not options().json:
        stdout.print(f"[green]✓[/] demo repository at {escape(str(hub.repo.path))}\n")
        _print_matrix(data)
        stdout.print(f"\nTry: mirel --repo {hub.repo.path} release list billing", markup=False)

"""`mirel hotfix create | release | close | list`: patch an older release line."""

from __future__ import annotations

import click

from mirel.cli.base import common, emit, emit_change, options, progress, stdout
from mirel.core.catalog import releases_of
from mirel.core.rules import hotfix_base
from mirel.core.versions import Version
from mirel.http.models import HotfixClosedPublic, HotfixPublic


@click.group()
@common
def hotfix() -> None:
    """Patch an older release line."""


@hotfix.command("create")
@common
@click.argument("element_ref", metavar="ELEMENT")
@click.argument("version", metavar="X.Y.Z")
def hotfix_create(element_ref: str, version: str) -> None:
    """Make the hotfix branch of a release's X.Y line."""
    hub = options().hub()
    change = hub.hotfixes.create(element_ref, version, options().who(hub))
    # The branch starts from the line's newest release, which may be above the one named.
    element, line = hub.catalog.element(element_ref), Version.parse(version).line
    base = hotfix_base(
        element.name, line, set(releases_of(hub.snapshot(), element.kind, element.uuid))
    )
    emit_change(change, f"started hotfix {line} of {element.name} from {base}")
    if not options().json:
        stdout.print(
            f"  commit fixes with 'mirel element push {element_ref} --from DIR "
            f"--branch {change.branch_name}'"
        )


@hotfix.command("release")
@common
@click.argument("element_ref", metavar="ELEMENT")
@click.argument("line", metavar="X.Y")
@click.option("-d", "--description", default="", help="What the patch fixes.")
@click.option(
    "--allow-same",
    is_flag=True,
    help="Release even when the branch holds the files of the line's newest release.",
)
def hotfix_release(element_ref: str, line: str, description: str, allow_same: bool) -> None:
    """Create the patch release of a hotfix (pull request)."""
    hub = options().hub()
    with progress("building the patch release"):
        change = hub.hotfixes.release(
            element_ref, line, options().who(hub), description, allow_same=allow_same
        )
    emit_change(change, f"proposed patch release {change.branch_name.rsplit('/', 1)[-1]}")


@hotfix.command("close")
@common
@click.argument("element_ref", metavar="ELEMENT")
@click.argument("line", metavar="X.Y")
@click.option(
    "--yes", "drop_commits", is_flag=True, help="Close it even when it has commits (they are lost)."
)
def hotfix_close(element_ref: str, line: str, drop_commits: bool) -> None:
    """Drop a hotfix branch (one with commits after its start only with --yes)."""
    data = options().hub().hotfixes.close(element_ref, line, drop_commits=drop_commits)
    emit(
        HotfixClosedPublic.of(data), lambda: stdout.print(f"[green]✓[/] removed {data.branch_name}")
    )


@hotfix.command("list")
@common
def hotfix_list() -> None:
    """List the open hotfix branches."""
    found = options().hub().catalog.hotfixes()

    def human() -> None:
        if not found:
            stdout.print("no open hotfixes")
        for item in found:
            stdout.print(f"{item.element_name} {item.line}  {item.branch_name}")

    emit({"hotfixes": [HotfixPublic.of(item) for item in found]}, human)

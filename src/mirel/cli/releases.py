"""`mirel release create | list | delete | diff`: an element's releases."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from mirel.cli.base import common, emit, emit_change, options, print_table, progress, stdout
from mirel.core.versions import Bump
from mirel.http.models import ReleaseDiffPublic, ReleasePublic
from mirel.hub.compare import release_diff as compare_releases


@click.group()
@common
def release() -> None:
    """Create, list, compare and delete releases."""


@release.command("create")
@common
@click.argument("element_ref", metavar="ELEMENT")
@click.option("--major", "bump", flag_value=Bump.MAJOR.value, help="Next major version.")
@click.option("--minor", "bump", flag_value=Bump.MINOR.value, help="Next minor version.")
@click.option("--patch", "bump", flag_value=Bump.PATCH.value, help="Next patch version.")
@click.option("--version", "version", metavar="X.Y.Z", help="An explicit version.")
@click.option("-d", "--description", default="", help="What this release brings.")
@click.option(
    "--allow-same",
    is_flag=True,
    help="Release even when the files are those of the release before it.",
)
def release_create(
    element_ref: str, bump: str | None, version: str | None, description: str, allow_same: bool
) -> None:
    """Create a release of an element's working version (pull request)."""
    if (bump is None) == (version is None):
        raise click.UsageError("choose one of --major, --minor, --patch or --version X.Y.Z")
    hub = options().hub()
    author = options().who(hub)
    with progress("building the release artifact") as update:
        change = hub.releases.create(
            element_ref,
            author,
            bump=Bump(bump) if bump else None,
            version=version,
            description=description,
            allow_same=allow_same,
            progress=update,
        )
    emit_change(
        change, f"proposed release {change.branch_name.rsplit('/', 1)[-1]} of {element_ref}"
    )


@release.command("list")
@common
@click.argument("element_ref", metavar="ELEMENT")
def release_list(element_ref: str) -> None:
    """List an element's releases, newest first."""
    views = options().hub().catalog.releases(element_ref)

    def human() -> None:
        if not views:
            stdout.print(
                f"{element_ref} has no releases yet; create one with 'mirel release create'"
            )
            return
        table = Table("version", "created", "by", "published in", "description", box=None)
        for view in views:
            table.add_row(
                str(view.version),
                view.info.created_at,
                escape(view.info.created_by),
                ", ".join(view.published_in) or "-",
                escape(view.info.description),
            )
        print_table(table)

    emit([ReleasePublic.of(view) for view in views], human)


@release.command("delete")
@common
@click.argument("element_ref", metavar="ELEMENT")
@click.argument("version", metavar="X.Y.Z")
def release_delete(element_ref: str, version: str) -> None:
    """Delete a release (pull request); refused while a manifest pins it."""
    hub = options().hub()
    change = hub.releases.delete(element_ref, version, options().who(hub))
    emit_change(change, f"proposed deleting {element_ref} {version}")


@release.command("diff")
@common
@click.argument("element_ref", metavar="ELEMENT")
@click.argument("version", metavar="X.Y.Z")
@click.option(
    "--against", metavar="X.Y.Z", help="Compare with this release (default: the previous one)."
)
def release_diff(element_ref: str, version: str, against: str | None) -> None:
    """Show the files added, removed and changed between two releases."""
    data = compare_releases(options().hub().catalog, element_ref, version, against)

    def human() -> None:
        stdout.print(f"{data.element_name} {data.against or '(nothing)'} → {data.release_version}")
        for status, entries in (
            ("added", data.added),
            ("removed", data.removed),
            ("changed", data.changed),
        ):
            for entry in entries:
                stdout.print(f"[bold]{status}[/] {escape(entry.path)}")
                click.echo(entry.diff, nl=False)

    emit(ReleaseDiffPublic.of(data), human)

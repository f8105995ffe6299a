"""`mirel manifest create | list | show | set | unset`: which release each instance publishes."""

from __future__ import annotations

import click

from mirel.cli.base import common, emit, emit_change, options, stdout
from mirel.core.manifest import write_manifest
from mirel.http.models import ManifestPublic


@click.group()
@common
def manifest() -> None:
    """Create, show and change manifests (which release each instance publishes)."""


@manifest.command("create")
@common
@click.argument("name")
def manifest_create(name: str) -> None:
    """Create an empty manifest (pull request)."""
    hub = options().hub()
    emit_change(hub.manifests.create(name, options().who(hub)), f"proposed manifest {name}")


@manifest.command("list")
@common
def manifest_list() -> None:
    """List the manifests on the default branch."""
    hub = options().hub()
    snapshot_manifests = [hub.catalog.manifest(name) for name in hub.catalog.manifest_names()]

    def human() -> None:
        if not snapshot_manifests:
            stdout.print("no manifests yet; create one with 'mirel manifest create NAME'")
        for item in snapshot_manifests:
            count = sum(len(pins) for pins in item.pins.values())
            stdout.print(f"{item.name}  ({count} pin{'s' if count != 1 else ''})")

    shown = [ManifestPublic.of_manifest(item) for item in snapshot_manifests]
    emit({"manifests": shown}, human)


@manifest.command("show")
@common
@click.argument("name")
def manifest_show(name: str) -> None:
    """Show one manifest."""
    found = options().hub().catalog.manifest(name)
    shown = ManifestPublic.of_manifest(found)
    emit({"manifest": shown}, lambda: click.echo(write_manifest(found), nl=False))


@manifest.command("set")
@common
@click.argument("name")
@click.argument("element_ref", metavar="ELEMENT")
@click.argument("release_ref", metavar="RELEASE")
def manifest_set(name: str, element_ref: str, release_ref: str) -> None:
    """Pin ELEMENT at RELEASE (X.Y.Z or latest) in a manifest (pull request)."""
    hub = options().hub()
    change = hub.manifests.set_pin(name, element_ref, release_ref, options().who(hub))
    emit_change(change, f"proposed {name}: {element_ref} → {release_ref}")


@manifest.command("unset")
@common
@click.argument("name")
@click.argument("element_ref", metavar="ELEMENT")
def manifest_unset(name: str, element_ref: str) -> None:
    """Remove ELEMENT's pin from a manifest (pull request)."""
    hub = options().hub()
    change = hub.manifests.unset_pin(name, element_ref, options().who(hub))
    emit_change(change, f"proposed removing {element_ref} from {name}")

"""Resolving a manifest against a commit's releases into the desired state (SPEC.md §3, §4)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from mirel.core.catalog import Element, Release
from mirel.core.manifest import LATEST, Manifest, manifest_path
from mirel.core.versions import Version, VersionRange
from mirel.errors import Problem

# How a working version is named where a release version would be ("X.Y.Z" or "working").
WORKING = "working"


@dataclass(frozen=True)
class Desired:
    """What one element should serve: a release, or its working version (release None)."""

    element: Element
    pin: str | None  # the manifest's pin, None when the manifest does not list the element
    release: Release | None

    @property
    def version(self) -> Version | None:
        """Return the live release version, None for the working version."""
        return self.release.version if self.release else None

    @property
    def in_manifest(self) -> bool:
        """Return whether the manifest lists the element."""
        return self.pin is not None


def resolve_pin(pin: str, releases: Mapping[Version, Release]) -> Release | None:
    """Return the release a pin selects; None means the working version.

    `latest` is the highest release, or the working version when there is none. A range
    (`~X.Y`, `^X`) is the highest release in it. An exact pin that is not among `releases`, or a
    range no release is in, raises KeyError (the caller reports it as a problem).
    """
    if pin == LATEST:
        return releases[max(releases)] if releases else None
    if VersionRange.is_valid(pin):
        highest = VersionRange.parse(pin).highest(releases)
        if highest is None:
            raise KeyError(pin)
        return releases[highest]
    return releases[Version.parse(pin)]


def missing_pin_message(element: Element, pin: str) -> str:
    """Return why `pin` selects no release of `element` (resolve_pin raised KeyError)."""
    if VersionRange.is_valid(pin):
        return f"pins {element.name} {pin}, which no release of it is in"
    return (
        f"pins {element.name} {pin}, which is not released "
        f"(missing {element.kind.artifact_path(element.uuid, pin)})"
    )


def resolve_manifest(
    manifest: Manifest | None,
    elements: Sequence[Element],
    releases_for: Callable[[Element], Mapping[Version, Release]],
) -> tuple[list[Desired], list[Problem]]:
    """Return the desired state of every element and every problem that blocks it.

    With no manifest every element is served at its working version. An element the manifest
    does not list is served at its working version too.
    """
    desired: list[Desired] = []
    problems: list[Problem] = []
    by_uuid = {element.uuid: element for element in elements}
    listed: set[str] = set()
    if manifest is not None:
        path = manifest_path(manifest.name)
        for kind_plural, pins in manifest.pins.items():
            for pin in pins:
                listed.add(pin.uuid)
                element = by_uuid.get(pin.uuid)
                if element is None or element.kind.plural != kind_plural:
                    problems.append(
                        Problem(path, f"pins {kind_plural[:-1]} {pin.uuid}, which does not exist")
                    )
                    continue
                releases = releases_for(element)
                try:
                    release = resolve_pin(pin.release, releases)
                except KeyError:
                    problems.append(Problem(path, missing_pin_message(element, pin.release)))
                    continue
                desired.append(Desired(element=element, pin=pin.release, release=release))
    for element in elements:
        if element.uuid not in listed:
            desired.append(Desired(element=element, pin=None, release=None))
    desired.sort(key=lambda item: (item.element.kind.name, item.element.name))
    return desired, problems

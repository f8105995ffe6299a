"""The source control settings: the Releases pane, Edit config, and one manifest's page."""

from __future__ import annotations

from dataclasses import dataclass

from mirel.core.catalog import Element
from mirel.core.kinds import KINDS
from mirel.errors import ManifestInvalid
from mirel.hub import Hub
from mirel.instance import Instance, InstanceInfo
from mirel.providers.base import InstanceReport, PullRequest
from mirel.web.views.plans import created_manifests
from mirel.web.views.source_control import provider_in_use


@dataclass(frozen=True)
class SettingsPage:
    """The Releases pane: this instance, every manifest, and what each instance reported."""

    info: InstanceInfo
    manifests: list[str]
    reports: list[InstanceReport]
    head: str  # the default branch's commit
    pending_manifests: dict[str, list[PullRequest]]  # manifests open pull requests create
    provider: str  # the provider of the connection in use


def settings_page(instance: Instance) -> SettingsPage:
    """Return the data of the Releases pane, with the manifests open pull requests create."""
    hub = instance.hub
    return SettingsPage(
        info=instance.info(),
        manifests=hub.catalog.manifest_names(),
        reports=hub.provider.instance_reports(),
        head=hub.head(),
        pending_manifests=created_manifests(hub.proposals.all()),
        provider=provider_in_use(instance),
    )


@dataclass(frozen=True)
class ConfigPage:
    """Edit config: the manifests to choose from and the one this instance publishes."""

    manifests: list[str]
    selected: str | None  # None: every element at its working version


def config_page(instance: Instance) -> ConfigPage:
    """Return the data of Edit config."""
    return ConfigPage(instance.hub.catalog.manifest_names(), instance.state.selected_manifest())


@dataclass(frozen=True)
class ManifestPin:
    """One pin of a manifest, with the element it names (None: no such element)."""

    kind: str
    uuid: str
    release: str
    element: Element | None


@dataclass(frozen=True)
class ManifestPage:
    """One manifest: its pins (or why it cannot be read) and the instances that publish it."""

    name: str
    pins: list[ManifestPin]
    problems: list[str]  # what makes it invalid; then it shows no pins
    reports: list[InstanceReport]


def manifest_page(hub: Hub, name: str) -> ManifestPage:
    """Return one manifest of the default branch; raise ManifestNotFound."""
    problems: list[str] = []
    pins: list[ManifestPin] = []
    try:
        document = hub.catalog.manifest(name)
    except ManifestInvalid as error:
        problems = [str(problem) for problem in error.problems]
    else:
        elements = hub.catalog.elements_by_uuid()
        pins = [
            ManifestPin(kind.name, pin.uuid, pin.release, elements.get(pin.uuid))
            for kind in KINDS
            for pin in document.pins_of(kind)
        ]
    reports = [report for report in hub.provider.instance_reports() if report.manifest == name]
    return ManifestPage(name, pins, problems, reports)

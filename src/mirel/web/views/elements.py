"""An element's pages: the element with its releases, hotfixes and history; Create new; one
release compared or about to be deleted; a hotfix's patch release; one file it serves."""

from __future__ import annotations

from dataclasses import dataclass

from mirel.core.catalog import Element
from mirel.core.names import is_valid_name
from mirel.core.versions import Version
from mirel.errors import ElementNotFound, HotfixNotFound, Problem, ReleaseNotFound
from mirel.git.repository import CommitInfo
from mirel.hub import Hub, ReleaseView
from mirel.hub.compare import release_diff
from mirel.hub.values import HotfixView, ReleaseDiff
from mirel.instance import Instance, LiveElement
from mirel.providers.base import PullRequest
from mirel.web.views.kinds import KIND_NAMES
from mirel.web.views.plans import PlanView, pin_compare_link, plan_view
from mirel.web.views.releases_tab import current_pin

HISTORY_PAGE = 20


def element_at(hub: Hub, kind: str, name: str) -> Element:
    """Return the element of a page address; raise ElementNotFound (a 404 page) otherwise."""
    if kind not in KIND_NAMES or not is_valid_name(name):
        raise ElementNotFound(
            f"there is no {kind[:40]} called {name[:100]!r}; the home page lists every element"
        )
    return hub.catalog.element(f"{kind}/{name}")


@dataclass(frozen=True)
class ElementPage:
    """An element: what this instance serves, its releases, hotfixes and history."""

    element: Element
    live: LiveElement | None
    releases: list[ReleaseView]
    manifests: list[str]
    hotfixes: list[HotfixView]
    history: list[CommitInfo]
    older: str | None  # where the next page of history starts
    pending: list[tuple[Version, PullRequest]]  # releases open pull requests add, newest first
    problems: tuple[Problem, ...] = ()  # what keeps its working folder from being released

    @property
    def live_label(self) -> str:
        """Return the live version as people read it: `0.3.0` or `working version`."""
        if self.live is None:
            return "not deployed yet"
        return self.live.live_release or "working version"

    @property
    def forms(self) -> set[str]:
        """Return the forms the page shows an error beside: one per release and hotfix."""
        return {f"release-{release.version}" for release in self.releases} | {
            f"hotfix-{hotfix.line}" for hotfix in self.hotfixes
        }

    def hotfix_for(self, version: Version) -> HotfixView | None:
        """Return the open hotfix of a release's line, if any."""
        line = str(version.line)
        return next((item for item in self.hotfixes if item.line == line), None)


def element_page(instance: Instance, kind: str, name: str, before: str | None) -> ElementPage:
    """Return the data of an element's page (history from `before`, else from the head)."""
    hub = instance.hub
    element = element_at(hub, kind, name)
    try:
        live: LiveElement | None = instance.live.element(element.uuid)
    except ElementNotFound:
        live = None  # a new element this instance has not deployed yet
    start = before if before and len(before) == 40 else None
    history, older = hub.catalog.element_history(element, start, HISTORY_PAGE)
    return ElementPage(
        element=element,
        live=live,
        releases=hub.catalog.releases(element.reference),
        manifests=hub.catalog.manifest_names(),
        hotfixes=hub.catalog.element_hotfixes(element),
        history=history,
        older=older,
        pending=hub.proposals.releases_of(element),
        problems=hub.catalog.folder_problems(element),
    )


@dataclass(frozen=True)
class ReleaseForm:
    """Create new and its confirmation: an element and the version each bump gives it."""

    element: Element
    versions: dict[str, str]  # major, minor and patch -> the version it gives


def release_form(hub: Hub, kind: str, name: str) -> ReleaseForm:
    """Return the data of an element's Create new form."""
    element = element_at(hub, kind, name)
    return ReleaseForm(element, hub.catalog.next_versions(element.reference))


def repeated_release(hub: Hub, element: Element, version: str) -> Version | None:
    """Return the release that `version` of the working files would repeat file for file."""
    return hub.releases.same_as(element, Version.parse(version))


@dataclass(frozen=True)
class PublishConfirmation:
    """Publishing a release to a manifest, before its branch is made: the pin it replaces and
    what each instance would change once it is merged."""

    element: Element
    version: str
    manifest: str
    pinned: str | None  # what the manifest pins now (None: not listed, or a new manifest)
    compare: str | None  # the page comparing the release pinned now with this one
    plan: PlanView


def publish_confirmation(
    hub: Hub, kind: str, name: str, version: str, manifest: str
) -> PublishConfirmation:
    """Return the confirmation of publishing a release to a manifest; raise what proposing it
    would (a pin already there, one an open pull request proposes, a release that is not)."""
    element = element_at(hub, kind, name)
    plan = hub.plans.for_pins([(manifest, element.reference, version)])
    pinned = current_pin(hub, manifest, element.uuid)
    compare = pin_compare_link(
        hub.snapshot(), element.kind.name, element.uuid, element.name, pinned, version
    )
    return PublishConfirmation(element, version, manifest, pinned, compare, plan_view(hub, plan))


@dataclass(frozen=True)
class ReleaseComparison:
    """One release of an element against another, and the releases to compare it with."""

    element: Element
    diff: ReleaseDiff
    versions: list[str]  # every release of the element, newest first


def release_comparison(
    hub: Hub, kind: str, name: str, version: str, against: str | None
) -> ReleaseComparison:
    """Return the files that differ between a release and `against` (None: the one before)."""
    element = element_at(hub, kind, name)
    diff = release_diff(hub.catalog, element.reference, version, against)
    versions = [str(view.version) for view in hub.catalog.releases(element.reference)]
    return ReleaseComparison(element, diff, versions)


def release_of(element: Element, releases: list[ReleaseView], version: str) -> ReleaseView:
    """Return one release of an element's list; raise ReleaseNotFound."""
    for release in releases:
        if str(release.version) == version:
            return release
    raise ReleaseNotFound(f"{element.name} has no release {version[:40]} on the default branch")


@dataclass(frozen=True)
class ReleaseToDelete:
    """A release about to be deleted, with the manifests that still pin it."""

    element: Element
    release: ReleaseView


def release_to_delete(hub: Hub, kind: str, name: str, version: str) -> ReleaseToDelete:
    """Return the release a Delete page asks about; raise ReleaseNotFound."""
    element = element_at(hub, kind, name)
    return ReleaseToDelete(
        element, release_of(element, hub.catalog.releases(element.reference), version)
    )


def hotfix_of(hub: Hub, element: Element, line: str) -> HotfixView:
    """Return an element's open hotfix of `line`; raise HotfixNotFound."""
    for item in hub.catalog.element_hotfixes(element):
        if item.line == line:
            return item
    raise HotfixNotFound(f"{element.name} has no open hotfix for {line[:20]}")


@dataclass(frozen=True)
class PatchRelease:
    """The patch release an open hotfix would make."""

    element: Element
    hotfix: HotfixView
    version: str  # the version of the patch release
    same_as: Version | None  # the release it would repeat file for file, if any


def patch_release(hub: Hub, kind: str, name: str, line: str) -> PatchRelease:
    """Return the patch release of an element's hotfix of `line`; raise HotfixNotFound."""
    element = element_at(hub, kind, name)
    hotfix = hotfix_of(hub, element, line)
    version = hub.catalog.next_hotfix_version(element.reference, line)
    source = hub.catalog.snapshot(hotfix.commit_sha)
    same_as = hub.releases.same_as(element, Version.parse(version), source)
    return PatchRelease(element, hotfix, version, same_as)


@dataclass(frozen=True)
class HotfixToClose:
    """An open hotfix about to be closed, with the commits closing it would drop."""

    element: Element
    hotfix: HotfixView
    commits: list[CommitInfo]  # after the one that started the branch, newest first


def hotfix_to_close(hub: Hub, kind: str, name: str, line: str) -> HotfixToClose:
    """Return the hotfix a Close confirmation asks about; raise HotfixNotFound."""
    element = element_at(hub, kind, name)
    hotfix = hotfix_of(hub, element, line)
    return HotfixToClose(element, hotfix, hub.catalog.hotfix_commits(hotfix.commit_sha))


@dataclass(frozen=True)
class LiveFile:
    """One file of what this instance serves for an element."""

    element: Element
    path: str
    text: str | None  # None: not UTF-8 text, so it is not shown
    size: int  # in bytes


def live_file(instance: Instance, kind: str, name: str, path: str) -> LiveFile:
    """Return one file this instance serves; raise ElementNotFound or LiveFileNotFound."""
    element = element_at(instance.hub, kind, name)
    content = instance.live.file(element.uuid, path)
    try:
        text: str | None = content.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return LiveFile(element, path, text, len(content))

"""The matrix: elements against every manifest, with pins, what they resolve to, and drift.

It is the Releases tab's data and the answer of `GET /source_control/elements`. Only the rows of
the requested page read their releases, so a page costs the same with 20 elements or 2,000.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

from mirel.core.catalog import BrokenFolder, Element, Release
from mirel.core.kinds import ElementKind
from mirel.core.manifest import Manifest
from mirel.core.resolve import resolve_pin
from mirel.core.versions import Version
from mirel.errors import Problem
from mirel.git.snapshot import CommitSnapshot
from mirel.hub.catalog import Catalog
from mirel.hub.values import BrokenElement, CellDeploy, Matrix, MatrixCell, MatrixRow
from mirel.providers.base import InstanceReport


def cell_of(
    pin: str | None, found: Mapping[Version, Release], latest: Version | None
) -> MatrixCell:
    """Return one matrix cell: the pin, what it resolves to among `found` (whose highest is
    `latest`), and its status."""
    if pin is None:
        return MatrixCell(release=None, resolved=None, status="not_in_manifest")
    try:
        release = resolve_pin(pin, found)
    except KeyError:
        return MatrixCell(release=pin, resolved=None, status="missing")
    resolved = release.version if release else None
    behind = resolved is not None and latest is not None and resolved < latest
    return MatrixCell(
        release=pin,
        resolved=str(resolved) if resolved else None,
        status="behind" if behind else "ok",
    )


def _deploys(
    cell: MatrixCell, uuid: str, reports: Sequence[InstanceReport]
) -> tuple[CellDeploy, ...]:
    """Return what each instance publishing the cell's manifest (`reports`) serves of an
    element, against the pin.

    `current` is false while the instance serves something else than what the manifest on the
    default branch resolves to: the pin is not deployed there yet (or its deploy failed).
    """
    wanted = cell.resolved or ("working" if cell.status != "missing" else None)
    return tuple(
        CellDeploy(
            instance=report.name,
            serves=report.live.get(uuid),
            current=wanted is not None and report.live.get(uuid) == wanted,
            status=report.status,
        )
        for report in reports
    )


def _row(
    element: Element,
    found: Mapping[Version, Release],
    manifests: Mapping[str, Manifest],
    reports: Mapping[str, Sequence[InstanceReport]],
    problems: Sequence[Problem] = (),
) -> MatrixRow:
    """Return one element's row: its releases and its cell in every manifest.

    `reports` are by manifest name. Twenty manifests pin an element to a few distinct pins: each
    is resolved once per row (the matrix has 40,000 cells at the design size).
    """
    versions = sorted(found, reverse=True)
    latest = versions[0] if versions else None
    cells: dict[str | None, MatrixCell] = {}
    pins: dict[str, MatrixCell] = {}
    for manifest_name in sorted(manifests):
        pin = manifests[manifest_name].find(element.uuid)
        release = pin[1].release if pin else None
        cell = cells.get(release)
        if cell is None:
            cell = cells[release] = cell_of(release, found, latest)
        publishing = reports.get(manifest_name)
        if publishing:
            deploys = _deploys(cell, element.uuid, publishing)
            cell = MatrixCell(cell.release, cell.resolved, cell.status, deploys)
        pins[manifest_name] = cell
    return MatrixRow(
        uuid=element.uuid,
        kind=element.kind.name,
        element_type=element.kind.api_type,
        name=element.name,
        releases=tuple(map(str, versions)),
        latest=str(latest) if latest else None,
        pins=pins,
        problems=tuple(str(problem) for problem in problems),
    )


def reports_key(reports: Sequence[InstanceReport]) -> Hashable:
    """Return a value equal for equal reports: what a matrix kept for them may be reused."""
    return tuple(
        (
            report.name,
            report.url,
            report.manifest,
            report.commit_sha,
            report.status,
            report.reported_at,
            tuple(sorted(report.live.items())),
        )
        for report in reports
    )


def _broken(folder: BrokenFolder) -> BrokenElement:
    return BrokenElement(
        kind=folder.kind.name,
        name=folder.name,
        path=folder.path,
        problems=tuple(str(problem) for problem in folder.problems),
    )


def matrix(
    catalog: Catalog,
    *,
    query: str | None = None,
    kind: ElementKind | None = None,
    offset: int = 0,
    limit: int | None = None,
    snapshot: CommitSnapshot | None = None,
    reports: Sequence[InstanceReport] | None = None,
) -> Matrix:
    """Return elements against every manifest on the default branch.

    `query` (a part of the name, any case) and `kind` choose the elements, `offset` and `limit` a
    page of them. Each cell lists, for every instance that reported publishing its manifest,
    what that instance serves, so that a pin not yet deployed there shows. `snapshot` and
    `reports`, when given, are the default branch's and the provider's, read by the caller.
    """
    snapshot = snapshot or catalog.snapshot()
    manifests, problems = catalog.manifests_at(snapshot)
    needle = (query or "").strip().casefold()
    listing = catalog.listing(snapshot)
    chosen = [
        element
        for element in listing.elements
        if (kind is None or element.kind == kind) and needle in element.name.casefold()
    ]
    broken = tuple(
        _broken(folder)
        for folder in listing.broken
        if (kind is None or folder.kind == kind) and needle in folder.name.casefold()
    )
    start = max(0, offset)
    page = chosen[start : None if limit is None else start + max(0, limit)]
    if reports is None:
        reports = catalog.provider.instance_reports()
    by_manifest: dict[str, list[InstanceReport]] = {}
    for report in reports:
        if report.manifest is not None:
            by_manifest.setdefault(report.manifest, []).append(report)
    folders = catalog.release_folders
    rows = tuple(
        _row(
            element,
            folders.releases(snapshot, element),
            manifests,
            by_manifest,
            catalog.folder_problems(element),
        )
        for element in page
    )
    return Matrix(
        commit_sha=snapshot.commit_sha,
        manifests=tuple(sorted(manifests)),
        elements=rows,
        total=len(chosen),
        offset=start,
        instances=tuple(reports),
        problems=tuple(str(problem) for problem in problems),
        broken=broken,
    )

"""Instance reports kept in the repository: what each instance serves after its last deploy.

`refs/mirel/instances/<key>` points to a commit holding `instance.json` (`key` is derived from the
instance's name), so every instance's pages can show which manifests are not yet deployed where.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re

from mirel.git.repository import GitRepository, retry_on_race
from mirel.providers.base import RECORDS_AUTHOR, InstanceReport

log = logging.getLogger(__name__)

INSTANCE_REPORTS = "refs/mirel/instances/"


def _is_web_url(text: str) -> bool:
    return re.fullmatch(r"https?://[^\s<>\"']+", text) is not None


def _report_ref(name: str) -> str:
    # Instance names are display names (any text); the ref needs a safe, stable key.
    return INSTANCE_REPORTS + hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()[:24]


def _parse(data: bytes) -> InstanceReport:
    """Return the report stored in an instance.json; raise ValueError, KeyError or TypeError."""
    try:
        document = json.loads(data)
    except RecursionError as error:  # a hostile ref: as unreadable as bad JSON
        raise ValueError("nests too deep to be read") from error
    url = document.get("url")
    return InstanceReport(
        name=str(document["name"]),
        # Shown as a link: only a web address, whatever a ref was made to hold.
        url=url if isinstance(url, str) and _is_web_url(url) else None,
        manifest=document.get("manifest"),
        commit_sha=document.get("commit_sha"),
        status=str(document.get("status", "")),
        reported_at=str(document.get("reported_at", "")),
        live={str(k): str(v) for k, v in dict(document.get("live", {})).items()},
    )


def _serialise(report: InstanceReport) -> bytes:
    document = {
        "name": report.name,
        "url": report.url,
        "manifest": report.manifest,
        "commit_sha": report.commit_sha,
        "status": report.status,
        "reported_at": report.reported_at,
        "live": dict(report.live),
    }
    # Compact: json's `indent` falls back to its pure-Python encoder, 15 ms for the 2,000
    # elements of a report at the design size, paid by every deploy.
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode() + b"\n"


class InstanceReports:
    """The latest report of every instance, stored in one repository."""

    def __init__(self, repository: GitRepository) -> None:
        self.repository = repository
        # Reports are read by blob id: a blob never changes, so its parse is kept.
        self._parsed: dict[str, InstanceReport] = {}

    def record(self, report: InstanceReport) -> None:
        """Record what an instance serves now, replacing its previous report."""
        repo = self.repository
        tree = repo.write_tree_changes(None, {"instance.json": _serialise(report)})
        commit = repo.write_commit(
            tree_oid=tree,
            parents=[],
            message=f"instance {report.name}: {report.status} at {report.commit_sha}",
            author=RECORDS_AUTHOR,
        )
        ref = _report_ref(report.name)

        def attempt() -> None:
            current = repo.ref_sha(ref)
            if current is None:
                repo.create_ref(ref, commit)
            else:
                repo.update_ref(ref, commit, current)

        retry_on_race(attempt, what=f"reporting instance {report.name}")

    def latest(self) -> list[InstanceReport]:
        """Return the latest report of every instance, by name (unreadable ones are skipped)."""
        found: list[InstanceReport] = []
        kept: dict[str, InstanceReport] = {}
        for ref, sha in self.repository.refs_under(INSTANCE_REPORTS).items():
            entry = self.repository.entry_at(self.repository.tree_of(sha), "instance.json")
            if entry is None:
                continue
            report = self._parsed.get(entry.oid)
            if report is None:
                try:
                    report = _parse(self.repository.read_blob(entry.oid))
                except (ValueError, KeyError, TypeError, AttributeError) as error:
                    log.warning("instance report %s cannot be read: %s", ref, error)
                    continue
            kept[entry.oid] = report
            found.append(report)
        self._parsed = kept  # only the current reports: old ones would pile up with each deploy
        return sorted(found, key=lambda report: report.name)

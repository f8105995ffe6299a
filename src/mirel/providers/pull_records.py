"""Pull request records kept inside a bare repository (the storage of the `local` provider).

- `refs/mirel/pulls/<n>/meta` points to a commit whose tree holds `pull.json`; each change of the
  pull request (merge, close) is a new commit on top, so the ref is also its history;
- `refs/mirel/pulls/<n>/head` points to the head commit, so the diff stays readable after the
  head branch is deleted;
- `refs/mirel/branch-pulls/<branch>` points to the meta commit of the branch's open pull request,
  so finding it reads one ref instead of every record.

Numbers are allocated by creating the `meta` ref, which fails if another process took the number
first; every later update is a compare-and-swap on that ref.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime

from mirel.errors import PullRequestNotFound, PullRequestNotOpen, RefRaced
from mirel.git.repository import GitRepository, retry_on_race
from mirel.providers.base import RECORDS_AUTHOR

log = logging.getLogger(__name__)

PULLS = "refs/mirel/pulls/"
BRANCH_PULLS = "refs/mirel/branch-pulls/"
_ALLOCATION_ATTEMPTS = 1000


@dataclass(frozen=True)
class PullRecord:
    """What `pull.json` holds for one pull request."""

    number: int
    title: str
    description: str
    author: str
    head_branch: str
    base_branch: str
    state: str
    created_at: str
    updated_at: str
    head_sha: str
    base_sha: str
    merge_commit_sha: str | None = None
    merged_by: str | None = None
    closed_by: str | None = None
    cleanup_branches: tuple[str, ...] = ()
    # Each cleanup branch with the commit it must still contain to be removed.
    cleanup_from: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: bytes) -> PullRecord:
        """Return the record stored as `data` (a pull.json)."""
        try:
            document = json.loads(data)
        except RecursionError as error:  # a hostile ref: as unreadable as bad JSON
            raise ValueError("nests too deep to be read") from error
        return cls(
            **{name: document[name] for name in _REQUIRED},
            merge_commit_sha=document.get("merge_commit_sha"),
            merged_by=document.get("merged_by"),
            closed_by=document.get("closed_by"),
            cleanup_branches=tuple(document.get("cleanup_branches", ())),
            cleanup_from=dict(document.get("cleanup_from", {})),
        )

    def serialise(self) -> bytes:
        """Return the record as pull.json holds it: sorted keys, indent 2."""
        document = asdict(self)
        document["cleanup_branches"] = list(self.cleanup_branches)
        document["cleanup_from"] = dict(self.cleanup_from)
        return json.dumps(document, indent=2, sort_keys=True).encode() + b"\n"


_REQUIRED = (
    "number",
    "title",
    "description",
    "author",
    "head_branch",
    "base_branch",
    "state",
    "created_at",
    "updated_at",
    "head_sha",
    "base_sha",
)


def now() -> str:
    """Return the current time as stored in records: RFC 3339 UTC, seconds."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PullRecords:
    """The pull request records of one repository."""

    def __init__(self, repository: GitRepository) -> None:
        self.repository = repository

    @staticmethod
    def meta_ref(number: int) -> str:
        """Return the ref whose commit holds the record of pull request `number`."""
        return f"{PULLS}{number}/meta"

    @staticmethod
    def head_ref(number: int) -> str:
        """Return the ref that keeps pull request `number`'s head commit."""
        return f"{PULLS}{number}/head"

    @staticmethod
    def branch_ref(branch: str) -> str:
        """Return the ref that indexes a head branch's open pull request."""
        return f"{BRANCH_PULLS}{branch}"

    def _exists(self, number: int) -> bool:
        return self.repository.ref_sha(self.meta_ref(number)) is not None

    def highest_number(self) -> int:
        """Return the highest pull request number (0 when there is none).

        Numbers are handed out one after the other and never removed, so the highest is found by
        doubling then bisecting over ref lookups: O(log n), whatever the number of pull requests.
        """
        high = 1
        while self._exists(high):
            high *= 2
        low = high // 2  # exists (or 0)
        while high - low > 1:
            middle = (low + high) // 2
            if self._exists(middle):
                low = middle
            else:
                high = middle
        return low

    def numbers(self, before: int | None = None) -> Iterable[int]:
        """Return every pull request number below `before` (all when None), newest first."""
        highest = self.highest_number()
        start = highest if before is None else min(highest, before - 1)
        return range(start, 0, -1)

    def _record_at(self, meta_sha: str) -> PullRecord | None:
        entry = self.repository.entry_at(self.repository.tree_of(meta_sha), "pull.json")
        if entry is None:
            return None
        return PullRecord.parse(self.repository.read_blob(entry.oid))

    def read(self, number: int) -> tuple[PullRecord, str]:
        """Return a pull request's record and the meta commit holding it."""
        meta_sha = self.repository.ref_sha(self.meta_ref(number))
        if meta_sha is None:
            raise PullRequestNotFound(
                f"there is no pull request #{number}",
                cli_hint="'mirel pr list' shows them",
            )
        record = self._record_at(meta_sha)
        if record is None:
            raise PullRequestNotFound(f"pull request #{number} has no record")
        return record, meta_sha

    def _write(self, record: PullRecord, parent: str | None) -> str:
        tree = self.repository.write_tree_changes(None, {"pull.json": record.serialise()})
        return self.repository.write_commit(
            tree_oid=tree,
            parents=[parent] if parent else [],
            message=f"pull request #{record.number}: {record.state}",
            author=RECORDS_AUTHOR,
        )

    def create(self, template: PullRecord, *, new_branch: str | None = None) -> PullRecord:
        """Store `template` under the next free number (its own is ignored) and return it.

        Its meta ref, head ref and branch index entry are created in one reference transaction,
        with the head branch itself when `new_branch` is given (its ref, `refs/heads/...`): a
        writer killed at any point leaves all of them or none, never a branch whose pull request
        is missing or a pull request nobody can find by its branch.
        """
        for _ in range(_ALLOCATION_ATTEMPTS):
            record = replace(template, number=self.highest_number() + 1)
            meta_ref = self.meta_ref(record.number)
            meta = self._write(record, None)
            # Locked in this order, so a taken branch is reported before a taken number.
            refs = {new_branch: record.head_sha} if new_branch is not None else {}
            refs[self.branch_ref(record.head_branch)] = meta
            refs[meta_ref] = meta
            refs[self.head_ref(record.number)] = record.head_sha
            try:
                self.repository.create_refs(refs)
            except RefRaced as error:
                if error.ref == meta_ref:  # a racing writer took the number: take the next one
                    time.sleep(0.002)
                    continue
                raise
            return record
        raise PullRequestNotOpen("could not allocate a pull request number; try again")

    def update(
        self, number: int, change: Callable[[PullRecord], PullRecord], from_states: tuple[str, ...]
    ) -> PullRecord:
        """Replace a record still in one of `from_states` by `change(record)` (its time of update
        set), with a compare-and-swap, and return it; raise PullRequestNotOpen otherwise."""

        def attempt() -> PullRecord:
            record, meta_sha = self.read(number)
            # Checked again under the compare-and-swap: another process may have merged or closed
            # the pull request since the caller first looked.
            if record.state not in from_states:
                raise PullRequestNotOpen(f"pull request #{number} is already {record.state}")
            updated = replace(change(record), updated_at=now())
            self.repository.update_ref(
                self.meta_ref(number), self._write(updated, meta_sha), meta_sha
            )
            return updated

        return retry_on_race(attempt, what=f"updating pull request #{number}")

    def unindex_branch(self, branch: str) -> None:
        """Forget a head branch's open pull request (it merged or closed)."""
        self.repository.delete_ref(self.branch_ref(branch))

    def open_numbers(self) -> dict[str, int]:
        """Return the number of every indexed open pull request, by head branch.

        Costs one listing of `refs/mirel/branch-pulls/` and one record read per entry: the open
        pull requests only, never the merged or closed ones (their entries are removed).
        """
        found: dict[str, int] = {}
        for ref, first_meta in self.repository.refs_under(BRANCH_PULLS).items():
            record = self._record_at(first_meta)
            if record is not None:
                found[ref.removeprefix(BRANCH_PULLS)] = record.number
        return found

    def first_meta(self, number: int) -> str:
        """Return the commit that created pull request `number`'s record (its index target)."""
        _, sha = self.read(number)
        while parents := self.repository.commit(sha).parents:
            sha = parents[0]
        return sha

    def number_for_branch(self, branch: str) -> int | None:
        """Return the number of the pull request a branch was indexed with, if any."""
        first_meta = self.repository.ref_sha(self.branch_ref(branch))
        if first_meta is None:
            return None
        record = self._record_at(first_meta)
        return record.number if record is not None else None

"""The values an instance hands to its callers: deployments, changes, plans, what it serves.

Frozen dataclasses, built from the database by the stores; the API's answer models
(`mirel.http.models`) read them by attribute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from mirel.db.models import ChangeRecord, as_utc

# A deployment's status: recorded (PENDING_START, kept for the compatible API), running, finished.
PENDING_START = "PENDING_START"
RUNNING = "RUNNING"
SUCCESS = "SUCCESS"
ERROR = "ERROR"
UNFINISHED = (PENDING_START, RUNNING)

# A deploy asked for by a caller (an API token, a user of the pages) is triggered by a label that
# ends with who it is: `release-bot (token 3)`, `ann (user 2)`. The poller and webhooks trigger
# as `poller` and `webhook`, no one's label.
_CALLER = re.compile(r"\((token|user) ([1-9][0-9]*)\)\Z")
MAX_TRIGGER = 200  # the deployer keeps this much of a trigger


def caller_trigger(name: str, kind: str, caller_id: int) -> str:
    """Return the trigger of a deploy asked for by a token or user (`kind`): its name and id,
    the name shortened so that the id is kept whole."""
    suffix = f" ({kind} {caller_id})"
    return name[: MAX_TRIGGER - len(suffix)] + suffix


def caller_of(trigger: str | None) -> str | None:
    """Return the seed API's `triggered_by` of a trigger: `user_token<id>` for a token,
    `user_<id>` for a user of the pages, None for the poller, a webhook or an unknown caller."""
    found = _CALLER.search(trigger or "")
    if found is None:
        return None
    kind, caller_id = found.groups()
    return f"user_token{caller_id}" if kind == "token" else f"user_{caller_id}"


def rfc3339(moment: datetime | None) -> str | None:
    """Return a time as RFC 3339 UTC with milliseconds (`2024-05-01T12:00:00.000Z`), or None."""
    if moment is None:
        return None
    return as_utc(moment).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Change:
    """One element a deploy changes: the release it served before and serves after.

    A release is "X.Y.Z" or "working" (the working version); None means not served.
    """

    element_uuid: str
    kind: str
    name: str
    from_: str | None
    to: str | None

    @classmethod
    def from_record(cls, record: ChangeRecord) -> Change:
        """Return the change stored as one entry of a deployment's `changes` column."""
        return cls(
            element_uuid=record["element_uuid"],
            kind=record["kind"],
            name=record["name"],
            from_=record["from"],
            to=record["to"],
        )

    def to_record(self) -> ChangeRecord:
        """Return the change as the `changes` column stores it."""
        return {
            "element_uuid": self.element_uuid,
            "kind": self.kind,
            "name": self.name,
            "from": self.from_,
            "to": self.to,
        }


@dataclass(frozen=True)
class Deployment:
    """One deployment as the API, the CLI and the pages show it."""

    id: int  # its number on this instance (#12 on the pages); the API's `number`
    uuid: str  # the API's `id`, as the seed API's deployment ids are uuids
    status: str  # PENDING_START, RUNNING, SUCCESS or ERROR
    commit_sha: str | None
    triggered_by: str | None  # a caller's label, poller or webhook: the API's `trigger`
    created_at: str
    completed_at: str | None
    manifest: str | None
    changes: list[Change]
    errors: list[str]
    log: str

    @property
    def caller(self) -> str | None:
        """Return the seed API's `triggered_by`: the caller who asked for it, `user_<id>`."""
        return caller_of(self.triggered_by)


@dataclass(frozen=True)
class DeploymentSummary:
    """One deployment without its log and changes (how many there are), for long lists."""

    id: int
    status: str
    commit_sha: str | None
    triggered_by: str | None
    created_at: str
    completed_at: str | None
    manifest: str | None
    change_count: int
    errors: list[str]


@dataclass(frozen=True)
class Plan:
    """What a deploy of one commit would do: its changes and the problems that would stop it."""

    commit_sha: str
    manifest: str | None
    changes: list[Change]
    errors: list[str]

    @property
    def success(self) -> bool:
        """Whether the deploy would go through (the seed API's `data.success`)."""
        return not self.errors

    @property
    def message(self) -> str | None:
        """What would stop it, in one line (the seed API's `data.message`), None when nothing."""
        if not self.errors:
            return None
        more = len(self.errors) - 1
        return self.errors[0] + (
            f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        )


@dataclass(frozen=True)
class LiveElement:
    """One element as this instance serves it."""

    uuid: str
    kind: str
    name: str
    live_release: str | None  # None: the working version
    in_manifest: bool
    pin: str | None
    source_commit: str | None
    files: list[str]


@dataclass(frozen=True)
class InstanceInfo:
    """This instance: its name, the manifest it publishes, what it deployed last, its repository."""

    name: str
    manifest: str | None  # selected now; deploys apply it
    deployed_commit: str | None
    deployed_manifest: str | None
    repository: str
    default_branch: str
    last_deployment: Deployment | None

"""The instance database. It holds instance state only: losing it loses no release data.

- `instance_state`: one row: the chosen manifest, the deployed commit, the last deployment.
- `element_metadata`: the uuid each valid element folder declares, by the folder's git tree id,
  so a deploy reads only the metadata.json files that changed since any earlier deploy.
- `sources` / `source_files`: unpacked element sources, keyed by the git object they come from
  (`blob:<oid>` for a release artifact, `tree:<oid>` for a working version). A git object never
  changes, so an unpacked source is kept and reused by every deploy that needs it.
- `live_elements`: what this instance serves: one row per element, pointing at a source.
- `deployments`: every deploy with its changes, errors and log.
- `tokens`: API tokens, stored only as sha256 hashes.
- `source_control`: the connection to the repository's host set through the API, the page or
  `mirel connect` (row `config`; its secrets encrypted with the instance's secret key), and the
  source control settings (row `settings`).
- `locks`: leases that make deploys one at a time across processes sharing a database.
- `users` / `web_sessions`: the web UI's local users (argon2 password hashes) and their sign-ins
  (only a hash of each session cookie is stored), with each session's CSRF token and the pin
  changes of the Releases tab that are waiting for review.

The integer ids of `deployments`, `tokens` and `users` are never reused, so an id someone
noted (`mirel token revoke 2`, a deployment's link) never comes to mean another row: PostgreSQL's
sequences never go back, and on SQLite these tables are AUTOINCREMENT (without it SQLite hands out
the highest id in use plus one, the id of a row just deleted).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, TypedDict

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column


class Base(DeclarativeBase):
    """The declarative base of every mirel table."""


def as_utc(moment: datetime) -> datetime:
    """Return a time read from a DateTime column as an aware UTC time.

    PostgreSQL hands back aware times; SQLite hands back the naive UTC time it stored.
    """
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# -- what the JSON columns hold --------------------------------------------------------------------

# One entry of `deployments.changes`: an element that changed, with the release it served before
# and serves after ("working" for a working version, None when it was not or is no longer served).
# The functional form because "from" is a Python keyword.
ChangeRecord = TypedDict(
    "ChangeRecord",
    {"element_uuid": str, "kind": str, "name": str, "from": str | None, "to": str | None},
)

# One pending pin change of `web_sessions.draft`: the manifest and element, the pin on the default
# branch ("from", None: not listed) and the one wanted ("release", None: take the element out).
DraftChange = TypedDict(
    "DraftChange",
    {
        "manifest": str,
        "uuid": str,
        "name": str,
        "kind": str,
        "from": str | None,
        "release": str | None,
    },
)


class FlashMessage(TypedDict):
    """One message of `web_sessions.flash`, shown once on the next page: "success" or "error"."""

    kind: str
    message: str
    link: str | None
    link_text: str | None


class InstanceState(Base):
    """The single row of instance-wide state (id 1)."""

    __tablename__ = "instance_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Set through PUT /source_control/releases_config; None falls back to the settings.
    manifest: Mapped[str | None] = mapped_column(String(100))
    manifest_chosen: Mapped[bool] = mapped_column(Boolean, default=False)
    deployed_commit: Mapped[str | None] = mapped_column(String(64))
    deployed_manifest: Mapped[str | None] = mapped_column(String(100))
    # The commit and manifest of the last deploy that ran to a verdict (SUCCESS, or ERROR because
    # of the repository's content): deploying them again would give the same answer.
    attempted_commit: Mapped[str | None] = mapped_column(String(64))
    attempted_manifest: Mapped[str | None] = mapped_column(String(100))
    last_deployment_id: Mapped[int | None] = mapped_column(Integer)


class ElementMetadata(Base):
    """The uuid a valid element folder's metadata.json declares, by kind, name and tree id."""

    __tablename__ = "element_metadata"

    folder_key: Mapped[str] = mapped_column(String(240), primary_key=True)  # metadata_key()
    uuid: Mapped[str] = mapped_column(String(36))


class Source(Base):
    """One unpacked element source, keyed by the git object it comes from."""

    __tablename__ = "sources"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    uuid: Mapped[str] = mapped_column(String(36))
    version: Mapped[str | None] = mapped_column(String(40))
    source_commit: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SourceFile(Base):
    """One file of an unpacked source."""

    __tablename__ = "source_files"

    source_key: Mapped[str] = mapped_column(
        String(80), ForeignKey("sources.key", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))


class LiveElement(Base):
    """What this instance serves for one element."""

    __tablename__ = "live_elements"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    release: Mapped[str | None] = mapped_column(String(40))  # None: the working version
    pin: Mapped[str | None] = mapped_column(String(40))  # the manifest's pin, None: not listed
    in_manifest: Mapped[bool] = mapped_column(Boolean)
    source_key: Mapped[str] = mapped_column(String(80), ForeignKey("sources.key"))
    source_commit: Mapped[str | None] = mapped_column(String(64))


class Deployment(Base):
    """One deploy: what it switched, what stopped it, and its log.

    `id` is its number on this instance (the pages' #12); `uuid` is the id the compatible API
    answers, as the seed API's deployment ids are uuids (migration 0007 gave one to each
    deployment recorded before).
    """

    __tablename__ = "deployments"
    __table_args__ = (
        UniqueConstraint("uuid", name="uq_deployments_uuid"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20))  # PENDING_START, RUNNING, SUCCESS, ERROR
    commit_sha: Mapped[str | None] = mapped_column(String(64))
    triggered_by: Mapped[str | None] = mapped_column(String(200))
    manifest: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    changes: Mapped[list[ChangeRecord]] = mapped_column(JSON, default=list)
    errors: Mapped[list[str]] = mapped_column(JSON, default=list)
    log: Mapped[str] = mapped_column(Text, default="")


@event.listens_for(Deployment, "before_insert")
def _new_deployment_uuid(mapper: Mapper[Deployment], connection: Any, row: Deployment) -> None:
    """Give a new deployment its uuid (a random one: nothing about it can be guessed)."""
    del mapper, connection
    if not row.uuid:
        row.uuid = str(uuid.uuid4())


class Token(Base):
    """An API token: only its sha256 hash is stored."""

    __tablename__ = "tokens"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The user this token acts for (migration 0008), whose role its reviews carry; no foreign
    # key: a removed user leaves a token that acts for nobody.
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Lock(Base):
    """A lease: held by `holder` until `expires_at` (seconds since the epoch)."""

    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[float | None] = mapped_column(Float)
    # Set by whoever found the lease taken and wanted the same work done: the holder runs once
    # more before it lets go, so a request that arrives mid-deploy is never lost.
    requested: Mapped[bool] = mapped_column(Boolean, default=False)
    requested_by: Mapped[str | None] = mapped_column(String(200))


class User(Base):
    """A local user of the web UI, with one role: viewer, editor or admin."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("username", name="uq_users_username"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """One sign-in: the sha256 of its cookie's secret, its CSRF token, and its drafts."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Pin changes picked in the Releases tab, waiting for Review: [{manifest, uuid, release}].
    draft: Mapped[list[DraftChange]] = mapped_column(JSON, default=list)
    # Messages for the next page (a write's result and its pull request link), shown once.
    flash: Mapped[list[FlashMessage]] = mapped_column(JSON, default=list)


class WebhookDelivery(Base):
    """A webhook delivery id received, kept for a while so that a replay of it is refused."""

    __tablename__ = "webhook_deliveries"

    delivery_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SignInThrottle(Base):
    """Failed sign-ins of one account (`user:<name>`) or client address (`address:<ip>`)."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # No attempt is even checked before this moment; None: no wait.
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    locked: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)  # until unlocked


class SourceControlRecord(Base):
    """The stored source control configuration (`config`) or settings (`settings`)."""

    __tablename__ = "source_control"

    key: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)  # no secret in it
    secrets: Mapped[bytes | None] = mapped_column(LargeBinary)  # a Fernet token of JSON
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

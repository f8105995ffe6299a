"""What this instance serves: the `live_elements` rows and the files of their sources."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import NamedTuple, cast

from sqlalchemy import Connection, Engine, Table, bindparam, func, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from mirel.db.models import LiveElement as LiveElementRow
from mirel.db.models import SourceFile
from mirel.errors import ElementNotFound, LiveFileNotFound
from mirel.instance.state import Attempt
from mirel.instance.values import LiveElement


class LiveRow(NamedTuple):
    """One row of `live_elements`, in column order."""

    uuid: str
    kind: str
    name: str
    release: str | None
    pin: str | None
    in_manifest: bool
    source_key: str
    source_commit: str | None


class Served(NamedTuple):
    """What a switch made live: the commit and manifest deployed, and every live row by uuid."""

    attempt: Attempt
    rows: Mapping[str, LiveRow]


LIVE = cast(Table, LiveElementRow.__table__)
assert tuple(LIVE.c.keys()) == LiveRow._fields, "live_elements and LiveRow must agree"


def read_live(connection: Connection) -> dict[str, LiveRow]:
    """Return every live row by uuid, as plain tuples (ORM objects cost more than the query)."""
    return {row[0]: LiveRow(*row) for row in connection.execute(select(*LIVE.c))}


# Built once: a request reading one element pays for the query, not for assembling it.
_WITH_FILES = select(*LIVE.c, SourceFile.path).outerjoin(
    SourceFile, SourceFile.source_key == LIVE.c.source_key
)
_ONE_WITH_FILES = _WITH_FILES.where(LIVE.c.uuid == bindparam("uuid"))
_FILE = (
    select(SourceFile.content)
    .join(LIVE, LIVE.c.source_key == SourceFile.source_key)
    .where(LIVE.c.uuid == bindparam("uuid"), SourceFile.path == bindparam("path"))
)


@contextmanager
def _connection(sessions: sessionmaker[Session]) -> Iterator[Connection]:
    """Yield a connection of the engine's pool: reads of plain columns need no ORM session,
    which costs several times the query (see accounts/lookup.py)."""
    bind = sessions.kw.get("bind")
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            yield connection
        return
    with sessions() as session:  # a session maker bound otherwise: through a session
        yield session.connection()


def _value(row: LiveRow, files: list[str]) -> LiveElement:
    return LiveElement(
        uuid=row.uuid,
        kind=row.kind,
        name=row.name,
        live_release=row.release,
        in_manifest=row.in_manifest,
        pin=row.pin,
        source_commit=row.source_commit,
        files=files,
    )


class LiveStore:
    """Answers what this instance serves; only a deploy's switch (`deploy/switch.py`) writes it."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def rows(self) -> dict[str, LiveRow]:
        """Return every live row by uuid."""
        with _connection(self._sessions) as connection:
            return read_live(connection)

    def page(
        self,
        *,
        query: str | None = None,
        kind: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[LiveElement], int]:
        """Return a page of what this instance serves (without file lists) and how many match.

        `query` matches a part of the name, in any case; `kind` one kind. One indexed query per
        page, so the home page costs the same with 20 elements or 2,000.
        """
        conditions: list[ColumnElement[bool]] = []
        needle = (query or "").strip()
        if needle:
            escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(LIVE.c.name.ilike(f"%{escaped}%", escape="\\"))
        if kind:
            conditions.append(LIVE.c.kind == kind)
        with self._sessions() as session:
            total = session.scalar(select(func.count()).select_from(LIVE).where(*conditions)) or 0
            rows = session.execute(
                select(*LIVE.c)
                .where(*conditions)
                .order_by(LIVE.c.kind, LIVE.c.name, LIVE.c.uuid)
                .offset(max(0, offset))
                .limit(max(0, limit))
            )
            found = [_value(LiveRow(*values), []) for values in rows]
        return found, total

    def elements(self) -> list[LiveElement]:
        """Return every element this instance serves, sorted by kind and name."""
        return self._with_files(None)

    def element(self, uuid: str) -> LiveElement:
        """Return one element this instance serves; raise ElementNotFound."""
        found = self._with_files(uuid)
        if not found:
            raise ElementNotFound(
                f"this instance serves no element {uuid[:80]!r}; GET /elements lists what it serves"
            )
        return found[0]

    def file(self, uuid: str, path: str) -> bytes:
        """Return one file of an element this instance serves; raise ElementNotFound or
        LiveFileNotFound."""
        with _connection(self._sessions) as connection:
            content = connection.scalar(_FILE, {"uuid": uuid, "path": path})
        if content is not None:
            return bytes(content)
        element = self.element(uuid)
        raise LiveFileNotFound(
            f"{element.name} has no file {path[:200]!r} in what this instance serves; "
            f"GET /elements/{element.uuid} lists its files"
        )

    def _with_files(self, uuid: str | None) -> list[LiveElement]:
        """Return live elements with their file paths, read in one statement (one snapshot)."""
        statement, parameters = (
            (_WITH_FILES, {}) if uuid is None else (_ONE_WITH_FILES, {"uuid": uuid})
        )
        found: dict[str, tuple[LiveRow, list[str]]] = {}
        with _connection(self._sessions) as connection:
            for *columns, path in connection.execute(statement, parameters):
                _, files = found.setdefault(columns[0], (LiveRow(*columns), []))
                if path is not None:
                    files.append(path)
        # Sorted here, not in SQL: PostgreSQL's collation and SQLite's byte order disagree.
        return [
            _value(row, sorted(files))
            for row, files in sorted(found.values(), key=lambda item: item[0][1:3] + item[0][:1])
        ]

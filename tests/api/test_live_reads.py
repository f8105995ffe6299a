"""The live reads behind GET /elements and /elements/{uuid} (instance/live.py) read plain columns
on a pooled connection: the same answers as through a session, on SQLite and PostgreSQL, and
through a session maker bound to something other than an engine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from mirel.db.engine import Database, open_database
from mirel.db.models import LiveElement as LiveElementRow
from mirel.db.models import Source, SourceFile
from mirel.errors import ElementNotFound, LiveFileNotFound
from mirel.instance.live import LiveStore
from mirel.instance.values import LiveElement

APP = "0b8f1f6e-0000-4000-8000-000000000001"
PAGE = "0b8f1f6e-0000-4000-8000-000000000002"


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = open_database(database_url)
    with database.sessions.begin() as session:
        for key, uuid in (("app-src", APP), ("page-src", PAGE)):
            session.add(
                Source(
                    key=key,
                    kind="app",
                    uuid=uuid,
                    version="1.0.0",
                    source_commit="c0ffee",
                    created_at=datetime.now(UTC),
                )
            )
        session.flush()
        for path in ("z.yaml", "a/b.txt", "README"):
            session.add(SourceFile(source_key="app-src", path=path, content=b"x", sha256="0"))
        session.add_all(
            [
                LiveElementRow(
                    uuid=APP,
                    kind="app",
                    name="billing",
                    release="1.0.0",
                    pin="1.0.0",
                    in_manifest=True,
                    source_key="app-src",
                    source_commit="c0ffee",
                ),
                LiveElementRow(
                    uuid=PAGE,
                    kind="page",
                    name="about",
                    release=None,
                    pin=None,
                    in_manifest=False,
                    source_key="page-src",
                    source_commit=None,
                ),
            ]
        )
    try:
        yield database
    finally:
        database.close()


EXPECTED_APP = LiveElement(
    uuid=APP,
    kind="app",
    name="billing",
    live_release="1.0.0",
    in_manifest=True,
    pin="1.0.0",
    source_commit="c0ffee",
    files=["README", "a/b.txt", "z.yaml"],
)


def _check(store: LiveStore) -> None:
    assert store.element(APP) == EXPECTED_APP
    page = store.element(PAGE)
    assert page.files == []
    assert page.live_release is None
    assert store.elements() == [EXPECTED_APP, page]  # by kind, then name
    assert set(store.rows()) == {APP, PAGE}
    assert store.file(APP, "a/b.txt") == b"x"
    with pytest.raises(ElementNotFound):
        store.element("no-such-element")
    with pytest.raises(LiveFileNotFound):
        store.file(APP, "missing.txt")
    with pytest.raises(ElementNotFound):
        store.file("no-such-element", "a/b.txt")


def test_live_reads_on_the_engines_pool(database: Database) -> None:
    _check(LiveStore(database.sessions))


def test_live_reads_through_a_session_maker_bound_to_a_connection(database: Database) -> None:
    with database.engine.connect() as connection:
        _check(LiveStore(sessionmaker[Session](bind=connection)))

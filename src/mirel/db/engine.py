"""Opening the instance database: `open_database(url)` is the one way, migrations included.

Several processes may open one database at the same moment (the servers of `mirel up`, a
`mirel token create` beside a running server): the schema is migrated one process at a time, so
that each finds it up to date or brings it there, never half-way.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from mirel.errors import DatabaseUnreachable

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any fixed number works: it names mirel's migration lock among the database's advisory locks.
_MIGRATION_LOCK = 7235012
_SQLITE_ATTEMPTS = 20
_CHECKPOINT_WAIT_MS = 2000


class Database:
    """An open instance database: its engine and the session maker every store uses."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Objects stay readable after commit: stores hand them on once their session is closed.
        self.sessions: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)

    def unreachable(self, error: SQLAlchemyError) -> DatabaseUnreachable:
        """Return the user error saying this database cannot be used, and why."""
        where = self.engine.url.render_as_string(hide_password=True)
        detail = str(error).splitlines()[0]
        return DatabaseUnreachable(
            f"cannot open the database {where}: {detail}; check MIREL_DATABASE_URL"
        )

    def close(self) -> None:
        """Close every connection of the pool; on SQLite, fold the write-ahead log back first.

        The engine stays usable: a later query opens a new connection.
        """
        if self.engine.dialect.name == "sqlite":
            _checkpoint(self.engine)
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def open_database(url: str) -> Database:
    """Return the database at a SQLite or PostgreSQL URL, its schema brought up to date.

    Raises DatabaseUnreachable when it cannot be reached or migrated.
    """
    database = Database(_make_engine(url))
    try:
        _migrate(database.engine)
    except SQLAlchemyError as error:
        database.close()
        raise database.unreachable(error) from error
    except BaseException:
        database.close()
        raise
    return database


def _sqlite_pragmas(connection: DBAPIConnection, _: ConnectionPoolEntry) -> None:
    # WAL lets readers go on while a deploy writes; foreign keys are off by default.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _checkpoint(engine: Engine) -> None:
    """Copy a SQLite database's write-ahead log into the database file and empty the log."""
    try:
        with engine.connect() as connection:
            # Another process still reading or writing makes the checkpoint wait: not for long,
            # as the last one to close the file folds the log back anyway.
            connection.exec_driver_sql(f"PRAGMA busy_timeout={_CHECKPOINT_WAIT_MS}")
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    except SQLAlchemyError:
        # A courtesy, not a need: the log is part of the database until a checkpoint takes it in,
        # and a database that cannot be reached now has nothing of this process to fold back.
        pass


def _make_engine(url: str) -> Engine:
    """Return an engine for a SQLite or PostgreSQL URL, set up for several processes."""
    # Connections kept open: each request thread reads on one, and beyond the pool every request
    # opened and closed its own (SQLite's pragmas again each time: 30% of the database time under
    # sixteen clients). A SQLite connection is a file handle; PostgreSQL's cost a server process
    # each, so fewer are kept (several instances and workers share one server's connections).
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=20,
            max_overflow=20,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _upgrade(engine: Engine) -> None:
    """Bring the database schema up to the newest migration."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine.dialect.name == "sqlite":
        _upgrade_sqlite(engine, config)
        return
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _upgrade_sqlite(engine: Engine, config: Config) -> None:
    """Bring a SQLite schema up to the newest migration in one transaction, foreign keys off."""
    with engine.connect() as connection:
        # A migration may rebuild a table (SQLite alters little in place): dropping the old one
        # with foreign keys on would delete the rows that reference it (ON DELETE CASCADE). The
        # pragma is ignored inside a transaction, so it is set before the transaction begins.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        try:
            # The write lock is taken before the schema's version is read: a process migrating
            # at the same moment waits for this one, then finds the schema up to date; and
            # SQLite's DDL is transactional, so a migration cut short leaves nothing behind.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
            if broken is not None:
                raise RuntimeError(f"a migration left a row whose foreign key is broken: {broken}")
            connection.commit()
        except BaseException:
            # Never hand a connection with foreign keys off back to the pool.
            connection.invalidate()
            raise
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")


def _migrate(engine: Engine) -> None:
    """Bring the schema up to date, one process at a time."""
    if engine.dialect.name == "postgresql":
        # Several servers may start at once on one database: a session-level advisory lock makes
        # the others wait, then find the schema up to date.
        with engine.connect() as connection:
            connection.execute(text(f"SELECT pg_advisory_lock({_MIGRATION_LOCK})"))
            try:
                _upgrade(engine)
            finally:
                connection.execute(text(f"SELECT pg_advisory_unlock({_MIGRATION_LOCK})"))
                connection.commit()
        return
    for attempt in range(_SQLITE_ATTEMPTS):
        try:
            _upgrade(engine)
            return
        except OperationalError as error:
            # Processes migrate one after another (_upgrade_sqlite), but SQLite may still refuse
            # the lock ("database is locked": a wait that ran out, or one it does not wait for,
            # such as another process switching the file to its write-ahead log as it connects);
            # trying again finds the schema up to date or brings it there. Any other failure (a
            # file that cannot be opened at all) is reported at once.
            if attempt == _SQLITE_ATTEMPTS - 1 or "locked" not in str(error).lower():
                raise
            time.sleep(0.1 * (attempt + 1))

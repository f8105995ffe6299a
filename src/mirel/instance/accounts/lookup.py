"""The lookups every request makes (its API token, its sign-in session), read cheaply.

They read plain columns on a connection of the engine's pool: an ORM session and the objects it
builds cost several times the query itself, and these queries run once per request. Nothing is
cached, so what another process changed (a revoked token, a closed session) counts at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Row
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Executable


def first_row(
    sessions: sessionmaker[Session], statement: Executable, parameters: dict[str, Any]
) -> Row[Any] | None:
    """Return the first row `statement` selects with `parameters`, or None."""
    bind = sessions.kw.get("bind")
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            return connection.execute(statement, parameters).first()
    with sessions() as session:  # a session maker bound otherwise: through a session
        return session.execute(statement, parameters).first()

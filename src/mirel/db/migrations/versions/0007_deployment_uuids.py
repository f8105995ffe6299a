"""deployment uuids: each deployment gets the uuid the compatible API answers as its id

Revision ID: 0007
Revises: 0006

The seed API's deployment ids are uuids; mirel's integer ids stay (the pages' #12, and what
`GET /source_control/deployment/{id}` also accepts). Every deployment already recorded gets a
random uuid. SQLite makes the column NOT NULL by rebuilding the table: it is rebuilt as
AUTOINCREMENT again (0003), and SQLite's counter is put back where it was, so that the id of a
deployment deleted by hand is still never handed out again.
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_DEPLOYMENTS = sa.table("deployments", sa.column("id", sa.Integer), sa.column("uuid", sa.String))


def _sqlite_counter(bind: sa.Connection) -> int | None:
    """Return SQLite's AUTOINCREMENT counter of `deployments` (None elsewhere or unset)."""
    if bind.dialect.name != "sqlite":
        return None
    found = bind.execute(
        sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'deployments'")
    ).scalar()
    return None if found is None else int(found)


def _restore_counter(bind: sa.Connection, counter: int | None) -> None:
    if counter is None:
        return
    bind.execute(
        sa.text("UPDATE sqlite_sequence SET seq = MAX(seq, :counter) WHERE name = 'deployments'"),
        {"counter": counter},
    )
    bind.execute(
        sa.text(
            "INSERT INTO sqlite_sequence (name, seq) SELECT 'deployments', :counter "
            "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'deployments')"
        ),
        {"counter": counter},
    )


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("deployments", sa.Column("uuid", sa.String(length=36), nullable=True))
    for (row_id,) in bind.execute(sa.select(_DEPLOYMENTS.c.id)).all():
        bind.execute(
            _DEPLOYMENTS.update().where(_DEPLOYMENTS.c.id == row_id).values(uuid=str(uuid.uuid4()))
        )
    counter = _sqlite_counter(bind)
    with op.batch_alter_table("deployments", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.alter_column("uuid", existing_type=sa.String(length=36), nullable=False)
        batch.create_unique_constraint("uq_deployments_uuid", ["uuid"])
    _restore_counter(bind, counter)


def downgrade() -> None:
    bind = op.get_bind()
    counter = _sqlite_counter(bind)
    with op.batch_alter_table("deployments", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_constraint("uq_deployments_uuid", type_="unique")
        batch.drop_column("uuid")
    _restore_counter(bind, counter)

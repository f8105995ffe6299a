"""ids never reused: deployments, tokens and users become AUTOINCREMENT on SQLite

Revision ID: 0003
Revises: 0002

SQLite cannot add AUTOINCREMENT to an existing table: each one is rebuilt (created anew, its rows
copied with their ids, the old one dropped), and the copy leaves SQLite's counter at the highest
id it holds. The engine runs SQLite migrations with foreign keys off, so that dropping the old
`users` does not delete the `web_sessions` that point at it. PostgreSQL's sequences never hand
out an id twice: nothing changes there.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("deployments", "tokens", "users")


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)

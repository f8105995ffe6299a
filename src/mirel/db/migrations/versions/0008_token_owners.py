"""token owners: a token may act for one user, whose role its reviews and break-glass carry

Revision ID: 0008
Revises: 0007

Issue 13's approvals and break-glass need a person with a role behind an API call. A token made
for a user (`mirel token create --user NAME`, or on the Tokens page by the signed-in user) acts
for that user; tokens made before, or without a user, act for nobody and may not approve. No
foreign key: a removed user leaves the column pointing at nobody, read as an unowned token.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tokens", sa.Column("user_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("user_id")

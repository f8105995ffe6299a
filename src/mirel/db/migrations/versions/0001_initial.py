"""instance state, element metadata, sources, deployments, tokens, locks

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("commit_sha", sa.String(length=64), nullable=True),
        sa.Column("triggered_by", sa.String(length=200), nullable=True),
        sa.Column("manifest", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("log", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "instance_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("manifest", sa.String(length=100), nullable=True),
        sa.Column("manifest_chosen", sa.Boolean(), nullable=False),
        sa.Column("deployed_commit", sa.String(length=64), nullable=True),
        sa.Column("deployed_manifest", sa.String(length=100), nullable=True),
        sa.Column("attempted_commit", sa.String(length=64), nullable=True),
        sa.Column("attempted_manifest", sa.String(length=100), nullable=True),
        sa.Column("last_deployment_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "locks",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.Column("requested", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "element_metadata",
        sa.Column("folder_key", sa.String(length=240), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("folder_key"),
    )
    op.create_table(
        "sources",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=True),
        sa.Column("source_commit", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "live_elements",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("release", sa.String(length=40), nullable=True),
        sa.Column("pin", sa.String(length=40), nullable=True),
        sa.Column("in_manifest", sa.Boolean(), nullable=False),
        sa.Column("source_key", sa.String(length=80), nullable=False),
        sa.Column("source_commit", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["source_key"],
            ["sources.key"],
        ),
        sa.PrimaryKeyConstraint("uuid"),
    )
    op.create_table(
        "source_files",
        sa.Column("source_key", sa.String(length=80), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["source_key"], ["sources.key"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("source_key", "path"),
    )


def downgrade() -> None:

    op.drop_table("source_files")
    op.drop_table("live_elements")
    op.drop_table("tokens")
    op.drop_table("sources")
    op.drop_table("element_metadata")
    op.drop_table("locks")
    op.drop_table("instance_state")
    op.drop_table("deployments")

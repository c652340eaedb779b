"""the review loop: webhook deliveries applied, review requests, review rounds, job kinds

Revision ID: 0006
Revises: 0005
Create Date: 2027-02-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Tasks and jobs stored before were first runs, with no review yet.
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review_round", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("pr_head_sha", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("pr_updated_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=20), server_default="work", nullable=False))
    op.create_table(
        "webhook_deliveries",
        sa.Column("guid", sa.String(length=100), nullable=False),
        sa.Column("event", sa.String(length=50), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=True),
        sa.Column("task_id", sa.String(length=32), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("guid"),
    )
    op.create_index(op.f("ix_webhook_deliveries_task_id"), "webhook_deliveries", ["task_id"], unique=False)
    op.create_table(
        "review_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("task_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("github_id", sa.BigInteger(), nullable=False),
        sa.Column("reviewer", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=True),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("round", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_review_requests_task_id"), "review_requests", ["task_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_review_requests_task_id"), table_name="review_requests")
    op.drop_table("review_requests")
    op.drop_index(op.f("ix_webhook_deliveries_task_id"), table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    # Dropped in place (as 0005 does): copying tasks or jobs and dropping the old table would cascade,
    # with SQLite's foreign keys on, to the rows that refer to them.
    with op.batch_alter_table("jobs", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("kind")
    with op.batch_alter_table("tasks", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("pr_updated_at")
        batch_op.drop_column("pr_head_sha")
        batch_op.drop_column("review_round")

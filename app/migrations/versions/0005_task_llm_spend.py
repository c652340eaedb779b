"""tasks: what the agent's LLM calls spent (tokens and USD)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Tasks that ran before had no agent calling an LLM: they spent nothing.
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prompt_tokens", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("completion_tokens", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("cost_usd", sa.Float(), server_default="0", nullable=False))


def downgrade() -> None:
    # Dropped in place (SQLite 3.35+ can): a batch migration would copy the table and drop the old one,
    # and dropping tasks cascades, with SQLite's foreign keys on, to their sandboxes and jobs.
    with op.batch_alter_table("tasks", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("cost_usd")
        batch_op.drop_column("completion_tokens")
        batch_op.drop_column("prompt_tokens")

"""run ids of jobs and of the sandboxes their runs make

Revision ID: 0004
Revises: 0003
Create Date: 2027-01-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("earlier_run_ids", sa.JSON(), nullable=True))

    with op.batch_alter_table("sandboxes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_id", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_sandboxes_run_id", ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sandboxes", schema=None) as batch_op:
        batch_op.drop_index("ix_sandboxes_run_id")
        batch_op.drop_column("run_id")

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("earlier_run_ids")
        batch_op.drop_column("run_id")

"""one queued or running job per task

Revision ID: 0003
Revises: 0002
Create Date: 2027-01-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_jobs_task_id_active"
ACTIVE = "state IN ('queued', 'running')"


def upgrade() -> None:
    _retire_duplicate_active_jobs()
    op.create_index(
        INDEX, "jobs", ["task_id"], unique=True, sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE)
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="jobs")


def _retire_duplicate_active_jobs() -> None:
    """Concurrent assignments before this revision could queue a task twice; the index cannot be built
    over such rows. Each task keeps one active job (a running one before a queued one, then the oldest),
    and the others are marked failed: they were duplicates of the same run, which the kept job does."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            f"SELECT id, task_id FROM jobs WHERE {ACTIVE} "
            "ORDER BY task_id, CASE WHEN state = 'running' THEN 0 ELSE 1 END, created_at, id"
        )
    ).all()
    kept: set[str] = set()
    duplicates = []
    for job_id, task_id in rows:
        if task_id in kept:
            duplicates.append(job_id)
        kept.add(task_id)
    if duplicates:
        connection.execute(
            sa.text(
                "UPDATE jobs SET state = 'failed', lease_owner = NULL, lease_expires_at = NULL WHERE id IN :ids"
            ).bindparams(sa.bindparam("ids", expanding=True)),
            {"ids": duplicates},
        )

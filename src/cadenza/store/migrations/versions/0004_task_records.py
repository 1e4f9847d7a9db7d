"""tasks as a durable run's agent invocations: their step path, when they finished, their error

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 20:30:00

The seed's ``tasks`` table gets what a recorded agent invocation needs beyond its seed columns:
the step path (a task's id is derived from run and path, so a resumed run rewrites its tasks
instead of adding copies), the finish time and the error of a failed one; and an index to list
a run's tasks.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("path", sa.String(1024)))
        batch.add_column(sa.Column("finished_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("error", sa.Text()))
    op.create_index("ix_tasks_run_id", "tasks", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_tasks_run_id", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("error")
        batch.drop_column("finished_at")
        batch.drop_column("path")

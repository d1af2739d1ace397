"""Availability: one index on (workspace, day, status, id) instead of (workspace, day): a big community's page counts
each day's statuses from the index and reads only the first members of each status

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08 00:20:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('availability', schema=None) as batch_op:
        batch_op.create_index('ix_availability_workspace_day_status', ['workspace_id', 'day', 'status', 'id'],
                              unique=False)
        batch_op.drop_index('ix_availability_workspace_day')


def downgrade():
    with op.batch_alter_table('availability', schema=None) as batch_op:
        batch_op.create_index('ix_availability_workspace_day', ['workspace_id', 'day'], unique=False)
        batch_op.drop_index('ix_availability_workspace_day_status')

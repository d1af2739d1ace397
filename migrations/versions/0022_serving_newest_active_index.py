"""Processes: an index of active versions by (process, environment, number), so serving finds the newest active
version of a key's environment in one probe however many versions a process has (serving scale)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-08 00:15:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.create_index('ix_process_versions_newest_active', ['process_id', 'environment', 'number'],
                              unique=False, sqlite_where=sa.text("status = 'active'"),
                              postgresql_where=sa.text("status = 'active'"))


def downgrade():
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_process_versions_newest_active', sqlite_where=sa.text("status = 'active'"),
                            postgresql_where=sa.text("status = 'active'"))

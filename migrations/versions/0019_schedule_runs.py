"""Scheduled promotions: the fingerprint of the preview the scheduler saw (the fire re-checks it) and a count of
the row's enqueues (each gets an RQ job id of its own: an early fire or a dead worker's run is put back anew)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 22:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('scheduled_promotions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('diff_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('runs', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('scheduled_promotions', schema=None) as batch_op:
        batch_op.drop_column('runs')
        batch_op.drop_column('diff_hash')

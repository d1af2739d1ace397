"""Game nights: a planning room counts its changes (`version`), so the live page's poll is answered 304 cheaply

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 14:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('planning_rooms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))


def downgrade():
    with op.batch_alter_table('planning_rooms', schema=None) as batch_op:
        batch_op.drop_column('version')

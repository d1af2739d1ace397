"""Game nights: the ready-check runs a workspace-set delay after the start call (0 to 30 minutes, 5 by default)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 09:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('gamenight_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ready_check_delay', sa.Integer(), server_default='5', nullable=False))
        batch_op.create_check_constraint('ck_gamenight_settings_ready_check_delay',
                                         'ready_check_delay >= 0 AND ready_check_delay <= 30')


def downgrade():
    with op.batch_alter_table('gamenight_settings', schema=None) as batch_op:
        batch_op.drop_constraint('ck_gamenight_settings_ready_check_delay', type_='check')
        batch_op.drop_column('ready_check_delay')

"""Game nights: a weekly schedule may carry a quorum (min_players) that each night's campaign takes

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 15:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('night_schedules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('min_players', sa.Integer(), nullable=True))
        batch_op.create_check_constraint('ck_night_schedules_min_players',
                                         'min_players IS NULL OR (min_players >= 1 AND min_players <= 500)')


def downgrade():
    with op.batch_alter_table('night_schedules', schema=None) as batch_op:
        batch_op.drop_constraint('ck_night_schedules_min_players', type_='check')
        batch_op.drop_column('min_players')

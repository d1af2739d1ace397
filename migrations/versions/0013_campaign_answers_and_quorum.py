"""Game nights: recipients answer a reminder ("in", "late N", "can't"), a campaign may carry a quorum, and a
promoter may call a night off

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 14:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('min_players', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('called_off_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint('ck_campaigns_min_players',
                                         'min_players IS NULL OR (min_players >= 1 AND min_players <= 500)')
    op.create_table(
        'campaign_answers',
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('answer', sa.Enum('coming', 'late', 'cant', name='answer', native_enum=False, length=8),
                  nullable=False),
        sa.Column('late_minutes', sa.Integer(), nullable=True),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("(answer = 'late' AND late_minutes >= 1 AND late_minutes <= 120) OR "
                           "(answer <> 'late' AND late_minutes IS NULL)", name='ck_campaign_answers_late_minutes'),
        sa.CheckConstraint("(answer = 'cant') = (withdrawn_at IS NOT NULL)", name='ck_campaign_answers_withdrawn'),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('campaign_id', 'user_id'),
    )


def downgrade():
    op.drop_table('campaign_answers')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_constraint('ck_campaigns_min_players', type_='check')
        batch_op.drop_column('called_off_at')
        batch_op.drop_column('min_players')

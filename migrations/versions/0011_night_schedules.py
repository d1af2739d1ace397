"""Game nights: weekly schedules and their nights (one per schedule and local date), each night's campaign
created hours ahead

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 14:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('night_schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('promoter_id', sa.Integer(), nullable=False),
    sa.Column('weekdays', sa.JSON(), nullable=False),
    sa.Column('start_time', sa.String(length=5), nullable=False),
    sa.Column('lead_minutes', sa.Integer(), nullable=False),
    sa.Column('statuses', sa.JSON(), nullable=False),
    sa.Column('min_ready', sa.Integer(), nullable=True),
    sa.Column('hours_ahead', sa.Integer(), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('hours_ahead >= 1 AND hours_ahead <= 168', name=op.f('ck_night_schedules_hours_ahead')),
    sa.CheckConstraint('min_ready IS NULL OR min_ready >= 1', name=op.f('ck_night_schedules_min_ready')),
    sa.ForeignKeyConstraint(['promoter_id'], ['users.id'], name=op.f('fk_night_schedules_promoter_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_night_schedules_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_night_schedules'))
    )
    op.create_table('scheduled_nights',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('local_day', sa.Date(), nullable=False),
    sa.Column('start_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('create_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('pending', 'created', 'skipped', 'too_few', 'missed', 'refused', name='nightstatus', native_enum=False, length=16), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.String(length=300), nullable=False),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rq_job_id', sa.String(length=64), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_scheduled_nights_campaign_id_campaigns'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['schedule_id'], ['night_schedules.id'], name=op.f('fk_scheduled_nights_schedule_id_night_schedules'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_scheduled_nights_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduled_nights')),
    sa.UniqueConstraint('schedule_id', 'local_day', name='uq_scheduled_nights_schedule_day')
    )
    with op.batch_alter_table('scheduled_nights', schema=None) as batch_op:
        batch_op.create_index('ix_scheduled_nights_status_create_at', ['status', 'create_at'], unique=False)


def downgrade():
    with op.batch_alter_table('scheduled_nights', schema=None) as batch_op:
        batch_op.drop_index('ix_scheduled_nights_status_create_at')
    op.drop_table('scheduled_nights')
    op.drop_table('night_schedules')

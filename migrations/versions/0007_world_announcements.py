"""World builds: a workspace's world settings (announce new areas, the channel, sealed) and
one announcement row per promotion that announces its area

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

STATUSES = ('pending', 'sent', 'retrying', 'failed', 'unknown', 'off', 'cancelled')


def upgrade():
    op.create_table(
        'world_settings',
        sa.Column('workspace_id', sa.Integer(), nullable=False),
        sa.Column('announce_new_areas', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('announcement_target_sealed', sa.Text(), nullable=True),
        sa.Column('announcement_target_hint', sa.String(length=80), server_default='', nullable=False),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('workspace_id'),
    )
    op.create_table(
        'area_announcements',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('workspace_id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('status', sa.Enum(*STATUSES, name='announcementstatus', native_enum=False, length=16),
                  nullable=False),
        sa.Column('error', sa.String(length=300), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['build_projects.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('area_announcements', schema=None) as batch_op:
        batch_op.create_index('ix_area_announcements_project', ['project_id', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('area_announcements', schema=None) as batch_op:
        batch_op.drop_index('ix_area_announcements_project')
    op.drop_table('area_announcements')
    op.drop_table('world_settings')

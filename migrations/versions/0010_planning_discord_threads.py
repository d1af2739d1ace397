"""Game nights: a Discord bot (sealed token, channel id) opens a thread for each planning room and posts the room's
link and the saved teams in it

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 14:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

STATUSES = ('pending', 'retrying', 'created', 'sent', 'failed', 'unknown')


def upgrade():
    with op.batch_alter_table('gamenight_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('discord_bot_token_sealed', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('discord_bot_token_hint', sa.String(length=80), server_default='',
                                      nullable=False))
        batch_op.add_column(sa.Column('discord_channel_id', sa.String(length=30), server_default='', nullable=False))
    op.create_table('planning_threads',
    sa.Column('room_id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.String(length=30), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('nonce', sa.String(length=16), nullable=False),
    sa.Column('status', sa.Enum(*STATUSES, name='threadstatus', native_enum=False, length=16), nullable=False),
    sa.Column('error', sa.String(length=300), nullable=False),
    sa.Column('message_id', sa.String(length=30), nullable=True),
    sa.Column('message_tried_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('thread_id', sa.String(length=30), nullable=True),
    sa.Column('guild_id', sa.String(length=30), nullable=True),
    sa.Column('teams_for', sa.DateTime(timezone=True), nullable=True),
    sa.Column('teams_round', sa.Integer(), nullable=False),
    sa.Column('teams_tried_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('teams_posted_for', sa.DateTime(timezone=True), nullable=True),
    sa.Column('teams_status', sa.Enum(*STATUSES, name='threadstatus', native_enum=False, length=16), nullable=True),
    sa.Column('teams_error', sa.String(length=300), nullable=False),
    sa.Column('effect_id', sa.Integer(), nullable=True),
    sa.Column('teams_effect_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['effect_id'], ['outbox_effects.id'],
                            name=op.f('fk_planning_threads_effect_id_outbox_effects'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['teams_effect_id'], ['outbox_effects.id'],
                            name=op.f('fk_planning_threads_teams_effect_id_outbox_effects'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['room_id'], ['planning_rooms.id'], name=op.f('fk_planning_threads_room_id_planning_rooms'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('room_id', name=op.f('pk_planning_threads'))
    )


def downgrade():
    op.drop_table('planning_threads')
    with op.batch_alter_table('gamenight_settings', schema=None) as batch_op:
        batch_op.drop_column('discord_channel_id')
        batch_op.drop_column('discord_bot_token_hint')
        batch_op.drop_column('discord_bot_token_sealed')

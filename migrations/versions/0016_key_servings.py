"""Processes: which version each environment key was last served, per process (propagation), flushed from Redis
by the reconciler

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 15:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'key_servings',
        sa.Column('token_id', sa.Integer(), nullable=False),
        sa.Column('process_id', sa.Integer(), nullable=False),
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.Column('served_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], name=op.f('fk_key_servings_token_id_api_tokens'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['process_id'], ['processes.id'], name=op.f('fk_key_servings_process_id_processes'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['version_id'], ['process_versions.id'],
                                name=op.f('fk_key_servings_version_id_process_versions'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('token_id', 'process_id', name=op.f('pk_key_servings')),
    )
    with op.batch_alter_table('key_servings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_key_servings_process_id'), ['process_id'], unique=False)


def downgrade():
    with op.batch_alter_table('key_servings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_key_servings_process_id'))
    op.drop_table('key_servings')

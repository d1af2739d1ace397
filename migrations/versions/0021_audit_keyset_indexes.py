"""Audit at a million rows: the keyset order (workspace_id, created_at, id) replaces (workspace_id, created_at), and
an expression index on (workspace_id, lower(actor_label), created_at, id) serves the exact actor filter in that order

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08 00:15:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_audit_events_workspace_created_id', 'audit_events', ['workspace_id', 'created_at', 'id'])
    op.create_index('ix_audit_events_workspace_actor_created', 'audit_events',
                    ['workspace_id', sa.text('lower(actor_label)'), 'created_at', 'id'])
    op.drop_index('ix_audit_events_workspace_created', table_name='audit_events')


def downgrade():
    op.create_index('ix_audit_events_workspace_created', 'audit_events', ['workspace_id', 'created_at'])
    op.drop_index('ix_audit_events_workspace_actor_created', table_name='audit_events')
    op.drop_index('ix_audit_events_workspace_created_id', table_name='audit_events')

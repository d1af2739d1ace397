"""Governance: approval policies, promotion requests and approvals, scheduled promotions, review subscriptions

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 19:06:12.558533

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('review_subscriptions',
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_review_subscriptions_user_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_review_subscriptions_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'user_id', name=op.f('pk_review_subscriptions'))
    )
    op.create_table('approval_policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('required_approvals', sa.Integer(), nullable=False),
    sa.Column('approver_role', sa.Enum('viewer', 'editor', 'promoter', 'admin', name='role', native_enum=False, length=16), nullable=False),
    sa.Column('requester_may_approve', sa.Boolean(), nullable=False),
    sa.Column('process_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("approver_role IN ('promoter', 'admin')", name=op.f('ck_approval_policies_approver_role_allowed')),
    sa.CheckConstraint('required_approvals >= 0 AND required_approvals <= 3', name=op.f('ck_approval_policies_required_approvals_range')),
    sa.ForeignKeyConstraint(['process_id'], ['processes.id'], name=op.f('fk_approval_policies_process_id_processes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_approval_policies_updated_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_approval_policies_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_policies')),
    sa.UniqueConstraint('workspace_id', 'subject', name='uq_approval_policies_workspace_subject')
    )
    op.create_table('promotion_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('flow', sa.String(length=16), nullable=False),
    sa.Column('source', sa.JSON(), nullable=False),
    sa.Column('source_key', sa.String(length=64), nullable=False),
    sa.Column('seen', sa.JSON(), nullable=False),
    sa.Column('diff_hash', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('change_notes', sa.Text(), nullable=False),
    sa.Column('required_approvals', sa.Integer(), nullable=False),
    sa.Column('approver_role', sa.Enum('viewer', 'editor', 'promoter', 'admin', name='role', native_enum=False, length=16), nullable=False),
    sa.Column('requester_may_approve', sa.Boolean(), nullable=False),
    sa.Column('apply_when_approved', sa.Boolean(), nullable=False),
    sa.Column('state', sa.Enum('open', 'approved', 'rejected', 'applied', 'stale', 'withdrawn', name='requeststate', native_enum=False, length=16), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('applied_by_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.JSON(), nullable=True),
    sa.Column('process_id', sa.Integer(), nullable=True),
    sa.Column('build_project_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("flow IN ('process', 'world')", name=op.f('ck_promotion_requests_flow_known')),
    sa.CheckConstraint('required_approvals >= 1 AND required_approvals <= 3', name=op.f('ck_promotion_requests_required_approvals_range')),
    sa.ForeignKeyConstraint(['applied_by_id'], ['users.id'], name=op.f('fk_promotion_requests_applied_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['build_project_id'], ['build_projects.id'], name=op.f('fk_promotion_requests_build_project_id_build_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['process_id'], ['processes.id'], name=op.f('fk_promotion_requests_process_id_processes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_promotion_requests_requested_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_promotion_requests_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotion_requests'))
    )
    with op.batch_alter_table('promotion_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_promotion_requests_build_project_id'), ['build_project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_promotion_requests_process_id'), ['process_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_promotion_requests_workspace_id'), ['workspace_id'], unique=False)
        batch_op.create_index('uq_promotion_requests_open_source', ['workspace_id', 'flow', 'source_key'], unique=True, sqlite_where=sa.text("state IN ('open', 'approved')"), postgresql_where=sa.text("state IN ('open', 'approved')"))

    op.create_table('promotion_approvals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('decision', sa.Enum('approve', 'reject', name='decision', native_enum=False, length=16), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['promotion_requests.id'], name=op.f('fk_promotion_approvals_request_id_promotion_requests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_promotion_approvals_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotion_approvals')),
    sa.UniqueConstraint('request_id', 'user_id', name='uq_promotion_approvals_request_user')
    )
    op.create_table('scheduled_promotions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('flow', sa.String(length=16), nullable=False),
    sa.Column('source', sa.JSON(), nullable=False),
    sa.Column('source_key', sa.String(length=64), nullable=False),
    sa.Column('seen', sa.JSON(), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('change_notes', sa.Text(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('run_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.Enum('scheduled', 'running', 'done', 'stale', 'missed', 'cancelled', 'failed', name='schedulestate', native_enum=False, length=16), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.JSON(), nullable=True),
    sa.Column('process_id', sa.Integer(), nullable=True),
    sa.Column('build_project_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("flow IN ('process', 'world')", name=op.f('ck_scheduled_promotions_flow_known')),
    sa.CheckConstraint('deadline_at >= run_at', name=op.f('ck_scheduled_promotions_deadline_after_run')),
    sa.ForeignKeyConstraint(['build_project_id'], ['build_projects.id'], name=op.f('fk_scheduled_promotions_build_project_id_build_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['cancelled_by_id'], ['users.id'], name=op.f('fk_scheduled_promotions_cancelled_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_scheduled_promotions_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['process_id'], ['processes.id'], name=op.f('fk_scheduled_promotions_process_id_processes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['request_id'], ['promotion_requests.id'], name=op.f('fk_scheduled_promotions_request_id_promotion_requests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_scheduled_promotions_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduled_promotions'))
    )
    with op.batch_alter_table('scheduled_promotions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scheduled_promotions_build_project_id'), ['build_project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scheduled_promotions_process_id'), ['process_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scheduled_promotions_run_at'), ['run_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_scheduled_promotions_workspace_id'), ['workspace_id'], unique=False)
        batch_op.create_index('uq_scheduled_promotions_pending_source', ['workspace_id', 'flow', 'source_key'], unique=True, sqlite_where=sa.text("state IN ('scheduled', 'running')"), postgresql_where=sa.text("state IN ('scheduled', 'running')"))


def downgrade():
    with op.batch_alter_table('scheduled_promotions', schema=None) as batch_op:
        batch_op.drop_index('uq_scheduled_promotions_pending_source', sqlite_where=sa.text("state IN ('scheduled', 'running')"), postgresql_where=sa.text("state IN ('scheduled', 'running')"))
        batch_op.drop_index(batch_op.f('ix_scheduled_promotions_workspace_id'))
        batch_op.drop_index(batch_op.f('ix_scheduled_promotions_run_at'))
        batch_op.drop_index(batch_op.f('ix_scheduled_promotions_process_id'))
        batch_op.drop_index(batch_op.f('ix_scheduled_promotions_build_project_id'))

    op.drop_table('scheduled_promotions')
    op.drop_table('promotion_approvals')
    with op.batch_alter_table('promotion_requests', schema=None) as batch_op:
        batch_op.drop_index('uq_promotion_requests_open_source', sqlite_where=sa.text("state IN ('open', 'approved')"), postgresql_where=sa.text("state IN ('open', 'approved')"))
        batch_op.drop_index(batch_op.f('ix_promotion_requests_workspace_id'))
        batch_op.drop_index(batch_op.f('ix_promotion_requests_process_id'))
        batch_op.drop_index(batch_op.f('ix_promotion_requests_build_project_id'))

    op.drop_table('promotion_requests')
    op.drop_table('approval_policies')
    op.drop_table('review_subscriptions')

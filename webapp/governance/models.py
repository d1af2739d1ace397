"""Promotion governance: who must approve a promotion before it applies, and promotions that apply at a time.

Both work for every flow that registers with the engine (`webapp.promotion.FLOWS`: "process", "world"). A row
names its flow and its source as the flow's `Promotion.source()` gives it (`source`, JSON) and as a key that
says what is promoted whatever the target (`source_key`: "version:12", "project:5"), and keeps what the
requester's dialog saw of the target (`seen`, the flow's `seen_now()`), so nothing is applied that nobody
reviewed: at apply time the flow's `seen_now()` must still equal `seen`, or the row goes `stale`.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Enum, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.accounts.models import Role
from webapp.extensions import CreatedAt, IntPk, UserId, UTCDateTime, WorkspaceId, db

APPROVALS_MAX = 3
WORKSPACE_SUBJECT = "workspace"  # the workspace's default policy
WORLDS_SUBJECT = "worlds"  # world builds' override


def process_subject(process_id: int) -> str:
    return f"process:{process_id}"


class ApprovalPolicy(db.Model):
    """How many approvals a promotion needs, from whom. One row per (workspace, subject): `workspace` (the
    default), `worlds` (world builds' override) or `process:<id>` (one process's override). No row: 0
    approvals, today's behaviour."""

    __tablename__ = "approval_policies"
    __table_args__ = (
        UniqueConstraint("workspace_id", "subject", name="uq_approval_policies_workspace_subject"),
        CheckConstraint(f"required_approvals >= 0 AND required_approvals <= {APPROVALS_MAX}",
                        name="required_approvals_range"),
        CheckConstraint("approver_role IN ('promoter', 'admin')", name="approver_role_allowed"),
    )

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId]
    subject: Mapped[str] = mapped_column(String(64))
    required_approvals: Mapped[int] = mapped_column(default=0)
    approver_role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16, validate_strings=True),
                                                default=Role.promoter)
    requester_may_approve: Mapped[bool] = mapped_column(Boolean, default=False)
    process_id: Mapped[int | None] = mapped_column(ForeignKey("processes.id", ondelete="CASCADE"))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class KeptPromotion:
    """The columns a request and a schedule share: which flow and source, what the dialog saw, and the row the
    promotion belongs to (for the process page and the build page; the row goes with it)."""

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId] = mapped_column(index=True)
    flow: Mapped[str] = mapped_column(String(16))
    source: Mapped[Any] = mapped_column(JSON)  # the flow's Promotion.source()
    source_key: Mapped[str] = mapped_column(String(64))
    seen: Mapped[Any] = mapped_column(JSON)  # the flow's Promotion.seen_now() when the dialog was opened
    title: Mapped[str] = mapped_column(String(255))  # "Support bot v7 → production", for lists and messages
    change_notes: Mapped[str] = mapped_column(Text, default="")
    process_id: Mapped[int | None] = mapped_column(ForeignKey("processes.id", ondelete="CASCADE"), index=True)
    build_project_id: Mapped[int | None] = mapped_column(ForeignKey("build_projects.id", ondelete="CASCADE"),
                                                         index=True)


class RequestState(enum.StrEnum):
    open = "open"  # waiting for approvals
    approved = "approved"  # enough approvals; waiting to be applied
    rejected = "rejected"
    applied = "applied"
    stale = "stale"  # production (or the connection room) moved after the request: nobody reviewed that
    withdrawn = "withdrawn"  # the requester took it back


LIVE_REQUEST_STATES = ("open", "approved")


class PromotionRequest(KeptPromotion, db.Model):
    """A promotion somebody asked for, bound to the preview they saw (`seen`, `diff_hash`)."""

    __tablename__ = "promotion_requests"
    __table_args__ = (
        # One open request per source.
        Index("uq_promotion_requests_open_source", "workspace_id", "flow", "source_key", unique=True,
              sqlite_where=text("state IN ('open', 'approved')"),
              postgresql_where=text("state IN ('open', 'approved')")),
        CheckConstraint("flow IN ('process', 'world')", name="flow_known"),
        CheckConstraint(f"required_approvals >= 1 AND required_approvals <= {APPROVALS_MAX}",
                        name="required_approvals_range"),
    )

    diff_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the preview's JSON the requester saw
    # The policy as it was when asked: a later policy change does not move the goalposts of an open request.
    required_approvals: Mapped[int] = mapped_column()
    approver_role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16, validate_strings=True))
    requester_may_approve: Mapped[bool] = mapped_column(Boolean, default=False)
    apply_when_approved: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[RequestState] = mapped_column(Enum(RequestState, native_enum=False, length=16),
                                                default=RequestState.open)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[CreatedAt]
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # approved, rejected, stale or withdrawn
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    applied_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # What the flow's promotion answered when it applied (e.g. {"version": 8}); what made it stale.
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    decisions: Mapped[list[Approval]] = relationship(back_populates="request", order_by="Approval.id",
                                                     cascade="all, delete-orphan")


class Decision(enum.StrEnum):
    approve = "approve"
    reject = "reject"


class Approval(db.Model):
    """One reviewer's decision on one request (one per user per request)."""

    __tablename__ = "promotion_approvals"
    __table_args__ = (UniqueConstraint("request_id", "user_id", name="uq_promotion_approvals_request_user"),)

    id: Mapped[IntPk]
    request_id: Mapped[int] = mapped_column(ForeignKey("promotion_requests.id", ondelete="CASCADE"))
    # None: the reviewer deleted their account (the decision stays: it is the request's history).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decision: Mapped[Decision] = mapped_column(Enum(Decision, native_enum=False, length=16))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[CreatedAt]

    request: Mapped[PromotionRequest] = relationship(back_populates="decisions")


class ScheduleState(enum.StrEnum):
    scheduled = "scheduled"
    running = "running"  # claimed by a worker: a SIGKILL here is found by the reconciler and decided once
    done = "done"
    stale = "stale"  # something the dialog promised moved: not applied, the requester told once
    missed = "missed"  # not fired before its deadline: never applied late
    cancelled = "cancelled"
    failed = "failed"  # the flow refused at fire time for another reason (archived, not promotable)


class ScheduledPromotion(KeptPromotion, db.Model):
    """A promotion that applies itself at `run_at` (UTC; chosen in the workspace's zone), never before it,
    never twice, never after `deadline_at`."""

    __tablename__ = "scheduled_promotions"
    __table_args__ = (
        # One pending schedule per source.
        Index("uq_scheduled_promotions_pending_source", "workspace_id", "flow", "source_key", unique=True,
              sqlite_where=text("state IN ('scheduled', 'running')"),
              postgresql_where=text("state IN ('scheduled', 'running')")),
        CheckConstraint("flow IN ('process', 'world')", name="flow_known"),
        CheckConstraint("deadline_at >= run_at", name="deadline_after_run"),
    )

    request_id: Mapped[int | None] = mapped_column(ForeignKey("promotion_requests.id", ondelete="CASCADE"))
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[ScheduleState] = mapped_column(Enum(ScheduleState, native_enum=False, length=16),
                                                 default=ScheduleState.scheduled)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[CreatedAt]
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The fingerprint (`services.fingerprint`) of the preview when it was scheduled (or the approved request's).
    diff_hash: Mapped[str | None] = mapped_column(String(64))
    # How many times the row was put on RQ: each enqueue has a job id of its own (`schedules.rq_job_id`).
    runs: Mapped[int] = mapped_column(default=0, server_default="0")


class ReviewSubscription(db.Model):
    """A member who asked to be told of promotion requests they may approve (opt-in, per workspace)."""

    __tablename__ = "review_subscriptions"

    workspace_id: Mapped[WorkspaceId] = mapped_column(primary_key=True)
    user_id: Mapped[UserId] = mapped_column(primary_key=True)
    created_at: Mapped[CreatedAt]

"""What governance holds about a member (webapp/accounts/privacy.py): their opt-in to review messages goes with
the account; who asked for, approved, applied, scheduled or cancelled a promotion is shared history, kept
without the reference. Registered by create_app."""

from __future__ import annotations

from webapp.accounts.privacy import PrivacyHook
from webapp.governance.models import (
    Approval,
    ApprovalPolicy,
    PromotionRequest,
    ReviewSubscription,
    ScheduledPromotion,
)

HOOK = PrivacyHook(
    "governance",
    removed=(ReviewSubscription.user_id,),
    kept=(ApprovalPolicy.updated_by_id, PromotionRequest.requested_by_id, PromotionRequest.applied_by_id,
          Approval.user_id, ScheduledPromotion.created_by_id, ScheduledPromotion.cancelled_by_id),
)

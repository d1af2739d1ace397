"""What processes hold about a member (webapp/accounts/privacy.py): who created, archived or promoted a process or
a version — shared history, kept without the reference when the member deletes their account. Nothing of
it is the member's own data to export. Registered by create_app."""

from __future__ import annotations

from webapp.accounts.privacy import PrivacyHook
from webapp.processes.models import Process, ProcessVersion

HOOK = PrivacyHook(
    "processes",
    kept=(Process.created_by_id, Process.archived_by_id, ProcessVersion.created_by_id, ProcessVersion.promoted_by_id),
)

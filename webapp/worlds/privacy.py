"""What world builds hold about a member (webapp/accounts/privacy.py): who owns a build and who promoted it —
shared history, kept without the reference when the member deletes their account. Registered by create_app."""

from __future__ import annotations

from webapp.accounts.privacy import PrivacyHook
from webapp.worlds.models import BuildProject

HOOK = PrivacyHook("worlds", kept=(BuildProject.owner_id, BuildProject.promoted_by_id))

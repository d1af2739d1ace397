"""The jobs page: the workspace's pending, running, failed and unknown outbox effects; admins retry failures.
An unknown one (it may have reached the outside) is shown with why, and offers no retry: repeating it could
deliver it twice, which is the worse mistake (DESIGN.md rule 12)."""

from __future__ import annotations

from flask import Blueprint, Response, url_for
from flask_login import login_required

from webapp.accounts.context import current_actor
from webapp.accounts.models import Role
from webapp.htmx import render_page, toast_or_redirect
from webapp.outbox import services
from webapp.outbox.models import EffectStatus

bp = Blueprint("outbox", __name__, url_prefix="/jobs")
SHOWN = (EffectStatus.pending, EffectStatus.running, EffectStatus.failed, EffectStatus.unknown)


def _page() -> Response:
    actor = current_actor()
    actor.require(Role.admin, "see the jobs")
    return render_page("outbox/jobs.html", "effects", effects=services.list_effects(actor.workspace_id, SHOWN))


@bp.get("")
@login_required
def jobs() -> Response:
    return _page()


@bp.post("/<int:effect_id>/retry")
@login_required
def retry(effect_id: int) -> Response:
    effect = services.retry(current_actor(), effect_id)
    return toast_or_redirect(_page, f"Job #{effect.id} ({effect.kind}) is queued again.", url_for("outbox.jobs"))

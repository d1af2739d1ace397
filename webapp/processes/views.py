"""The processes dashboard: list, history, drafts, compare, and the promote / roll back dialog.

Views parse input, call one service and render; every rule lives in the services (`documents`, `promotion`). With `HX-Request`
a page answers only its named block (jinja2-fragments), so no markup exists twice.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, flash, redirect, request, url_for

from webapp import inputs
from webapp.accounts.context import current_actor, signed_in_only
from webapp.accounts.models import Role
from webapp.commands import from_form, from_query, parse
from webapp.errors import BadRequest, Conflict, DomainError, Invalid, NotFound
from webapp.governance import forms as governance_forms
from webapp.governance import services as governance
from webapp.htmx import is_htmx, redirect_after_post, render
from webapp.processes import documents, promotion, propagation
from webapp.processes.commands import ArchiveProcess, CompareVersions, CreateProcess, DraftForm, PromoteVersion
from webapp.processes.diff import line_diff
from webapp.processes.models import ProcessVersion
from webapp.processes.validation import DOCUMENT_FIELDS, parse_json_text
from webapp.templating import pretty_json

bp = Blueprint("processes", __name__)

HISTORY_PER_PAGE = 20
DRAFT_FIELDS = DOCUMENT_FIELDS  # config, input_schema, output_schema


signed_in_only(bp)


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"line_diff": line_diff, "Role": Role}


def _trigger(response: Response, **events: Any) -> Response:
    response.headers["HX-Trigger"] = json.dumps(events)
    return response


def _page_arg() -> int:
    return inputs.whole_number(request.values.get("page"), "page", default=1)


def _id_arg(name: str) -> int:
    try:
        return inputs.whole_number(request.args.get(name), name)
    except BadRequest:
        raise BadRequest(f"Pick two versions to compare ({name!r} is missing or not a version id).") from None


def _compare_args() -> CompareVersions:
    try:
        return from_query(CompareVersions)
    except BadRequest as exc:
        name = next(iter(exc.details or {"old": ""}))
        raise BadRequest(f"Pick two versions to compare ({name!r} is missing or not a version id).",
                         details=exc.details) from None


# -- processes -----------------------------------------------------------------------------------


@bp.get("/processes")
def index() -> Response:
    return render("processes/index.html", rows=documents.list_processes(current_actor()), form={}, error=None)


@bp.post("/processes")
def create() -> Any:
    actor = current_actor()
    form = {k: request.form.get(k, "") for k in ("name", "slug", "description")}
    command = from_form(CreateProcess)
    try:
        process = documents.create_process(actor, command.name or "", command.slug or None,
                                           command.description or "")
    except (Invalid, Conflict) as exc:
        return render("processes/index.html", status=exc.status, rows=documents.list_processes(actor),
                      form=form, error=exc)
    flash(f"Process {process.name!r} created.", "success")
    return redirect(url_for(".detail", slug=process.slug), code=303)


def _history_context(process: Any, page: int) -> dict[str, Any]:
    return {"process": process, "page": documents.history(process, page, HISTORY_PER_PAGE)}


def _detail_context(actor: Any, process: Any) -> dict[str, Any]:
    return {**_history_context(process, _page_arg()), "propagation": propagation.report(process),
            "policy": promotion.approval_policy(actor, process.id),
            "promotion_requests": governance.history(actor.workspace_id, process_id=process.id)}


@bp.get("/processes/<slug>")
def detail(slug: str) -> Response:
    actor = current_actor()
    process = documents.get_process(actor, slug)
    return render("processes/detail.html", "history", **_detail_context(actor, process))


@bp.post("/processes/<slug>/archive")
def archive(slug: str) -> Any:
    actor = current_actor()
    actor.require(*documents.ARCHIVE)  # before the form: a promoter gets 403, not an answer about the reason
    command = from_form(ArchiveProcess)
    process = documents.archive_process(actor, slug, command.reason or "")
    flash(f"{process.name!r} is archived: its keys get 410 Gone, and it cannot be edited or promoted.", "success")
    return redirect(url_for(".detail", slug=process.slug), code=303)


@bp.post("/processes/<slug>/restore")
def restore(slug: str) -> Any:
    process = documents.restore_process(current_actor(), slug)
    flash(f"{process.name!r} is restored and served again.", "success")
    return redirect(url_for(".detail", slug=process.slug), code=303)


# -- drafts ---------------------------------------------------------------------------------------


def _as_text(version: ProcessVersion | None) -> dict[str, str]:
    if version is None:
        return {"config": "{\n  \"prompt\": \"\"\n}", "input_schema": "", "output_schema": "", "change_notes": ""}
    return {**{f: pretty_json(getattr(version, f)) for f in DRAFT_FIELDS}, "change_notes": ""}


@bp.get("/processes/<slug>/versions/new")
def new_version(slug: str) -> Response:
    actor = current_actor()
    process = documents.get_process(actor, slug)
    actor.require(*documents.CREATE_VERSIONS)
    source = documents.get_version(actor, _id_arg("from")) if request.args.get("from") else None
    if source is not None and source.process_id != process.id:
        raise NotFound("No such version of this process.")
    return render("processes/version_form.html", process=process, version=None, source=source,
                  form=_as_text(source), errors={})


def _draft_form() -> dict[str, str]:
    return {k: request.form.get(k, "") for k in (*DRAFT_FIELDS, "change_notes")}


def _draft_command(form: dict[str, str], based_on: int | None = None) -> DraftForm:
    """The form as the command the API takes too: its JSON text read first (one 422 naming each field)."""
    values = parse_json_text({k: form[k] for k in DRAFT_FIELDS})
    return parse(DraftForm, {**values, "change_notes": form["change_notes"], "based_on": based_on})


@bp.post("/processes/<slug>/versions")
def create_version(slug: str) -> Any:
    actor = current_actor()
    process = documents.get_process(actor, slug)
    actor.require(*documents.CREATE_VERSIONS)  # before the JSON: a viewer gets 403, not a 422 form
    based_on = inputs.optional_whole_number(request.form.get("based_on"), "based_on")
    form = _draft_form()
    try:
        draft = _draft_command(form, based_on)
        version = documents.create_draft(actor, process, draft.config, draft.input_schema, draft.output_schema,
                                         draft.change_notes or "", draft.based_on)
    except Invalid as exc:
        return render("processes/version_form.html", status=422, process=process, version=None,
                      source=None, based_on=based_on, form=form, errors=exc.details or {}, error=exc)
    flash(f"Draft v{version.number} saved.", "success")
    return redirect(url_for(".detail", slug=process.slug), code=303)


@bp.get("/versions/<int:version_id>/edit")
def edit_version(version_id: int) -> Response:
    version = documents.editable_draft(current_actor(), version_id)
    return render("processes/version_form.html", process=version.process, version=version, source=None,
                  form=_as_text(version) | {"change_notes": version.change_notes}, errors={})


@bp.post("/versions/<int:version_id>")
def update_version(version_id: int) -> Any:
    actor = current_actor()
    version = documents.editable_draft(actor, version_id)  # 403/404/409 before looking at the JSON
    form = _draft_form()
    try:
        draft = _draft_command(form)
        version = documents.update_draft(actor, version_id, draft.config, draft.input_schema, draft.output_schema,
                                         draft.change_notes or "")
    except Invalid as exc:
        return render("processes/version_form.html", status=422, process=version.process, version=version,
                      source=None, form=form, errors=exc.details or {}, error=exc)
    flash(f"Draft v{version.number} updated.", "success")
    return redirect(url_for(".detail", slug=version.process.slug), code=303)


@bp.post("/versions/<int:version_id>/activate")
def activate(version_id: int) -> Any:
    actor = current_actor()
    try:
        version = documents.activate(actor, version_id)
    except DomainError as exc:
        if not is_htmx():
            raise
        # Keep the history where it is; the error arrives as a toast.
        response = _trigger(Response(status=exc.status), toast={"level": "error", "message": exc.message})
        response.headers["HX-Reswap"] = "none"
        return response
    message = f"v{version.number} is active in the sandbox."
    if not is_htmx():
        flash(message, "success")
        return redirect(url_for(".detail", slug=version.process.slug), code=303)
    response = render("processes/detail.html", "history", **_history_context(version.process, _page_arg()))
    return _trigger(response, toast={"level": "success", "message": message})


@bp.get("/versions/<int:version_id>")
def version(version_id: int) -> Response:
    v = documents.get_version(current_actor(), version_id)
    return render("processes/version.html", process=v.process, version=v)


COMPARE_PICKS = {  # which pickers were left empty → what to say beside them
    ("old", "new"): "Pick two versions to compare: one in the Old column and one in the New column.",
    ("old",): "Pick an old version too (the Old column).",
    ("new",): "Pick a new version too (the New column).",
}
COMPARE_MESSAGE = "compare-message"  # the history form's answer goes there (its hx-target)


def _compare_unpicked(actor: Any, process: Any, missing: tuple[str, ...]) -> Response:
    """422 with the message beside the pickers: htmx swaps it in there; without JS the process page comes back
    with it (and what was picked still picked), not an error page."""
    message, picked = COMPARE_PICKS[missing], {k: request.args.get(k, "") for k in ("old", "new")}
    if is_htmx():
        return render("processes/detail.html", "compare_message", status=422, compare_error=message)
    return render("processes/detail.html", status=422, **_detail_context(actor, process), compare_error=message,
                  picked=picked)


@bp.get("/processes/<slug>/compare")
def compare(slug: str) -> Response:
    actor = current_actor()
    process = documents.get_process(actor, slug)
    missing = tuple(k for k in ("old", "new") if not request.args.get(k, "").strip())
    if missing:
        return _compare_unpicked(actor, process, missing)
    versions = _compare_args()
    old, new, diff = documents.compare(actor, versions.old, versions.new)
    if old.process_id != process.id:
        raise NotFound("No such version of this process.")
    if is_htmx() and request.headers.get("HX-Target") == COMPARE_MESSAGE:
        # The history's form, both picked: the compare page itself (its own URL), not a fragment in the form.
        return Response(status=204, headers={"HX-Redirect": url_for(".compare", slug=slug, old=old.id, new=new.id)})
    return render("processes/compare.html", "diff", process=process, old=old, new=new, diff=diff)


# -- promotion ------------------------------------------------------------------------------------


def _dialog(status: int = 200, **context: Any) -> Response:
    context.setdefault("preview", None)
    context.setdefault("message", None)
    context.setdefault("change_notes", "")
    context.setdefault("open_request", None)
    preview = context["preview"]
    actor = current_actor()
    # What the confirm needs: promote directly, or (the policy requiring approval) request it.
    context["approval"] = None if preview is None else governance_forms.dialog_approval(
        actor, promotion.approval_policy(actor, preview.source.process_id),
        url_for(".request_promotion", version_id=preview.source.id), context.pop("open_request"))
    return render("processes/promote.html", "dialog", status=status, **context)


def _dialog_again(actor: Any, version_id: int, refusal: DomainError, notes: str) -> Response:
    """The dialog after a refused confirm: the refusal above the preview as it is now (or alone, when no preview
    can be had: a version gone, a role too low)."""
    try:
        fresh = promotion.promotion_preview(actor, version_id)
    except DomainError:
        return _dialog(refusal.status, message=refusal.message, change_notes=notes)
    return _dialog(refusal.status, preview=fresh, message=refusal.message, change_notes=notes,
                   open_request=governance_forms.open_request(refusal))


@bp.get("/versions/<int:version_id>/promote")
def promote_dialog(version_id: int) -> Response:
    try:
        preview = promotion.promotion_preview(current_actor(), version_id)
    except DomainError as exc:
        return _dialog(exc.status, message=exc.message)
    return _dialog(preview=preview)


@bp.post("/versions/<int:version_id>/promote")
def promote(version_id: int) -> Any:
    actor = current_actor()
    notes = request.form.get("change_notes", "")
    try:
        command = from_form(PromoteVersion)
        override = from_form(governance_forms.Override).override_reason
        result = promotion.promote(actor, version_id, command.change_notes or "", command.preview_token or None,
                                   override_reason=override)
    except (promotion.ProductionChanged, promotion.IdenticalToProduction, governance.ApprovalRequired,
            Invalid) as exc:
        # production moved, or is this already, or the policy changed since the dialog opened, or the override
        # had no reason
        return _dialog_again(actor, version_id, exc, notes)
    except DomainError as exc:
        return _dialog(exc.status, message=exc.message, change_notes=notes)

    promoted, replaced = result.promoted, result.deprecated
    n = result.cache_entries
    message = (f"v{promoted.number} is now in production "
               f"({f'replaced v{replaced.number}' if replaced else 'first production version'}). "
               f"{n} cache entr{'y' if n == 1 else 'ies'} invalidated.")
    if not is_htmx():
        flash(message, "success")
        return redirect(url_for(".detail", slug=promoted.process.slug), code=303)
    response = render("processes/detail.html", "history", **_history_context(promoted.process, 1))
    response.headers["HX-Retarget"] = "#history"
    response.headers["HX-Reswap"] = "outerHTML"
    return _trigger(response, closeDialog=True, toast={"level": "success", "message": message})


@bp.post("/versions/<int:version_id>/request")
def request_promotion(version_id: int) -> Any:
    """The dialog's "Request promotion": a request bound to the preview it showed (governance)."""
    actor = current_actor()
    notes = request.form.get("change_notes", "")
    try:
        form = from_form(governance_forms.Request)
        row = governance.request_promotion(actor, governance.RequestCommand(
            flow=promotion.FLOW.name, source=version_id, preview_token=form.preview_token,
            change_notes=form.change_notes, apply_when_approved=form.apply_when_approved))
    except (Conflict, Invalid) as exc:  # production moved, already requested, no approval needed (any more)
        return _dialog_again(actor, version_id, exc, notes)
    except DomainError as exc:
        return _dialog(exc.status, message=exc.message, change_notes=notes)
    flash(governance_forms.requested_message(row), "success")
    return redirect_after_post(url_for("governance.review", request_id=row.id))

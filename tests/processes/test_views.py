"""The processes dashboard (HTML + htmx): history, drafts, compare, and the promote / roll back dialog."""

from __future__ import annotations

import html as html_text
import json
import re

import pytest
from sqlalchemy import func, select

from webapp.processes import cache, documents, promotion
from webapp.processes.models import ProcessVersion, VersionStatus

# The app fixture's app context is reused by test-client requests; give each request its own `g`.


def _token(html: str) -> str:
    match = re.search(r'name="preview_token" value="([^"]+)"', html)
    assert match, "no preview_token in the dialog"
    return match.group(1)


def _version_count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(ProcessVersion))


def _signed_in(auth, factories, role: str = "promoter", workspace: str = "Acme"):
    actor = factories.user(role, workspace)
    auth.login(actor.label)
    return actor


# -- the promote flow ---------------------------------------------------------------------------


def test_full_promote_flow_opens_dialog_confirms_and_refreshes_history(auth, db, factories):
    actor = _signed_in(auth, factories, "promoter")
    proc = factories.process(actor, "Greeter")
    live = factories.production(actor, proc, {"prompt": "Hello", "temperature": 0.2})  # v1 sandbox → v2 prod
    candidate = factories.version(actor, proc, {"prompt": "Hi there", "temperature": 0.2, "model": "m1"})  # v3

    dialog = auth.get(f"/versions/{candidate.id}/promote", htmx=True)
    html = dialog.get_data(as_text=True)
    assert dialog.status_code == 200
    assert "<html" not in html
    assert "2 changes: 1 added, 1 modified" in html
    assert "0 cache entries will be invalidated" in html
    assert f"v{live.number}" in html and "config.model" in html

    confirm = auth.post(f"/versions/{candidate.id}/promote", htmx=True,
                        data={"preview_token": _token(html), "change_notes": "friendlier"})
    body = confirm.get_data(as_text=True)
    assert confirm.status_code == 200, body
    assert confirm.headers["HX-Retarget"] == "#history"
    assert confirm.headers["HX-Reswap"] == "outerHTML"
    trigger = json.loads(confirm.headers["HX-Trigger"])
    assert trigger["closeDialog"] is True
    assert trigger["toast"]["level"] == "success"
    assert trigger["toast"]["message"] == "v4 is now in production (replaced v2). 0 cache entries invalidated."
    assert body.lstrip().startswith('<section id="history"') and "<html" not in body
    assert re.search(r'id="version-\d+" class="version-row is-live"[\s\S]*?<strong>v4</strong>', body)
    assert "friendlier" in body

    db.session.expire_all()
    assert documents.current_production(proc.id).number == 4
    assert db.session.get(ProcessVersion, live.id).status is VersionStatus.deprecated


def test_promote_without_htmx_redirects_to_process_page_with_flash(auth, factories):
    actor = _signed_in(auth, factories, "promoter")
    proc = factories.process(actor)
    candidate = factories.version(actor, proc)
    html = auth.get(f"/versions/{candidate.id}/promote").get_data(as_text=True)
    assert "<html" in html  # the dialog works as a page too
    response = auth.post(f"/versions/{candidate.id}/promote", data={"preview_token": _token(html)})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/processes/{proc.slug}")
    assert "is now in production" in auth.get(response.headers["Location"]).get_data(as_text=True)


def test_first_promotion_dialog_says_nothing_in_production(auth, factories):
    actor = _signed_in(auth, factories, "promoter")
    proc = factories.process(actor)
    candidate = factories.version(actor, proc, {"prompt": "first"})
    html = auth.get(f"/versions/{candidate.id}/promote", htmx=True).get_data(as_text=True)
    assert "Nothing in production yet — first promotion." in html
    assert "added" in html and "config" in html


def test_confirm_with_stale_preview_answers_409_with_fresh_preview_and_message(auth, factories):
    actor = _signed_in(auth, factories, "promoter")
    proc = factories.process(actor)
    factories.production(actor, proc, {"prompt": "one"})  # v1 → v2
    mine = factories.version(actor, proc, {"prompt": "mine"})  # v3
    stale = _token(auth.get(f"/versions/{mine.id}/promote", htmx=True).get_data(as_text=True))

    theirs = factories.version(actor, proc, {"prompt": "theirs"})  # v4
    promotion.promote(actor, theirs.id)  # v5 goes live meanwhile

    response = auth.post(f"/versions/{mine.id}/promote", htmx=True, data={"preview_token": stale})
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Production changed since you opened this dialog" in html
    assert "Changes against v5" in html  # the fresh preview, not the one the user saw
    fresh = _token(html)
    assert fresh != stale
    assert documents.current_production(proc.id).number == 5

    again = auth.post(f"/versions/{mine.id}/promote", htmx=True, data={"preview_token": fresh})
    assert again.status_code == 200
    assert documents.current_production(proc.id).number == 6


def _submit_buttons(html: str) -> dict[str, str]:
    """Each submit button's label → its opening tag (to see whether it is disabled)."""
    return {re.sub(r"<[^>]+>", "", m.group(2)).strip(): m.group(1)
            for m in re.finditer(r'(<button type="submit"[^>]*>)(.*?)</button>', html, re.DOTALL)}


def test_a_dialog_identical_to_production_says_so_and_disables_promote_and_schedule(auth, db, factories):
    actor = _signed_in(auth, factories, "promoter")
    proc = factories.process(actor)
    factories.production(actor, proc, {"prompt": "same"})  # v1 → v2
    twin = factories.version(actor, proc, {"prompt": "same"})  # v3
    html = auth.get(f"/versions/{twin.id}/promote", htmx=True).get_data(as_text=True)
    assert "Identical to production — nothing to promote." in html
    assert "v3 has the same config and schemas as v2 (copy of v1)." in html
    buttons = _submit_buttons(html)
    assert " disabled" in buttons["Promote"] and " disabled" in buttons["Schedule"]

    before = _version_count(db)
    response = auth.post(f"/versions/{twin.id}/promote", htmx=True, data={"preview_token": _token(html)})
    again = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Identical to production — nothing to promote: v3 has the same config" in again
    assert " disabled" in _submit_buttons(again)["Promote"]  # the dialog again, still refusing
    assert _version_count(db) == before


def test_a_dialog_with_changes_offers_an_enabled_promote(auth, factories):
    actor = _signed_in(auth, factories, "promoter")
    proc = factories.process(actor)
    factories.production(actor, proc, {"prompt": "old"})
    changed = factories.version(actor, proc, {"prompt": "new"})
    html = auth.get(f"/versions/{changed.id}/promote", htmx=True).get_data(as_text=True)
    assert "Identical to production" not in html
    assert " disabled" not in _submit_buttons(html)["Promote"]


def test_history_and_dialog_say_which_version_a_copy_copies(auth, factories):
    actor = _signed_in(auth, factories, "promoter")
    proc = factories.process(actor)
    first = factories.production(actor, proc, {"prompt": "one"})  # v2 (copy of v1)
    factories.production(actor, proc, {"prompt": "two"})  # v4 (copy of v3)
    promotion.promote(actor, first.id)  # v5 (copy of v2)
    history = auth.get(f"/processes/{proc.slug}").get_data(as_text=True)
    assert re.search(r"<strong>v5</strong></a> <small class=\"copy-of\">\(copy of v2\)</small>", history)
    assert re.search(r"<strong>v3</strong></a>\s*</td>", history)  # a sandbox version copies nothing
    four = documents.history(proc).items[1]
    dialog = auth.get(f"/versions/{four.id}/promote", htmx=True).get_data(as_text=True)
    assert "v4 (copy of v3) (production deprecated)" in dialog and "v5 (copy of v2), promoted" in dialog
    page = auth.get(f"/versions/{four.id}").get_data(as_text=True)
    assert re.search(r"copy of <a href=\"/versions/\d+\">v3</a>", page)


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_viewer_and_editor_get_403_on_promote_dialog_and_confirm(auth, factories, role):
    admin = factories.user("admin")
    proc = factories.process(admin)
    candidate = factories.version(admin, proc)
    _signed_in(auth, factories, role)
    dialog = auth.get(f"/versions/{candidate.id}/promote", htmx=True)
    assert dialog.status_code == 403
    assert "You need the promoter role" in dialog.get_data(as_text=True)
    confirm = auth.post(f"/versions/{candidate.id}/promote", htmx=True, data={"change_notes": "x"})
    assert confirm.status_code == 403
    assert documents.current_production(proc.id) is None


def test_dialog_for_a_draft_answers_409_not_promotable(auth, factories):
    actor = _signed_in(auth, factories, "promoter")
    proc = factories.process(actor)
    draft = factories.version(actor, proc, activate=False)
    response = auth.get(f"/versions/{draft.id}/promote", htmx=True)
    assert response.status_code == 409
    assert "only sandbox active versions" in response.get_data(as_text=True)


@pytest.mark.parametrize("role, sees", [("viewer", False), ("editor", False), ("promoter", True), ("admin", True)])
def test_promote_button_shown_only_to_promoters_on_sandbox_active_rows(auth, factories, role, sees):
    admin = factories.user("admin")
    proc = factories.process(admin)
    active = factories.version(admin, proc)
    draft = factories.version(admin, proc, activate=False)
    live = promotion.promote(admin, active.id).promoted
    _signed_in(auth, factories, role)
    html = auth.get(f"/processes/{proc.slug}").get_data(as_text=True)
    assert (f'hx-get="/versions/{active.id}/promote"' in html) is sees
    assert html.count("Promote to Production") == (1 if sees else 0)
    assert f"/versions/{draft.id}/promote" not in html
    assert f"/versions/{live.id}/promote" not in html


# -- tenancy ----------------------------------------------------------------------------------------

ROUTES = [
    ("get", "/processes/{slug}"),
    ("get", "/processes/{slug}/versions/new"),
    ("get", "/processes/{own_slug}/versions/new?from={vid}"),
    ("post", "/processes/{slug}/versions"),
    ("get", "/versions/{vid}"),
    ("get", "/versions/{vid}/edit"),
    ("post", "/versions/{vid}"),
    ("post", "/versions/{vid}/activate"),
    ("get", "/processes/{slug}/compare?old={vid}&new={vid}"),
    ("get", "/processes/{own_slug}/compare?old={own_vid}&new={vid}"),
    ("get", "/versions/{vid}/promote"),
    ("post", "/versions/{vid}/promote"),
]


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize("method, url", ROUTES)
def test_another_workspaces_slug_or_version_id_is_404(auth, db, factories, method, url, htmx):
    stranger = factories.user("admin", "Elsewhere")
    theirs = factories.process(stranger, "Shared Name")
    their_version = factories.version(stranger, theirs, activate=False)
    me = _signed_in(auth, factories, "admin", "Acme")
    mine = factories.process(me, "Mine")
    my_version = factories.version(me, mine)
    before = _version_count(db)
    target = url.format(slug=theirs.slug, vid=their_version.id, own_slug=mine.slug, own_vid=my_version.id)
    data = {"config": '{"prompt": "x"}', "preview_token": "", "change_notes": "x"}
    response = auth.post(target, htmx=htmx, data=data) if method == "post" else auth.get(target, htmx=htmx)
    assert response.status_code == 404
    assert _version_count(db) == before


# -- drafts ---------------------------------------------------------------------------------------


def test_create_process_then_draft_then_activate_with_htmx(auth, db, factories):
    _signed_in(auth, factories, "editor")
    created = auth.post("/processes", data={"name": "Summariser", "slug": ""})
    assert created.status_code == 303 and created.headers["Location"].endswith("/processes/summariser")
    assert "Summariser" in auth.get("/processes").get_data(as_text=True)

    saved = auth.post("/processes/summariser/versions", data={
        "config": '{"prompt": "Summarise {{ text }}"}', "input_schema": '{"type": "object"}',
        "output_schema": "", "change_notes": "first cut"})
    assert saved.status_code == 303
    draft = db.session.scalar(select(ProcessVersion))
    assert draft.status is VersionStatus.draft and draft.input_schema == {"type": "object"}

    activated = auth.post(f"/versions/{draft.id}/activate", htmx=True, data={"page": "1"})
    assert activated.status_code == 200
    assert activated.get_data(as_text=True).lstrip().startswith('<section id="history"')
    assert json.loads(activated.headers["HX-Trigger"])["toast"]["message"] == "v1 is active in the sandbox."
    again = auth.post(f"/versions/{draft.id}/activate", htmx=True)
    assert again.status_code == 409 and again.headers["HX-Reswap"] == "none"


def test_create_process_with_taken_slug_rerenders_with_409(auth, factories):
    actor = _signed_in(auth, factories, "editor")
    factories.process(actor, "Taken")
    response = auth.post("/processes", data={"name": "Taken"})
    assert response.status_code == 409
    assert "already exists" in response.get_data(as_text=True)


def test_bad_json_answers_422_with_message_beside_field_and_writes_nothing(auth, db, factories):
    actor = _signed_in(auth, factories, "editor")
    proc = factories.process(actor)
    response = auth.post(f"/processes/{proc.slug}/versions", data={
        "config": '{"prompt": "x",}', "input_schema": "{not json", "output_schema": "", "change_notes": "n"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'name="config"[^>]*aria-invalid="true"[\s\S]*?id="error-config"[^>]*>Not valid JSON', html)
    assert re.search(r'id="error-input_schema"[^>]*>Not valid JSON', html)
    assert "error-output_schema" not in html
    assert "{not json" in html  # the user's text is kept
    assert _version_count(db) == 0


def test_invalid_json_schema_answers_422_and_writes_nothing(auth, db, factories):
    actor = _signed_in(auth, factories, "editor")
    proc = factories.process(actor)
    response = auth.post(f"/processes/{proc.slug}/versions", data={
        "config": '{"prompt": "x"}', "input_schema": '{"type": "nonsense"}', "output_schema": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'id="error-input_schema"[^>]*>Not a valid JSON Schema', html)
    assert _version_count(db) == 0


def test_editing_a_production_version_is_409_while_edit_opens_a_prefilled_new_draft(auth, db, factories):
    actor = _signed_in(auth, factories, "admin")
    proc = factories.process(actor)
    live = factories.production(actor, proc, {"prompt": "frozen <b>"})
    assert auth.get(f"/versions/{live.id}/edit").status_code == 409
    refused = auth.post(f"/versions/{live.id}", data={"config": '{"prompt": "changed"}'})
    assert refused.status_code == 409
    db.session.expire_all()
    assert db.session.get(ProcessVersion, live.id).config == {"prompt": "frozen <b>"}

    history = auth.get(f"/processes/{proc.slug}").get_data(as_text=True)
    edit_url = f"/processes/{proc.slug}/versions/new?from={live.id}"
    assert f'href="{edit_url}"' in history
    form = auth.get(edit_url).get_data(as_text=True)
    assert "&#34;prompt&#34;: &#34;frozen &lt;b&gt;&#34;" in form or "&quot;prompt&quot;" in form
    assert f'name="based_on" value="{live.id}"' in form

    saved = auth.post(f"/processes/{proc.slug}/versions",
                      data={"config": '{"prompt": "thawed"}', "based_on": str(live.id)})
    assert saved.status_code == 303
    newest = documents.history(proc).items[0]
    assert newest.status is VersionStatus.draft and newest.config == {"prompt": "thawed"}


def test_role_and_state_are_checked_before_the_json_so_the_answer_names_the_real_problem(auth, db, factories):
    admin = factories.user("admin")
    proc = factories.process(admin)
    draft = factories.version(admin, proc, activate=False)
    live = factories.production(admin, proc)
    before = len(documents.history(proc).items)
    auth.login(factories.user("viewer").label)
    assert auth.post(f"/processes/{proc.slug}/versions", data={"config": "{bad"}).status_code == 403
    assert auth.post(f"/versions/{draft.id}", data={"config": "{bad"}).status_code == 403
    assert auth.get(f"/versions/{draft.id}/edit").status_code == 403
    auth.logout()
    auth.login(admin.label)
    assert auth.post(f"/versions/{live.id}", data={"config": "{bad"}).status_code == 409
    assert len(documents.history(proc).items) == before


def test_a_draft_can_be_edited_in_place(auth, db, factories):
    actor = _signed_in(auth, factories, "editor")
    proc = factories.process(actor)
    draft = factories.version(actor, proc, activate=False)
    assert "Save draft" in auth.get(f"/versions/{draft.id}/edit").get_data(as_text=True)
    bad = auth.post(f"/versions/{draft.id}", data={"config": "[1, 2]"})
    assert bad.status_code == 422 and "must be a JSON object" in bad.get_data(as_text=True)
    ok = auth.post(f"/versions/{draft.id}", data={"config": '{"prompt": "v2"}', "change_notes": "tweak"})
    assert ok.status_code == 303
    db.session.expire_all()
    assert db.session.get(ProcessVersion, draft.id).config == {"prompt": "v2"}


def test_version_page_shows_pretty_json_read_only(auth, factories):
    actor = _signed_in(auth, factories, "viewer")
    admin = factories.user("admin")
    proc = factories.process(admin)
    v = factories.version(admin, proc, {"prompt": "Hello", "n": 1})
    html = auth.get(f"/versions/{v.id}").get_data(as_text=True)
    assert "&#34;prompt&#34;: &#34;Hello&#34;" in html
    assert "<textarea" not in html
    assert actor.role.name == "viewer" and "Edit (new draft)" not in html


# -- rollback -------------------------------------------------------------------------------------


def test_rollback_flow_defaults_notes_to_rollback_to_vn(auth, db, factories):
    actor = _signed_in(auth, factories, "promoter")
    proc = factories.process(actor)
    old = factories.production(actor, proc, {"prompt": "old"})  # v2
    factories.production(actor, proc, {"prompt": "new"})  # v4
    history = auth.get(f"/processes/{proc.slug}").get_data(as_text=True)
    assert f'hx-get="/versions/{old.id}/promote"' in history and "Roll back to this" in history

    dialog = auth.get(f"/versions/{old.id}/promote", htmx=True).get_data(as_text=True)
    assert "Roll back to v2" in dialog
    assert 'placeholder="Rollback to v2"' in dialog
    confirm = auth.post(f"/versions/{old.id}/promote", htmx=True,
                        data={"preview_token": _token(dialog), "change_notes": ""})
    assert confirm.status_code == 200
    assert "v5 is now in production (replaced v4)" in json.loads(confirm.headers["HX-Trigger"])["toast"]["message"]
    live = documents.current_production(proc.id)
    assert live.number == 5 and live.change_notes == "Rollback to v2" and live.config == {"prompt": "old"}
    assert "Rollback to v2" in confirm.get_data(as_text=True)


# -- compare --------------------------------------------------------------------------------------


def test_compare_page_shows_added_removed_and_modified_with_paths(auth, factories):
    _signed_in(auth, factories, "viewer")
    admin = factories.user("admin")
    proc = factories.process(admin)
    old = factories.version(admin, proc, {"prompt": "line one\nline two\nline three", "temperature": 0.2, "stop": ["x"]})
    new = factories.version(admin, proc, {"prompt": "line one\nline 2\nline three", "temperature": 0.7, "top_p": 1})
    response = auth.get(f"/processes/{proc.slug}/compare?old={old.id}&new={new.id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in html
    assert "4 changes: 1 added, 1 removed, 2 modified" in html
    for path in ("config.prompt", "config.temperature", "config.stop", "config.top_p"):
        assert f"<code>{path}</code>" in html
    assert '<li class="ld-del">line two</li>' in html and '<li class="ld-add">line 2</li>' in html
    assert "badge-added" in html and "badge-removed" in html and "badge-modified" in html

    fragment = auth.get(f"/processes/{proc.slug}/compare?old={old.id}&new={new.id}", htmx=True)
    assert "<html" not in fragment.get_data(as_text=True) and "4 changes" in fragment.get_data(as_text=True)
    assert auth.get(f"/processes/{proc.slug}/compare?old={old.id}").status_code == 422


def test_compare_pickers_have_visible_old_and_new_labels_naming_the_version(auth, factories):
    actor = _signed_in(auth, factories, "viewer")
    admin = factories.user("admin")
    proc = factories.process(admin)
    v1 = factories.version(admin, proc, {"prompt": "a"})
    html = auth.get(f"/processes/{proc.slug}").get_data(as_text=True)
    for side, label in (("old", "Old"), ("new", "New")):
        assert re.search(rf'<input type="radio" id="compare-{side}-{v1.id}" name="{side}" value="{v1.id}"', html)
        assert f'<label for="compare-{side}-{v1.id}">{label} <small class="muted">v1</small></label>' in html
    assert actor.label  # a viewer compares too


@pytest.mark.parametrize(("query", "message"), [
    ("", "Pick two versions to compare: one in the Old column and one in the New column."),
    ("?old={a}", "Pick a new version too (the New column)."),
    ("?new={a}&old=", "Pick an old version too (the Old column)."),
])
def test_compare_with_a_picker_left_empty_answers_422_beside_the_pickers(auth, factories, query, message):
    _signed_in(auth, factories, "viewer")
    admin = factories.user("admin")
    proc = factories.process(admin)
    a = factories.version(admin, proc, {"prompt": "a"})
    url = f"/processes/{proc.slug}/compare" + query.format(a=a.id)

    fragment = auth.get(url, htmx=True, headers={"HX-Target": "compare-message"})
    assert fragment.status_code == 422
    assert fragment.get_data(as_text=True).strip() == (
        f'<span class="notice notice-error compare-error" role="alert">{message}</span>')

    page = auth.get(url)  # no JS: the process page again, the message inside the compare form, the pick kept
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "<html" in html and "<h2>History</h2>" in html
    assert re.search(rf'<form id="compare-form"[\s\S]*?role="alert">{re.escape(message)}</span></span>\s*</form>',
                     html)
    picked = re.search(rf'<input type="radio" id="compare-old-{a.id}"[^>]*>', html).group(0)
    assert (" checked" in picked) == ("old=" + str(a.id) in url)


def test_compare_form_sent_by_htmx_with_both_picked_goes_to_the_compare_page(auth, factories):
    _signed_in(auth, factories, "viewer")
    admin = factories.user("admin")
    proc = factories.process(admin)
    a = factories.version(admin, proc, {"prompt": "a"})
    b = factories.version(admin, proc, {"prompt": "b"})
    response = auth.get(f"/processes/{proc.slug}/compare?old={a.id}&new={b.id}", htmx=True,
                        headers={"HX-Target": "compare-message"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == f"/processes/{proc.slug}/compare?old={a.id}&new={b.id}"


def test_a_10000_key_diff_with_a_50kb_prompt_renders_every_change(auth, factories):
    """Its speed is measured by `make bench` (diff_fragment_ms), not asserted here."""
    _signed_in(auth, factories, "viewer")
    admin = factories.user("admin")
    proc = factories.process(admin)
    prompt = "\n".join(f"line {i} " + "x" * 40 for i in range(1100))  # ~50 KB
    old = factories.version(admin, proc, {"prompt": prompt, **{f"k{i}": i for i in range(10_000)}})
    new = factories.version(admin, proc, {"prompt": prompt.replace("line 500 ", "line five hundred "),
                                          **{f"k{i}": i + 1 for i in range(10_000)}})
    response = auth.get(f"/processes/{proc.slug}/compare?old={old.id}&new={new.id}", htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "10001 changes: 10001 modified" in html
    assert "line five hundred" in html and "k9999" in html


def test_a_nested_or_long_value_in_the_diff_is_folded_whole_and_a_short_one_is_shown_inline(auth, factories):
    """Nothing is cut at 2,000 characters any more: the fold's summary is a one-line preview and opening it
    (details/summary, no script) shows every character."""
    _signed_in(auth, factories, "viewer")
    admin = factories.user("admin")
    proc = factories.process(admin)
    big = {"rules": [{"id": i, "text": "r" * 40} for i in range(100)]}  # ~6,000 characters of JSON
    old = factories.version(admin, proc, {"model": "m1", "stop": ["x"]})
    new = factories.version(admin, proc, {"model": "m2", "stop": ["x"], "policy": big, "note": "n" * 3000})
    html = auth.get(f"/processes/{proc.slug}/compare?old={old.id}&new={new.id}", htmx=True).get_data(as_text=True)
    rows = {m.group(1): m.group(2) for m in re.finditer(r'<tr class="change-\w+">\s*<td><code>([^<]+)</code>(.*?)</tr>',
                                                           html, re.DOTALL)}
    assert set(rows) == {"config.model", "config.policy", "config.note"}
    assert "<details" not in rows["config.model"] and '<code class="json">&#34;m2&#34;</code>' in rows["config.model"]
    policy = rows["config.policy"]
    summary = re.search(r'<details class="json-fold"><summary><code class="json">([^<]+)</code></summary>', policy)
    assert summary and len(html_text.unescape(summary.group(1))) < 110  # one line: 80 characters and the length
    assert "characters)" in summary.group(1)  # the preview says how long the whole value is
    whole = policy.split("</summary>", 1)[1]
    assert '&#34;id&#34;: 99' in whole and whole.count("r" * 40) == 100  # all of it, indented, inside the fold
    note = rows["config.note"]
    assert "<details" in note and "n" * 3000 in note  # a long string: its whole text, not cut


# -- history --------------------------------------------------------------------------------------


def test_htmx_request_to_process_page_returns_only_the_history_fragment(auth, factories):
    actor = _signed_in(auth, factories, "viewer")
    admin = factories.user("admin")
    proc = factories.process(admin)
    factories.version(admin, proc)
    full = auth.get(f"/processes/{proc.slug}").get_data(as_text=True)
    assert "<html" in full and '<section id="history"' in full
    response = auth.get(f"/processes/{proc.slug}", htmx=True)
    html = response.get_data(as_text=True)
    assert "<html" not in html and "<nav aria-label=\"breadcrumb\"" not in html
    assert html.lstrip().startswith('<section id="history"')
    assert "HX-Request" in response.headers.get("Vary", "")
    assert actor.role.name == "viewer"


def test_history_paginates_20_per_page_newest_first(auth, factories):
    _signed_in(auth, factories, "viewer")
    admin = factories.user("admin")
    proc = factories.process(admin)
    for i in range(23):
        factories.version(admin, proc, {"prompt": f"p{i}"}, activate=False)
    first = auth.get(f"/processes/{proc.slug}", htmx=True).get_data(as_text=True)
    numbers = [int(n) for n in re.findall(r"<strong>v(\d+)</strong>", first)]
    assert numbers == list(range(23, 3, -1))
    assert "page 1 of 2 · 23 in all" in first
    assert f'hx-get="/processes/{proc.slug}?page=2"' in first
    second = auth.get(f"/processes/{proc.slug}?page=2", htmx=True).get_data(as_text=True)
    assert [int(n) for n in re.findall(r"<strong>v(\d+)</strong>", second)] == [3, 2, 1]


def test_live_version_stands_out_in_history(auth, factories):
    actor = _signed_in(auth, factories, "viewer")
    admin = factories.user("admin")
    proc = factories.process(admin)
    live = factories.production(admin, proc)
    html = auth.get(f"/processes/{proc.slug}", htmx=True).get_data(as_text=True)
    assert f'id="version-{live.id}" class="version-row is-live"' in html
    assert html.count("is-live") == 1 and ">live<" in html
    assert actor.role.name == "viewer"


def test_process_list_shows_production_version_or_not_in_production(auth, factories):
    _signed_in(auth, factories, "viewer")
    admin = factories.user("admin")
    live = factories.production(admin, factories.process(admin, "Alpha"))
    factories.process(admin, "Beta")
    html = auth.get("/processes").get_data(as_text=True)
    assert f"v{live.number}" in html and "not in production" in html


# -- cache ----------------------------------------------------------------------------------------


def test_cache_warning_shows_the_real_count(auth, factories):
    actor = _signed_in(auth, factories, "promoter")
    proc = factories.process(actor)
    factories.production(actor, proc)
    candidate = factories.version(actor, proc, {"prompt": "next"})
    for i in range(3):
        cache.put(proc.id, f"field-{i}", {"answer": i}, 60)
    html = auth.get(f"/versions/{candidate.id}/promote", htmx=True).get_data(as_text=True)
    assert "3 cache entries will be invalidated" in html
    confirm = auth.post(f"/versions/{candidate.id}/promote", htmx=True, data={"preview_token": _token(html)})
    assert json.loads(confirm.headers["HX-Trigger"])["toast"]["message"].endswith("3 cache entries invalidated.")

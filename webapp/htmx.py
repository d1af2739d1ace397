"""The HTMX conventions in one place: a page or its fragment from the same template, and toasts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Response, flash, make_response, redirect, render_template, request
from jinja2_fragments.flask import render_block, render_blocks


def is_htmx() -> bool:
    """An htmx request that wants a fragment (a history restore wants the whole page)."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


def render_page(template: str, block: str, status: int = 200, **context: Any) -> Response:
    """The full page, or only its `block` for htmx; never two copies of the markup."""
    body = render_block(template, block, **context) if is_htmx() else render_template(template, **context)
    return make_response(body, status)


def render_with_oob(template: str, block: str, *oob_blocks: str, status: int = 200, **context: Any) -> Response:
    """For htmx: `block`, and `oob_blocks` beside it, swapped out of band (they render with `oob` set, and mark
    themselves `hx-swap-oob`); the full page otherwise."""
    if not is_htmx():
        return make_response(render_template(template, **context), status)
    return make_response(render_blocks(template, [block, *oob_blocks], oob=True, **context), status)


def render(template: str, block: str | None = None, status: int = 200, **context: Any) -> Response:
    """The full page, or only `block` of it for htmx (`actor` comes from the accounts context processor)."""
    if block:
        return render_page(template, block, status, **context)
    return make_response(render_template(template, **context), status)


def redirect_after_post(target: str) -> Response:
    """After a successful form post: htmx follows `HX-Redirect` (a dialog's form swaps into the dialog, so
    a plain redirect would render the next page inside it); a browser without htmx gets a 303."""
    if not is_htmx():
        return make_response(redirect(target, code=303))
    response = make_response("", 204)
    response.headers["HX-Redirect"] = target
    return response


def toast_or_redirect(fragment: Callable[[], Response], message: str, page_url: str, code: int = 302) -> Response:
    """After an action on a list: htmx gets the list's fragment anew with a toast; a browser without htmx a
    flashed message and a redirect back to the page."""
    if is_htmx():
        return toast(fragment(), message)
    flash(message)
    return make_response(redirect(page_url, code=code))


def toast(response: Response, message: str, level: str = "success") -> Response:
    """Raise a toast in the browser (app.js listens for the `toast` event)."""
    response.headers["HX-Trigger"] = json.dumps({"toast": {"level": level, "message": message}})
    return response


def no_store(response: Response) -> Response:
    """For answers that show a secret once: keep them out of every cache and of history."""
    response.headers["Cache-Control"] = "no-store"
    return response

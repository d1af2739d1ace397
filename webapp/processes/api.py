"""Serving API (environment keys) and management API (personal access tokens) for processes."""

from __future__ import annotations

from flask import Response, jsonify, request, url_for

from webapp import inputs
from webapp.accounts.context import api_actor, bearer_token
from webapp.api import bp, json_body, optional_str
from webapp.errors import BadRequest
from webapp.processes import services


@bp.get("/serve/<slug>")
def serve(slug: str) -> Response:
    served = services.resolve_serving(bearer_token(), slug)
    # Weak comparison, as RFC 9110 asks of If-None-Match: a proxy that compresses marks tags W/"…".
    if request.if_none_match.contains_weak(served.etag):
        response = Response(status=304)
    else:
        response = Response(served.body, mimetype="application/json")
    response.set_etag(served.etag)
    response.headers["Cache-Control"] = "no-cache"  # revalidate every time: promotions are immediate
    return response


@bp.post("/serve/<slug>/invoke")
def invoke(slug: str) -> Response:
    return jsonify(services.invoke(bearer_token(), slug, json_body(object_required=False)))


@bp.get("/processes")
def list_processes() -> Response:
    actor = api_actor()
    return jsonify([
        {"slug": p.slug, "name": p.name, "description": p.description,
         "production_version": live.number if live else None}
        for p, live in services.list_processes(actor)
    ])


@bp.post("/processes")
def create_process() -> tuple[Response, int]:
    actor = api_actor()
    actor.require(*services.CREATE_PROCESSES)  # before the body: a viewer gets 403, not a 400 about it
    body = json_body()
    process = services.create_process(actor, optional_str(body, "name"), optional_str(body, "slug") or None,
                                      optional_str(body, "description"))
    return jsonify({"slug": process.slug, "name": process.name, "description": process.description,
                    "id": process.id}), 201


@bp.get("/processes/<slug>/versions")
def list_versions(slug: str) -> Response:
    actor = api_actor()
    process = services.get_process(actor, slug)
    page = services.history(process, _int_arg("page", 1), min(_int_arg("per_page", 100), 500))
    response = jsonify([v.as_json() for v in page.items])
    # The body stays the contract's plain list; where it goes on is in the headers (RFC 8288).
    response.headers["X-Total-Count"] = str(page.total)
    if page.number < page.pages:
        following = url_for(".list_versions", slug=slug, page=page.number + 1, per_page=page.per_page)
        response.headers["Link"] = f'<{following}>; rel="next"'
    return response


@bp.post("/processes/<slug>/versions")
def create_version(slug: str) -> tuple[Response, int]:
    actor = api_actor()
    process = services.get_process(actor, slug)
    actor.require(*services.CREATE_VERSIONS)
    body = json_body()
    if "config" not in body:
        raise BadRequest("'config' is required.")
    version = services.create_draft(actor, process, body.get("config"), body.get("input_schema"),
                                    body.get("output_schema"), optional_str(body, "change_notes"))
    return jsonify(version.as_json()), 201


@bp.post("/versions/<int:version_id>/activate")
def activate(version_id: int) -> Response:
    return jsonify(services.activate(api_actor(), version_id).as_json())


@bp.get("/versions/<int:version_id>/promotion-preview")
def promotion_preview(version_id: int) -> Response:
    return jsonify(services.promotion_preview(api_actor(), version_id).as_json())


@bp.post("/versions/<int:version_id>/promote")
def promote(version_id: int) -> tuple[Response, int]:
    actor = api_actor()
    actor.require(*services.PROMOTE)
    body = json_body()
    result = services.promote(actor, version_id, optional_str(body, "change_notes"),
                              optional_str(body, "preview_token") or None)
    return jsonify(result.as_json()), 201


def _int_arg(name: str, default: int) -> int:
    return inputs.whole_number(request.args.get(name), name, default=default)

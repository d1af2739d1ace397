"""Serving API (environment keys) and management API (personal access tokens) for processes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask import Response, jsonify, request, url_for
from pydantic import BaseModel, Field, JsonValue

from webapp.accounts.context import api_actor, bearer_token
from webapp.apiblueprint import bp, json_body
from webapp.commands import from_json, from_query
from webapp.openapi import Reply, documented
from webapp.processes import documents, promotion, propagation, serving
from webapp.processes.commands import ArchiveProcess, CreateProcess, DraftDocument, PromoteVersion, VersionPage

# -- what the routes answer (the DESIGN.md v1 contract) -----------------------------------------------


class ServedVersion(BaseModel):
    process: str
    environment: Literal["sandbox", "production"]
    version: int
    config: JsonValue
    input_schema: JsonValue
    output_schema: JsonValue


class Invocation(BaseModel):
    process: str
    environment: Literal["sandbox", "production"]
    version: int
    output: JsonValue
    cached: bool


class ProcessOut(BaseModel):
    slug: str
    name: str
    description: str
    production_version: int | None
    archived_at: datetime | None = None  # set while the process is archived (its keys get 410 Gone)


class ArchivedProcess(BaseModel):
    slug: str
    name: str
    archived_at: datetime | None
    archived_by: str | None


class CreatedProcess(BaseModel):
    slug: str
    name: str
    description: str
    id: int


class VersionOut(BaseModel):
    id: int
    version: int
    environment: Literal["sandbox", "production"]
    status: Literal["draft", "active", "deprecated"]
    change_notes: str
    created_at: datetime
    promoted_by: str | None
    copied_from: int | None = Field(description="The number of the version this one is a copy of (a "
                                    "production version copies the version that was promoted), else null.")


class PromotedVersion(VersionOut):
    promoted_from: int | None


class VersionBrief(BaseModel):
    id: int
    version: int
    created_at: datetime
    environment: Literal["sandbox", "production"]
    status: Literal["draft", "active", "deprecated"]
    copied_from: int | None = Field(description="The number of the version this one is a copy of, else null.")


class Change(BaseModel):
    path: str
    type: Literal["added", "removed", "modified"]
    old: JsonValue
    new: JsonValue


class DiffOut(BaseModel):
    changes: list[Change]
    summary: str


class SchemaError(BaseModel):
    path: str
    message: str


class OutputCheckOut(BaseModel):
    """The source's output schema over production's cached answers: `checked` None when Redis did not answer,
    `errors` those of the first rejected answer, `unusable` when the schema cannot be evaluated."""

    checked: int | None
    rejected: int
    errors: list[SchemaError]
    unusable: str | None


class PromotionPreview(BaseModel):
    source: VersionBrief
    current_production: VersionBrief | None
    diff: DiffOut
    identical_to_production: bool = Field(description="Production already serves exactly this (the diff is "
                                          "empty): promoting it is refused with 409 `identical_to_production`.")
    cache_entries: int | None
    preview_token: str
    output_check: OutputCheckOut | None


class KeyPropagation(BaseModel):
    id: int
    name: str
    prefix: str
    version: int | None
    served_at: datetime | None


class EnvironmentPropagationOut(BaseModel):
    environment: Literal["sandbox", "production"]
    active_version: int | None
    keys_total: int
    keys_on_active: int
    keys: list[KeyPropagation]


class PropagationOut(BaseModel):
    process: str
    environments: list[EnvironmentPropagationOut]
    live: bool


class PromotionOut(BaseModel):
    promoted_version: PromotedVersion
    deprecated_version: VersionOut | None
    cache_invalidated: int


_ETAG = {"ETag": "The version's tag: send it back as If-None-Match to get a 304 while it is still served."}
_PROMOTION_REFUSED = "not promotable (`not_promotable`), production changed since the preview " \
                     "(`production_changed`, `details` = the fresh preview), or the approval policy requires " \
                     "approval (`approval_required`, `details` = the policy: request the promotion instead)"

# -- serving (environment keys) -----------------------------------------------------------------------


@bp.get("/serve/<slug>")
@documented("The active version of a process in the key's environment", auth="environment",
            responses={200: Reply("The active version.", schema=ServedVersion, headers=_ETAG),
                       304: Reply("Not modified: the If-None-Match tag is still the active version.", content={},
                                  headers=_ETAG),
                       404: "no process of that slug, or no active version in the key's environment"})
def serve(slug: str) -> Response:
    served = serving.resolve_serving(bearer_token(), slug)
    # Weak comparison, as RFC 9110 asks of If-None-Match: a proxy that compresses marks tags W/"…".
    if request.if_none_match.contains_weak(served.etag):
        response = Response(status=304)
    else:
        response = Response(served.body, mimetype="application/json")
    response.set_etag(served.etag)
    response.headers["Cache-Control"] = "no-cache"  # revalidate every time: promotions are immediate
    return response


@bp.post("/serve/<slug>/invoke")
@documented("Render the active version's config with an input", auth="environment",
            body=JsonValue, body_required=False,
            responses={200: Invocation, 404: "no process of that slug, or no active version in the key's environment",
                       422: "the input does not match the input schema (`input_invalid`, `details.errors` lists each "
                            "`{path, message}`), the config cannot be rendered with it (`render_failed`, "
                            "`schema_unusable`), or what it rendered does not match the output schema "
                            "(`output_invalid`, `details.errors` likewise)"})
def invoke(slug: str) -> Response:
    """The body is the input, any JSON (validated by the version's input schema, not by a command)."""
    return jsonify(serving.invoke(bearer_token(), slug, json_body(object_required=False)))


# -- management (personal access tokens) ----------------------------------------------------------------


@bp.get("/processes")
@documented("The workspace's processes and their production versions", responses={200: list[ProcessOut]})
def list_processes() -> Response:
    actor = api_actor()
    return jsonify([
        {"slug": p.slug, "name": p.name, "description": p.description,
         "production_version": live.number if live else None,
         "archived_at": p.archived_at.isoformat() if p.archived_at else None}
        for p, live in documents.list_processes(actor)
    ])


def _archived(process: Any) -> dict[str, Any]:
    return {"slug": process.slug, "name": process.name,
            "archived_at": process.archived_at.isoformat() if process.archived_at else None,
            "archived_by": process.archived_by.email if process.archived_by else None}


@bp.post("/processes/<slug>/archive")
@documented("Archive a process (admins)", body=ArchiveProcess, body_required=False,
            responses={200: ArchivedProcess, 409: "already archived (`already_archived`)"})
def archive_process(slug: str) -> Response:
    """Its environment keys get 410 Gone (`process_archived`); it cannot be promoted or get or change versions
    (409 `process_archived`) until it is restored. Versions and history are kept."""
    actor = api_actor()
    actor.require(*documents.ARCHIVE)
    command = from_json(ArchiveProcess)  # an empty body is {}: no reason
    return jsonify(_archived(documents.archive_process(actor, slug, command.reason or "")))


@bp.post("/processes/<slug>/restore")
@documented("Restore an archived process (admins)",
            responses={200: ArchivedProcess, 409: "the process is not archived (`not_archived`)"})
def restore_process(slug: str) -> Response:
    """Served, editable and promotable again, as it was before."""
    return jsonify(_archived(documents.restore_process(api_actor(), slug)))


@bp.post("/processes")
@documented("Create a process", body=CreateProcess,
            responses={201: CreatedProcess, 409: "the slug is taken in this workspace",
                       422: "no usable name or slug (`details` names the field)"})
def create_process() -> tuple[Response, int]:
    actor = api_actor()
    actor.require(*documents.CREATE_PROCESSES)  # before the body: a viewer gets 403, not a 400 about it
    command = from_json(CreateProcess)
    process = documents.create_process(actor, command.name or "", command.slug or None, command.description or "")
    return jsonify({"slug": process.slug, "name": process.name, "description": process.description,
                    "id": process.id}), 201


@bp.get("/processes/<slug>/versions")
@documented("A process's versions, newest first", query=VersionPage,
            responses={200: Reply("One page of versions.", schema=list[VersionOut],
                                  headers={"X-Total-Count": "How many versions there are.",
                                           "Link": "The next page (RFC 8288 `rel=\"next\"`), while there is one."})})
def list_versions(slug: str) -> Response:
    actor = api_actor()
    process = documents.get_process(actor, slug)
    query = from_query(VersionPage)
    page = documents.history(process, query.page, min(query.per_page, 500))
    response = jsonify([v.as_json() for v in page.items])
    # The body stays the contract's plain list; where it goes on is in the headers (RFC 8288).
    response.headers["X-Total-Count"] = str(page.total)
    if page.number < page.pages:
        following = url_for(".list_versions", slug=slug, page=page.number + 1, per_page=page.per_page)
        response.headers["Link"] = f'<{following}>; rel="next"'
    return response


@bp.get("/processes/<slug>/propagation")
@documented("Which version each environment key was last served", responses={200: PropagationOut})
def process_propagation(slug: str) -> Response:
    """Per environment: the active version and, per unrevoked key, the version it last fetched and when (to the
    minute; `live` false when the newest records could not be read)."""
    process = documents.get_process(api_actor(), slug)
    return jsonify({"process": process.slug, **propagation.report(process).as_json()})


@bp.post("/processes/<slug>/versions")
@documented("Create a sandbox draft", body=DraftDocument,
            responses={201: VersionOut, 409: "another version was created at the same moment; try again",
                       422: "a document is invalid (`details` names each field)"})
def create_version(slug: str) -> tuple[Response, int]:
    actor = api_actor()
    process = documents.get_process(actor, slug)
    actor.require(*documents.CREATE_VERSIONS)
    draft = from_json(DraftDocument)
    version = documents.create_draft(actor, process, draft.config, draft.input_schema, draft.output_schema,
                                     draft.change_notes or "")
    return jsonify(version.as_json()), 201


@bp.post("/versions/<int:version_id>/activate")
@documented("Activate a sandbox draft", responses={200: VersionOut, 409: "the version is not a draft"})
def activate(version_id: int) -> Response:
    """draft → sandbox active: frozen from now on, served to sandbox keys, promotable."""
    return jsonify(documents.activate(api_actor(), version_id).as_json())


@bp.get("/versions/<int:version_id>/promotion-preview")
@documented("What promoting a version would change", responses={200: PromotionPreview,
                                                               409: "not promotable (`not_promotable`)"})
def promotion_preview(version_id: int) -> Response:
    """The diff against current production and the `preview_token` that the promote sends back."""
    return jsonify(promotion.promotion_preview(api_actor(), version_id).as_json())


@bp.post("/versions/<int:version_id>/promote")
@documented("Promote a version to production (or roll back to it)", body=PromoteVersion,
            responses={201: PromotionOut, 409: _PROMOTION_REFUSED,
                       403: "the role is below promoter, or an `override_reason` from someone not an admin",
                       422: "an `override_reason` that is empty",
                       503: "the database failed; the message says whether anything was saved"})
def promote(version_id: int) -> tuple[Response, int]:
    actor = api_actor()
    actor.require(*promotion.PROMOTE)
    command = from_json(PromoteVersion)
    result = promotion.promote(actor, version_id, command.change_notes or "", command.preview_token or None,
                               override_reason=command.override_reason)
    return jsonify(result.as_json()), 201

"""The public JSON API, `/api/v1`: imports every domain's api.py once, so their routes are on the blueprint
(webapp/apiblueprint.py, core: the domains never import this entry module) before create_app registers it,
and serves the OpenAPI document of them all at GET /api/v1/openapi.json."""

from __future__ import annotations

from flask import Response, current_app, jsonify

from webapp.accounts import api as _accounts_api  # noqa: F401  (routes register on bp)
from webapp.apiblueprint import bp
from webapp.audit import api as _audit_api  # noqa: F401
from webapp.gamenight import api as _gamenight_api  # noqa: F401
from webapp.gamenight import schedule_api as _gamenight_schedule_api  # noqa: F401
from webapp.governance import api as _governance_api  # noqa: F401
from webapp.governance import schedule_api as _governance_schedule_api  # noqa: F401
from webapp.openapi import Reply, build, documented
from webapp.processes import api as _processes_api  # noqa: F401
from webapp.webhooks import api as _webhooks_api  # noqa: F401
from webapp.worlds import api as _worlds_api  # noqa: F401
from webapp.worlds import live_api as _worlds_live_api  # noqa: F401


@bp.get("/openapi.json")
@documented("This API as an OpenAPI 3.1 document", auth=None,
            responses={200: Reply("The OpenAPI 3.1 document, generated from the routes and their typed commands.",
                                  schema={"type": "object", "required": ["openapi", "info", "paths"]})})
def openapi_document() -> Response:
    """No token needed: a client generator or schemathesis reads it as it is."""
    document = current_app.extensions.get("openapi_document")
    if document is None:  # the routes are fixed once the app is built: describe them once
        document = current_app.extensions["openapi_document"] = build(current_app)
    return jsonify(document)

"""The typed commands of processes: what a form or a JSON body carries, parsed once (webapp/commands.py) before
a service sees it. One model serves the dashboard's form and the JSON API; the services still check the rules
(a name's length, a config's templates, a JSON Schema), so a command only fixes the shape.

A draft's documents are any JSON here: a config that is not an object, or a schema that is not one, is the
service's 422 naming the field, as it always was. The dashboard's form sends them as JSON text, which
`validation.parse_json_text` reads before the command is built.
"""

from __future__ import annotations

from pydantic import Field, JsonValue

from webapp.commands import Command, Id, Line, Text, whole
from webapp.inputs import MAX_ID


class CreateProcess(Command):
    """A new process; the slug is made from the name unless given."""

    name: Line | None = Field(None, description="1 to 120 characters.", examples=["Support triage"])
    slug: Line | None = Field(None, description="Letters, digits and dashes; made from the name when left out.")
    description: Text | None = None


class ArchiveProcess(Command):
    """Archive a process (admins): why, for the audit log and the process page."""

    reason: Text | None = Field(None, description="Shown on the process page and kept in the audit log.",
                                examples=["Replaced by support-triage-v2"])


class DraftDocument(Command):
    """A sandbox draft's documents: created (`POST …/versions`) or edited in place (the dashboard)."""

    config: JsonValue = Field(description="A JSON object; its strings may be Jinja templates of the input.",
                              examples=[{"prompt": "Hello {{ name }}"}])
    input_schema: JsonValue = Field(None, description="A JSON Schema (2020-12) the input of invoke must match.")
    output_schema: JsonValue = Field(None, description="A JSON Schema (2020-12) describing the output.")
    change_notes: Text | None = None


class DraftForm(DraftDocument):
    """The dashboard's draft form: the documents, and the version it was prefilled from (only recorded)."""

    based_on: Id | None = None


class PromoteVersion(Command):
    """The confirm of a promotion (or roll back): what the dialog showed comes back as `preview_token`."""

    change_notes: Text | None = Field(None, description="Defaults to the source's notes (or 'Rollback to vN').")
    preview_token: Line | None = Field(None, description="From the promotion preview: production must still be "
                                                         "what it showed, or the answer is 409 production_changed.")
    override_reason: Line | None = Field(None, description="Admins only, where the approval policy requires "
                                                           "approval: apply without it, saying why (audited).")


class CompareVersions(Command):
    """Two versions of one process, compared old → new."""

    old: Id
    new: Id


class VersionPage(Command):
    """A page of a process's versions, newest first (`per_page` at most 500 is used)."""

    page: whole(1, MAX_ID) = 1
    per_page: whole(1, MAX_ID) = 100

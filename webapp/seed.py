"""Demo data for `flask seed-demo`: a workspace a newcomer can promote in within a minute."""

from __future__ import annotations

from sqlalchemy import select

from webapp.accounts import services as accounts
from webapp.accounts.models import User
from webapp.extensions import db
from webapp.processes import services as processes

SUPPORT_PROMPT = """You are the support triage assistant for {{ product }}.
Read the customer's message and decide:
1. the category (billing, bug, how-to, other)
2. the urgency (low, normal, high)
Answer in JSON that matches the output schema.
Be brief and kind."""


def seed_demo(email: str, password: str, workspace: str) -> bool:
    """Create the demo once; returns False when it already exists."""
    if db.session.scalar(select(User.id).where(User.email == email)):
        return False
    user, membership = accounts.create_user(email, password, workspace, "admin")
    ws_id = membership.workspace_id
    for who, role in (("editor", "editor"), ("promoter", "promoter"), ("viewer", "viewer")):
        accounts.create_user(f"{who}@example.com", password, workspace, role)
    actor = accounts.actor_for_user(user, ws_id)

    triage = processes.create_process(actor, "Support triage", "support-triage",
                                      "Classifies incoming support messages.")
    input_schema = {"type": "object", "required": ["message"],
                    "properties": {"message": {"type": "string", "minLength": 1},
                                   "product": {"type": "string"}}}
    output_schema = {"type": "object", "required": ["category", "urgency"],
                     "properties": {"category": {"enum": ["billing", "bug", "how-to", "other"]},
                                    "urgency": {"enum": ["low", "normal", "high"]}}}
    v1 = processes.create_draft(actor, triage, {
        "model": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 300,
        "system_prompt": SUPPORT_PROMPT, "user_prompt": "{{ message }}",
    }, input_schema, output_schema, "First version")
    processes.activate(actor, v1.id)
    processes.promote(actor, v1.id, "Launch")
    v3 = processes.create_draft(actor, triage, {
        "model": "gpt-4o-mini", "temperature": 0.1, "max_tokens": 400,
        "system_prompt": SUPPORT_PROMPT.replace("Be brief and kind.",
                                                "Be brief and kind.\nNever promise refunds."),
        "user_prompt": "{{ message }}", "stop": ["\n\n"],
    }, input_schema, output_schema, "Lower temperature; no refund promises")
    processes.activate(actor, v3.id)
    processes.create_draft(actor, triage, {**v3.config, "temperature": 0.0}, input_schema, output_schema,
                           "Try temperature 0")

    summary = processes.create_process(actor, "Release notes summariser", "release-notes",
                                       "Turns a changelog into a short announcement.")
    draft = processes.create_draft(actor, summary, {
        "model": "gpt-4o", "temperature": 0.7,
        "prompt": "Summarise these changes for {{ audience | default('users') }}:\n{{ changelog }}",
    }, {"type": "object", "required": ["changelog"], "properties": {"changelog": {"type": "string"}}},
        None, "First cut: one paragraph per audience")
    processes.activate(actor, draft.id)
    return True

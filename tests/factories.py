"""Build users, processes and versions through the real services (so rules stay enforced)."""

from __future__ import annotations

import itertools
from typing import Any

from webapp.accounts import services as accounts
from webapp.accounts.services import Actor
from webapp.processes import services as processes
from webapp.processes.models import Process, ProcessVersion

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


def user(role: str = "admin", workspace: str = "Acme", email: str | None = None) -> Actor:
    """A user with `role` in `workspace` (created if needed); returns the user's actor there."""
    email = email or f"{role}{next(_seq)}@example.com"
    u, m = accounts.create_user(email, PASSWORD, workspace, role)
    return accounts.actor_for_user(u, m.workspace_id)


def process(actor: Actor, name: str | None = None) -> Process:
    return processes.create_process(actor, name or f"Process {next(_seq)}")


def version(actor: Actor, proc: Process, config: dict[str, Any] | None = None, *, activate: bool = True,
            input_schema: dict[str, Any] | None = None, notes: str = "") -> ProcessVersion:
    v = processes.create_draft(actor, proc, config if config is not None else {"prompt": "Hello {{ name }}"},
                               input_schema, None, notes)
    if activate:
        processes.activate(actor, v.id)
    return v


def production(actor: Actor, proc: Process, config: dict[str, Any] | None = None) -> ProcessVersion:
    """A sandbox version promoted to production; returns the production copy."""
    v = version(actor, proc, config)
    return processes.promote(actor, v.id).promoted


def environment_key(actor: Actor, environment: str = "production") -> str:
    return accounts.create_environment_key(actor, environment)[1]


def personal_token(actor: Actor) -> str:
    return accounts.create_personal_token(actor)[1]

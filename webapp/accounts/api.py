"""Environment keys and personal access tokens over JSON, so a workspace can be set up from CI: create (the
token in that answer only, never again), list, revoke. Keys are for admins, like the Keys page; personal tokens
follow the Tokens page (one's own; admins see and revoke everyone's)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask import Response, jsonify
from pydantic import BaseModel, Field

from webapp.accounts import services
from webapp.accounts.context import api_actor
from webapp.accounts.models import ApiToken, Role, TokenKind
from webapp.apiblueprint import bp
from webapp.commands import Command, Line, from_json
from webapp.openapi import documented


class CreateKey(Command):
    environment: Literal["sandbox", "production"]
    name: Line = ""


class CreateToken(Command):
    name: Line = ""


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="The token's first characters, to recognise it; never the token.")
    environment: Literal["sandbox", "production"] | None
    user: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenWithSecret(TokenOut):
    token: str = Field(description="The token itself: in this answer only, never again.")


def _out(token: ApiToken) -> dict[str, Any]:
    return {"id": token.id, "name": token.name, "prefix": token.prefix,
            "environment": token.environment.value if token.environment else None,
            "user": token.user.email if token.user else None, "created_at": token.created_at.isoformat(),
            "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
            "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None}


def _shown_once(token: ApiToken, plaintext: str) -> tuple[Response, int]:
    response = jsonify({**_out(token), "token": plaintext})
    response.headers["Cache-Control"] = "no-store"
    return response, 201


@bp.get("/keys")
@documented("The workspace's environment keys (admins)", responses={200: list[TokenOut]})
def list_keys() -> Response:
    return jsonify([_out(t) for t in services.list_tokens(api_actor(), TokenKind.environment)])


@bp.post("/keys")
@documented("Create an environment key (admins); the key is in this answer only", body=CreateKey,
            responses={201: TokenWithSecret, 422: "a name longer than 120 characters"})
def create_key() -> tuple[Response, int]:
    actor = api_actor()
    actor.require(Role.admin, "create environment keys")
    command = from_json(CreateKey)
    return _shown_once(*services.create_environment_key(actor, command.environment, command.name))


@bp.post("/keys/<int:token_id>/revoke")
@documented("Revoke an environment key (admins); idempotent", responses={200: TokenOut})
def revoke_key(token_id: int) -> Response:
    actor = api_actor()
    actor.require(Role.admin, "revoke environment keys")
    return jsonify(_out(services.revoke_token(actor, token_id, TokenKind.environment)))


@bp.get("/tokens")
@documented("Personal access tokens: one's own (admins: everyone's in the workspace)",
            responses={200: list[TokenOut]})
def list_personal_tokens() -> Response:
    return jsonify([_out(t) for t in services.list_tokens(api_actor(), TokenKind.personal)])


@bp.post("/tokens")
@documented("Create a personal access token for the token's user; it is in this answer only", body=CreateToken,
            responses={201: TokenWithSecret, 422: "a name longer than 120 characters"})
def create_personal_token() -> tuple[Response, int]:
    actor = api_actor()
    command = from_json(CreateToken)
    return _shown_once(*services.create_personal_token(actor, command.name))


@bp.post("/tokens/<int:token_id>/revoke")
@documented("Revoke a personal access token (one's own; admins: anyone's); idempotent", responses={200: TokenOut})
def revoke_personal_token(token_id: int) -> Response:
    return jsonify(_out(services.revoke_token(api_actor(), token_id, TokenKind.personal)))

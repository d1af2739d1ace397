"""A fake Discord OAuth2 provider on pytest-httpserver: authorize, token (client credentials, code,
redirect URI and a real PKCE check), `@me` and revoke, with switches for the failures Discord can have."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Flask
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"
NELLY = {"id": "80351110224678912", "username": "nellyb", "global_name": "Nelly Bly", "discriminator": "0"}


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


class FakeDiscord:
    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.base = server.url_for("/").rstrip("/")
        self.user: dict[str, Any] = dict(NELLY)
        self.codes: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.issued: list[str] = []  # every access and refresh token handed out
        self.token_calls: list[dict[str, str]] = []
        self.revoked: list[str] = []
        self.token_failure: tuple[int, Any] | None = None  # (status, body) the token endpoint answers instead
        self.token_delay = 0.0
        self.last_authorize: dict[str, str] = {}
        server.expect_request("/oauth2/authorize", method="GET").respond_with_handler(self._authorize_page)
        server.expect_request("/api/oauth2/token", method="POST").respond_with_handler(self._token)
        server.expect_request("/api/users/@me", method="GET").respond_with_handler(self._me)
        server.expect_request("/api/oauth2/token/revoke", method="POST").respond_with_handler(self._revoke)

    def settings_for(self, app: Flask, redirect_uris: str) -> Any:
        return replace(app.config["SETTINGS"], DISCORD_CLIENT_ID=CLIENT_ID, DISCORD_CLIENT_SECRET=CLIENT_SECRET,
                       DISCORD_REDIRECT_URIS=redirect_uris, DISCORD_BASE_URL=self.base)

    # -- what the member's browser meets at Discord ----------------------------------------------

    def approve(self, authorize_url: str, user: dict[str, Any] | None = None) -> str:
        """The member presses Authorize: the callback URL carrying a fresh code and the state."""
        assert authorize_url.startswith(self.base + "/oauth2/authorize?"), authorize_url
        query = dict(parse_qsl(urlsplit(authorize_url).query))
        self.last_authorize = query
        assert query["client_id"] == CLIENT_ID and query["response_type"] == "code" and query["scope"] == "identify"
        assert query["code_challenge_method"] == "S256" and query["code_challenge"] and query["state"]
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"challenge": query["code_challenge"], "redirect_uri": query["redirect_uri"],
                            "user": dict(user or self.user)}
        return f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"

    def _authorize_page(self, request: Request) -> Response:
        callback = self.approve(request.url)
        html = ("<!doctype html><title>Discord (fake)</title><link rel=icon href=data:,>"
                f"<h1>Authorize Promotion Desk?</h1><p>Signed in as {self.user['username']}</p>"
                f"<a href=\"{callback}\">Authorize</a>")
        return Response(html, content_type="text/html")

    # -- the API the server talks to ------------------------------------------------------------

    def _client_ok(self, request: Request) -> bool:
        auth = request.authorization
        return auth is not None and (auth.username, auth.password) == (CLIENT_ID, CLIENT_SECRET)

    def _token(self, request: Request) -> Response:
        form = dict(request.form)
        self.token_calls.append(form)
        if self.token_delay:
            time.sleep(self.token_delay)
        if self.token_failure:
            status, body = self.token_failure
            return _json(body, status) if isinstance(body, dict) else Response(body, status=status)
        if not self._client_ok(request):
            return _json({"error": "invalid_client"}, 401)
        grant = self.codes.pop(form.get("code", ""), None)
        if form.get("grant_type") != "authorization_code" or grant is None:
            return _json({"error": "invalid_grant", "error_description": "unknown or used code"}, 400)
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return _json({"error": "invalid_grant", "error_description": "redirect_uri mismatch"}, 400)
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
            return _json({"error": "invalid_grant", "error_description": "PKCE verification failed"}, 400)
        access, refresh = "acc_" + secrets.token_urlsafe(24), "ref_" + secrets.token_urlsafe(24)
        self.tokens[access] = grant["user"]
        self.issued += [access, refresh]
        return _json({"access_token": access, "token_type": "Bearer", "expires_in": 604800,
                      "refresh_token": refresh, "scope": "identify"})

    def _me(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        user = self.tokens.get(token) if scheme == "Bearer" and token not in self.revoked else None
        return _json(user, 200) if user else _json({"message": "401: Unauthorized", "code": 0}, 401)

    def _revoke(self, request: Request) -> Response:
        if not self._client_ok(request):
            return _json({"error": "invalid_client"}, 401)
        self.revoked.append(request.form.get("token", ""))
        return _json({})

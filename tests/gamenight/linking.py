"""Linking a member the way a person does it: a player saved on the profile page, a link code read off the page,
and the workspace's bot confirming it (`chat_bot` in conftest.py is that bot)."""

from __future__ import annotations

from typing import Any


class ChatBot:
    """The workspace's bot over the bot API: `chat_bot.post(url, body)` with its bot token."""

    def __init__(self, client: Any, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def post(self, url: str, body: dict) -> Any:
        return self.client.post(url, headers=self.headers, json=body)


def link(auth: Any, bot: ChatBot, email: str, external_id: str, *, name: str = "Jana", channel: str = "discord",
         target: str | None = "json://relay.example/hook/4821") -> Any:
    """Sign in as `email`, save a player, get a code from the page, let the bot confirm it."""
    auth.login(email)
    auth.post("/profile/player", data={"display_name": name, "aliases": "jana#1"})
    page = auth.post("/profile/link-code").get_data(as_text=True)
    code = page.split("Send <strong><code>", 1)[1].split("</code>", 1)[0]
    body = {"code": code, "channel": channel, "external_id": external_id}
    if target:
        body["target"] = target
    return bot.post("/api/v1/link/confirm", body)

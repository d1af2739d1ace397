"""Who signs in to the demo workspace, with what, and where its messages go: `flask seed-demo` (webapp/seed.py)
creates these; `make run` prints them (webapp/devserver.py) and the development sign-in page lists them. Nothing
here imports the app, so the supervisor can read it without paying for one."""

from __future__ import annotations

DEMO_EMAIL = "demo@example.com"  # the workspace's admin and the installation's operator
DEMO_PASSWORD = "promote-me"  # every demo account's
DEMO_WORKSPACE = "Demo"
STAFF = (("editor", "editor"), ("promoter", "promoter"), ("viewer", "viewer"))  # e-mail name, role
DEMO_INBOX_PORT = 8025
DEMO_INBOX = f"json://127.0.0.1:{DEMO_INBOX_PORT}"  # `make run` catches what arrives there (webapp/devserver.py)
PLAYERS = [  # name, today's status, tomorrow's, opted in
    ("Ana", "available", "available", True), ("Bor", "looking", "maybe", True), ("Cene", "maybe", None, True),
    ("Dana", "available", "looking", False), ("Eva", "not_available", "available", True),
]


def demo_logins() -> list[tuple[str, str]]:
    """(role as shown, e-mail) of every demo account, admin first; all share DEMO_PASSWORD."""
    return [("admin", DEMO_EMAIL), *((role, f"{who}@example.com") for who, role in STAFF),
            *((f"player ({name})", f"{name.lower()}@example.com") for name, *_ in PLAYERS)]

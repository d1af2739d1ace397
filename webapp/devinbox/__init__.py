"""The demo inbox of a development desk (`make run`): what the supervisor's sink caught, shown at /dev/inbox, and
the demo logins on the sign-in page. Registered only when `Settings.DEVELOPMENT` is on; elsewhere /dev/inbox is a
404, the template global `dev_inbox_url` is None and `demo_logins()` is empty.

Light on purpose: the supervisor imports `store` (and `INBOX_PATH`) from here without the app's views."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from webapp.config import Settings

if TYPE_CHECKING:
    from flask import Flask

INBOX_PATH = Path(Settings.DEV_INBOX_PATH)  # the default; DEV_INBOX_PATH overrides it


def init_devinbox(app: Flask) -> None:
    """The page and the two template globals: `dev_inbox_url` (for the nav) and `demo_logins()` (sign-in)."""
    app.jinja_env.globals.update(dev_inbox_url=None, demo_logins=list)
    if not app.config["SETTINGS"].DEVELOPMENT:
        return
    from flask import url_for

    from webapp.devinbox import services
    from webapp.devinbox.views import bp

    app.register_blueprint(bp)
    app.jinja_env.globals["demo_logins"] = services.demo_logins
    app.context_processor(lambda: {"dev_inbox_url": url_for("devinbox.inbox")})

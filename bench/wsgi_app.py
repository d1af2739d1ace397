"""The app gunicorn and the bench worker run: `create_app` with bench settings plus `/bench/bare`.

Settings come from BENCH_WSGI_DATABASE_URL and BENCH_WSGI_REDIS_URL (set by the benchmark that
starts the process). `/bench/bare` returns constant JSON from the same app, so it pays the same
middleware and after_request hooks as a real route: the floor a route is compared with.
"""

from __future__ import annotations

import os

from bench._common import add_bare_route, make_settings
from webapp import create_app

app = create_app(make_settings(os.environ["BENCH_WSGI_DATABASE_URL"], os.environ["BENCH_WSGI_REDIS_URL"]))
add_bare_route(app)

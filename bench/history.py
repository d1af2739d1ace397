"""history: the full history page of a process with 10,000 versions.

Versions 1..10,000 are bulk-inserted with SQLAlchemy core (mostly deprecated production and sandbox
versions, exactly one active production version). Through the test client, signed in as a viewer:

history_page_ms     median of 20 GET /processes/<slug> (full page, first page of the history)
health_ms           baseline in the same run: median of 20 GET /health (DB + Redis ping)
history_vs_trivial  history_page_ms / health_ms
history_last_page_ms context: the last page (?page=500), i.e. the deepest OFFSET
"""

from __future__ import annotations

from bench._common import Results, https_client, login, median, new_app, section, seed_users, time_ms

VERSIONS = 10_000
RUNS = 20


def run(results: Results) -> None:
    with section("history"):
        from bench._history import bulk_versions
        from webapp.extensions import db
        from webapp.processes import documents

        app, _, _ = new_app("history")
        with app.app_context():
            actors = seed_users(roles=("viewer",))
            proc = documents.create_process(actors["admin"], "Long history")
            slug = proc.slug
            bulk_versions(proc.id, actors["admin"].user_id, VERSIONS)
            db.session.remove()
        client = https_client(app)
        login(client, "viewer@bench.example")
        url = f"/processes/{slug}"
        first = client.get(url)
        if first.status_code == 404 and slug.encode() not in first.data:
            results.skipped("history_page_ms", "skipped: route not built yet")
            return
        assert first.status_code == 200, (first.status_code, first.get_data(as_text=True)[:300])
        for _ in range(3):
            client.get(url)
            client.get("/health")
        page = median(time_ms(lambda: client.get(url), RUNS))
        health = median(time_ms(lambda: client.get("/health"), RUNS))
        last_pages = (VERSIONS + 19) // 20
        last = median(time_ms(lambda: client.get(f"{url}?page={last_pages}"), RUNS // 2))
        results.check("history_page_ms", page, "<", 50, fmt="{:.1f}")
        results.info("health_ms", health, "baseline: GET /health, same run", fmt="{:.1f}")
        results.info("history_vs_trivial", page / health if health else 0.0, "context: ratio")
        results.info("history_last_page_ms", last, f"context: ?page={last_pages}", fmt="{:.1f}")


if __name__ == "__main__":
    run(Results())

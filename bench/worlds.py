"""worlds: promoting a 1,000-room area into the live world, and the map of a 2,000-room world.

Two areas of 1,000 rooms and 2,000 exits each (a 25 × 40 grid: east/west along the rows, north/south
down the first column, one shaft up/down) are designed, approved and built through the
services (untimed). Then, through the test client with a promoter's personal access token:

promote_area_ms      POST /api/v1/builds/<id>/promote of each area (tags, 1,000 rooms moved, the
                     exit pair, audit, outbox in one transaction), the median of the two
build_sandbox_ms     baseline in the same run: `build_sandbox` of the same areas (digging the rooms)
promote_vs_build     promote_area_ms / build_sandbox_ms
map_2000_ms          median of 10 GET /world/map with every one of the 2,002 live rooms in view ("Whole map")
                     (signed in as a viewer; layout of the whole world, SVG of 2,001 boxes)
map_window_ms        context: the default view (the last promoted area, windowed)
health_ms            baseline: GET /health
"""

from __future__ import annotations

import time

from bench._common import Results, https_client, login, median, new_app, section, seed_users, time_ms

COLUMNS, ROWS = 25, 40  # 1,000 rooms
AREAS = 2
MAP_RUNS = 10


def area_document() -> dict:
    rooms = [{"key": f"r{r}_{c}", "name": f"Room {r}-{c}", "description": f"Row {r}, column {c}.",
              "attributes": {"level": r, "loot": [c, r], "lit": (r + c) % 2 == 0}}
             for r in range(ROWS) for c in range(COLUMNS)]
    exits = []

    def pair(a: str, b: str, there: str, back: str) -> None:
        exits.extend([{"source": a, "destination": b, "direction": there},
                      {"source": b, "destination": a, "direction": back}])

    for r in range(ROWS):
        for c in range(COLUMNS - 1):
            pair(f"r{r}_{c}", f"r{r}_{c + 1}", "east", "west")  # 40 × 24 pairs
    for r in range(ROWS - 1):
        pair(f"r{r}_0", f"r{r + 1}_0", "south", "north")  # 39 pairs: one connected area
    pair(f"r0_{COLUMNS // 2}", f"r{ROWS - 1}_{COLUMNS // 2}", "down", "up")  # a shaft: 2,000 exits in all
    assert len(rooms) == 1000 and len(exits) == 2000
    return {"rooms": rooms, "exits": exits}


def run(results: Results) -> None:
    with section("worlds"):
        app, _, _ = new_app("worlds")
        from webapp.accounts import services as accounts
        from webapp.extensions import db
        from webapp.worlds import design, lifecycle, live, sandbox

        document = area_document()
        builds, projects = [], []
        with app.app_context():
            actors = seed_users(roles=("promoter", "viewer"))
            admin = actors["admin"]
            limbo = live.add_live_room(admin, design.room_fields("limbo", "Limbo", "The start."))
            anchors = [limbo.id]
            for i in range(AREAS - 1):
                room = live.add_live_room(admin, design.room_fields(f"hub{i}", f"Hub {i}"))
                live.link_rooms(admin, anchors[-1], room.id, "east")
                anchors.append(room.id)
            for i in range(AREAS):
                project = design.create_project(admin, f"Area {i}", "", document)
                lifecycle.transition(admin, project.id, "submit")
                lifecycle.transition(admin, project.id, "approve")
                t0 = time.perf_counter()
                sandbox.build_sandbox(admin, project.id)
                builds.append((time.perf_counter() - t0) * 1000)
                projects.append(project.id)
            token = accounts.create_personal_token(actors["promoter"])[1]
            db.session.remove()

        client = https_client(app)
        headers = {"Authorization": f"Bearer {token}"}
        promotes = []
        for project_id, anchor in zip(projects, anchors, strict=True):
            t0 = time.perf_counter()
            answer = client.post(f"/api/v1/builds/{project_id}/promote", headers=headers,
                                 json={"connection_room_id": anchor, "connection_direction": "south"})
            promotes.append((time.perf_counter() - t0) * 1000)
            assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
            assert answer.get_json()["promoted_rooms"] == COLUMNS * ROWS
        promote, build = median(promotes), median(builds)
        results.info("area_rooms_exits", f"{COLUMNS * ROWS} rooms, {len(document['exits'])} exits",
                     "context: each promoted area")
        results.check("promote_area_ms", promote, "<", 2000, fmt="{:.0f}")
        results.info("build_sandbox_ms", build, "baseline: build_sandbox of the same area, same run", fmt="{:.0f}")
        results.info("promote_vs_build", promote / build if build else 0.0, "context: ratio")

        viewer = https_client(app)
        login(viewer, "viewer@bench.example")
        import html
        import re

        default = viewer.get("/world/map").get_data(as_text=True)
        everything = html.unescape(re.search(r'href="([^"]+)"[^>]*>Whole map<', default).group(1))
        first = viewer.get(everything)
        assert first.status_code == 200, first.status_code
        shown = first.get_data(as_text=True).count('class="map-room')
        for _ in range(2):
            viewer.get(everything)
            viewer.get("/health")
        full = median(time_ms(lambda: viewer.get(everything), MAP_RUNS))
        window = median(time_ms(lambda: viewer.get("/world/map"), MAP_RUNS))
        health = median(time_ms(lambda: viewer.get("/health"), MAP_RUNS))
        results.check("map_2000_ms", full, "<", 500, fmt="{:.0f}")
        results.info("map_rooms_drawn", shown, f"context: boxes in that page of {AREAS * COLUMNS * ROWS + AREAS} rooms",
                     fmt="{:.0f}")
        results.info("map_window_ms", window, "context: default view, the last promoted area", fmt="{:.0f}")
        results.info("health_ms", health, "baseline: GET /health, same run", fmt="{:.1f}")


if __name__ == "__main__":
    run(Results())

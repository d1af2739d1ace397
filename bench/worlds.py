"""worlds: promoting a 1,000-room area into the live world, and the map of a 2,000-room world.

Two areas of 1,000 rooms and 2,000 exits each (a 25 × 40 grid: east/west along the rows, north/south
down the first column, one shaft up/down) are designed, approved and built through the
services (untimed). Then, through the test client with a promoter's personal access token:

promote_area_ms      POST /api/v1/builds/<id>/promote of each area (tags, 1,000 rooms moved, the
                     exit pair, audit, outbox in one transaction), the median of the two
build_sandbox_ms     `build_sandbox` of the same areas (digging the rooms: bulk statements), target < 300 ms; promote's
                     baseline in the same run
promote_vs_build     promote_area_ms / build_sandbox_ms
map_2000_ms          median of 10 GET /world/map with every one of the 2,002 live rooms in view ("Whole map")
                     (signed in as a viewer; SVG of 2,002 boxes), the world unchanged since the last look (its
                     layout and exit lines cached per process, keyed by the rooms, exits and areas)
map_2000_cold_ms     the same with the cache cleared before each: laid out and routed again (target < 300 ms too)
map_10000_ms         context: the whole map of ten such areas (10,010 rooms), warm and cold; no target
map_window_ms        context: the default view (the last promoted area, windowed)
health_ms            baseline: GET /health
export_area_ev_ms    median of 5 GET /api/v1/world/export?format=ev&area=<id> of a live 1,000-room area (target < 1 s)
export_area_json_ms  baseline: the same area as JSON
evennia_load_s       real Evennia (when .venv-evennia exists) loading that file with batchcommands, reported
unpromote_area_ms    POST /api/v1/builds/<id>/unpromote of each area with its preview token (the connection pair
                     removed, 1,000 rooms back into a new sandbox and tagged `sandbox`), the median of the two
unpromotion_preview_ms  context: the preview the dialog shows first
unpromote_vs_promote unpromote_area_ms / promote_area_ms
"""

from __future__ import annotations

import time
from typing import Any

from bench._common import Results, https_client, login, median, new_app, section, seed_users, time_ms

COLUMNS, ROWS = 25, 40  # 1,000 rooms
AREAS = 2
MAP_RUNS = 10
BIG_AREAS = 10  # map_10000: ten areas of 1,000 rooms
EXPORT_RUNS = 5


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
        results.check("build_sandbox_ms", build, "<", 300, fmt="{:.0f}")  # issue 20; also promote's baseline
        results.info("promote_vs_build", promote / build if build else 0.0, "context: ratio")

        # The export of a live 1,000-room area (with its connection) as an Evennia batch file, and as JSON.
        area = {"format": "ev", "area": projects[0]}
        exported = client.get("/api/v1/world/export", headers=headers, query_string=area)
        assert exported.status_code == 200, exported.get_data(as_text=True)[:300]
        batch = exported.get_data(as_text=True)
        export_ev = median(time_ms(lambda: client.get("/api/v1/world/export", headers=headers, query_string=area),
                                   EXPORT_RUNS))
        export_json = median(time_ms(lambda: client.get("/api/v1/world/export", headers=headers,
                                                        query_string={**area, "format": "json"}), EXPORT_RUNS))
        results.check("export_area_ev_ms", export_ev, "<", 1000, fmt="{:.0f}")
        results.info("export_area_json_ms", export_json, "baseline: the JSON export of the same area", fmt="{:.0f}")
        results.info("export_area_ev_kb", len(batch.encode()) / 1024, "context: size of that file", fmt="{:.0f}")
        evennia_load(results, batch)

        viewer = https_client(app)
        login(viewer, "viewer@bench.example")
        for _ in range(2):
            viewer.get("/world/map")
            viewer.get("/health")
        full, cold, shown = whole_map_times(viewer, MAP_RUNS)
        window = median(time_ms(lambda: viewer.get("/world/map"), MAP_RUNS))
        health = median(time_ms(lambda: viewer.get("/health"), MAP_RUNS))
        results.check("map_2000_ms", full, "<", 300, fmt="{:.0f}")
        results.check("map_2000_cold_ms", cold, "<", 300, fmt="{:.0f}")
        results.info("map_rooms_drawn", shown, f"context: boxes in that page of {AREAS * COLUMNS * ROWS + AREAS} rooms",
                     fmt="{:.0f}")
        results.info("map_window_ms", window, "context: default view, the last promoted area", fmt="{:.0f}")
        results.info("health_ms", health, "baseline: GET /health, same run", fmt="{:.1f}")

        # Return to sandbox of each area through the API, as its dialog does it: the preview, then the confirm
        # with its token (the connection pair removed, 1,000 rooms moved and tagged `sandbox` in bulk statements).
        previews, returns = [], []
        for project_id in projects:
            t0 = time.perf_counter()
            preview = client.get(f"/api/v1/builds/{project_id}/unpromotion-preview", headers=headers)
            previews.append((time.perf_counter() - t0) * 1000)
            assert preview.status_code == 200 and preview.get_json()["room_count"] == COLUMNS * ROWS
            t0 = time.perf_counter()
            answer = client.post(f"/api/v1/builds/{project_id}/unpromote", headers=headers,
                                 json={"preview_token": preview.get_json()["preview_token"]})
            returns.append((time.perf_counter() - t0) * 1000)
            assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
            assert answer.get_json()["returned_rooms"] == COLUMNS * ROWS
        unpromote = median(returns)
        results.check("unpromote_area_ms", unpromote, "<", 500, fmt="{:.0f}")
        results.info("unpromotion_preview_ms", median(previews), "context: GET …/unpromotion-preview of the same area",
                     fmt="{:.0f}")
        results.info("unpromote_vs_promote", unpromote / promote if promote else 0.0,
                     "context: ratio to promote_area_ms, same run")

        map_of_10000(results, document)


def whole_map_times(viewer: Any, runs: int) -> tuple[float, float, int]:
    """GET /world/map with every room in view ("Whole map"): the median with the world unchanged since the last
    look (its layout and exit lines cached), the median with them worked out again (the cache cleared before each),
    and how many rooms that page draws."""
    import html
    import re

    from webapp.worlds import worldmap

    default = viewer.get("/world/map").get_data(as_text=True)
    everything = html.unescape(re.search(r'href="([^"]+)"[^>]*>Whole map<', default).group(1))
    first = viewer.get(everything)
    assert first.status_code == 200, first.status_code
    shown = first.get_data(as_text=True).count('class="map-room')

    def cold() -> Any:
        worldmap.drawing.cache_clear()
        return viewer.get(everything)

    cold_ms = median(time_ms(cold, max(3, runs // 2)))
    viewer.get(everything)
    return median(time_ms(lambda: viewer.get(everything), runs)), cold_ms, shown


def map_of_10000(results: Results, document: dict) -> None:
    """The whole map of a live world of 10,010 rooms: ten areas of 1,000 rooms, each promoted south of one of ten
    hubs in a row (built through the services, untimed). Reported, no target."""
    from webapp.worlds import design, lifecycle, live, promotion, sandbox

    app, _, _ = new_app("worlds_map")
    with app.app_context():
        admin = seed_users(roles=("viewer",))["admin"]
        hubs = [live.add_live_room(admin, design.room_fields("hub0", "Hub 0"))]
        for i in range(1, BIG_AREAS):
            hubs.append(live.add_live_room(admin, design.room_fields(f"hub{i}", f"Hub {i}")))
            live.link_rooms(admin, hubs[-2].id, hubs[-1].id, "east")
        for i, hub in enumerate(hubs):
            project = design.create_project(admin, f"Area {i}", "", document)
            lifecycle.transition(admin, project.id, "submit")
            lifecycle.transition(admin, project.id, "approve")
            sandbox.build_sandbox(admin, project.id)
            preview = promotion.promotion_preview(admin, project.id, hub.id, "south")
            promotion.promote(admin, project.id, hub.id, "south", preview.token)
    viewer = https_client(app)
    login(viewer, "viewer@bench.example")
    warm, cold, shown = whole_map_times(viewer, 5)
    results.info("map_10000_ms", warm, f"context: the whole map of {BIG_AREAS * COLUMNS * ROWS + BIG_AREAS} rooms, "
                 "world unchanged since the last look", fmt="{:.0f}")
    results.info("map_10000_cold_ms", cold, "context: the same, laid out and routed again", fmt="{:.0f}")
    results.info("map_10000_drawn", shown, "context: boxes in that page", fmt="{:.0f}")


def evennia_load(results: Results, batch: str) -> None:
    """The area's .ev loaded by real Evennia (`batchcommands` in `evennia test`, as tests/worlds/test_real_evennia.py
    does), when .venv-evennia exists (`make evennia`): the load itself, and the whole run (game dir, migrations)."""
    import json
    import os
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    launcher = Path(os.environ.get("EVENNIA_VENV", root / ".venv-evennia")) / "bin" / "evennia"
    if not launcher.exists():
        results.info("evennia_load_s", "skipped", f"no {launcher} (make evennia)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run([str(launcher), "--init", "game"], cwd=work, check=True, capture_output=True, timeout=600)
        (work / "game" / "world" / "area.ev").write_text(batch, encoding="utf-8")
        shutil.copy(root / "tests" / "evennia" / "load_batchfiles.py", work / "game" / "test_promotion_desk_load.py")
        shutil.copy(root / "tests" / "evennia" / "typed_values.py", work / "game" / "typed_values.py")  # it imports it
        (work / "manifest.json").write_text(json.dumps({"files": ["area"], "dump": str(work / "dump.json")}))
        t0 = time.perf_counter()
        done = subprocess.run([str(launcher), "test", "--settings", "settings.py", "test_promotion_desk_load"],
                              cwd=work / "game", capture_output=True, text=True, timeout=3600, check=False,
                              env={**os.environ, "PROMOTION_DESK_MANIFEST": str(work / "manifest.json")})
        total = time.perf_counter() - t0
        assert done.returncode == 0, done.stderr[-2000:]
        dump = json.loads((work / "dump.json").read_text())
    loaded = dump["files"][0]
    assert len(loaded["rooms"]) == COLUMNS * ROWS, len(loaded["rooms"])
    results.info("evennia_load_s", loaded["seconds"], f"context: batchcommands of that file in Evennia {dump['evennia']}",
                 fmt="{:.1f}")
    results.info("evennia_run_s", total, "context: the whole `evennia test` run (fresh game, migrations)", fmt="{:.1f}")
    results.info("evennia_exits_made", len(loaded["exits"]), "context: exits Evennia made", fmt="{:.0f}")


if __name__ == "__main__":
    run(Results())

"""planning: the live planning room's poll with 200 players in the room.

Today's room of a workspace with ROOM_PLAYERS linked members in it (bulk-inserted as in bench/gamenight.py),
SUGGESTIONS team names and three votes from every player but one; the signed-in member is in the room. Every
open page polls `GET /planning/today/shared` every 2 s with the tag its shared part was drawn with:

   planning_poll_304_ms    median of POLL_RUNS polls with the current tag: 304, no body
   planning_poll_200_ms    median of POLL_RUNS polls with a stale tag: 200, the shared part (names, votes, teams)
   planning_room_block_ms  context: the room block as an action answers it (shared part + the 200-chip draft)
   bare_ms                 baseline in the same run: `GET /bench/bare` (constant JSON, same app and hooks),
                           measured in halves before and after the polls
   planning_poll_vs_bare   planning_poll_304_ms / bare_ms
   planning_poll_cost      what 200 open pages cost: requests/s, bytes/s while nothing changes, bytes for one
                           change, SQL statements per 304 and per 200, a core's share at the measured 304 time
"""

from __future__ import annotations

import html
import re
from typing import Any

from sqlalchemy import event

from bench._common import Results, add_bare_route, https_client, login, median, new_app, section, time_ms

ROOM_PLAYERS = 200
SUGGESTIONS = 50
POLL_RUNS = 200
POLL_SECONDS = 2  # the page's poll interval (webapp/gamenight/planning_views.POLL_SECONDS)


def seed(app: Any) -> tuple[str, list[int]]:
    """The workspace, its members and today's room with everyone in it; (the day, the members' ids)."""
    from sqlalchemy import insert, select

    from bench.gamenight import bulk_members
    from webapp.accounts import services as accounts
    from webapp.extensions import db, utcnow
    from webapp.gamenight import night_settings
    from webapp.gamenight.models import PlanningMember, PlanningRoom, Status, SuggestionVote, TeamSuggestion

    with app.app_context():
        ws = accounts.get_or_create_workspace("Guild")
        db.session.commit()
        today = night_settings.local_today(ws)
        ids = bulk_members(ws.id, "room", ROOM_PLAYERS, [today], lambda i, d: Status.available,
                           lambda u: f"json://127.0.0.1:9/r{u}")
        now = utcnow()
        room = PlanningRoom(workspace_id=ws.id, day=today, created_by_id=ids[0], seed=7)
        db.session.add(room)
        db.session.flush()
        db.session.execute(insert(PlanningMember), [{"room_id": room.id, "user_id": u, "joined_at": now}
                                                    for u in ids])
        db.session.execute(insert(TeamSuggestion), [{"room_id": room.id, "name": f"Team name {i}",
                                                     "name_key": f"team name {i}", "created_by_id": ids[i],
                                                     "created_at": now} for i in range(SUGGESTIONS)])
        suggestions = list(db.session.scalars(select(TeamSuggestion.id).where(TeamSuggestion.room_id == room.id)
                                              .order_by(TeamSuggestion.id)))
        db.session.execute(insert(SuggestionVote), [
            {"suggestion_id": suggestions[(i * 7 + k) % SUGGESTIONS], "user_id": u, "created_at": now}
            for i, u in enumerate(ids[1:], start=1) for k in range(3)])
        db.session.commit()
        db.session.remove()
    return today.isoformat(), ids


def count_statements(app: Any, fn: Any) -> int:
    from webapp.extensions import db

    seen: list[str] = []
    with app.app_context():
        engine = db.engine
    def listener(*_args: Any) -> None:
        seen.append("x")

    event.listen(engine, "before_cursor_execute", listener)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return len(seen)


def run(results: Results) -> None:
    with section("planning"):
        app, _db_url, _r_url = new_app("planning")
        add_bare_route(app)
        day, _ids = seed(app)
        member = https_client(app)
        login(member, "room00000@bench.example")
        page = member.get("/planning/today").get_data(as_text=True)
        tag = html.unescape(re.search(r'data-poll-etag="([^"]+)"', page).group(1))
        url = f"/planning/today/shared?day={day}&draft=1"
        current = {"HX-Request": "true", "If-None-Match": tag}
        stale = {"HX-Request": "true", "If-None-Match": 'W/"stale"'}
        unchanged, changed = member.get(url, headers=current), member.get(url, headers=stale)
        assert unchanged.status_code == 304 and unchanged.get_data() == b"", unchanged.status_code
        body = changed.get_data()
        assert changed.status_code == 200 and b"Player 0199" in body and b"draft-form" not in body
        room_block = member.get("/planning/today", headers={"HX-Request": "true"})
        assert room_block.status_code == 200
        for _ in range(5):  # warm-up
            member.get(url, headers=current)
            member.get(url, headers=stale)
            member.get("/bench/bare")

        bare = time_ms(lambda: member.get("/bench/bare"), POLL_RUNS // 2)
        poll_304 = median(time_ms(lambda: member.get(url, headers=current), POLL_RUNS))
        poll_200 = median(time_ms(lambda: member.get(url, headers=stale), POLL_RUNS))
        block = median(time_ms(lambda: member.get("/planning/today", headers={"HX-Request": "true"}), 20))
        bare_ms = median(bare + time_ms(lambda: member.get("/bench/bare"), POLL_RUNS // 2))
        queries_304 = count_statements(app, lambda: member.get(url, headers=current))
        queries_200 = count_statements(app, lambda: member.get(url, headers=stale))

        results.check("planning_poll_304_ms", poll_304, "<", 20, fmt="{:.2f}")
        results.check("planning_poll_200_ms", poll_200, "<", 20, fmt="{:.2f}")
        results.info("planning_room_block_ms", block, "context: the room block with the 200-chip draft",
                     fmt="{:.2f}")
        results.info("bare_ms", bare_ms, "baseline: GET /bench/bare, same run", fmt="{:.2f}")
        results.info("planning_poll_vs_bare", poll_304 / bare_ms if bare_ms else 0.0, "context: ratio")
        pages = ROOM_PLAYERS
        per_second = pages / POLL_SECONDS
        head_304 = sum(len(k) + len(v) + 4 for k, v in unchanged.headers.items())
        head_200 = sum(len(k) + len(v) + 4 for k, v in changed.headers.items())
        results.info("planning_poll_cost",
                     f"{pages} pages: {per_second:.0f} req/s; nothing changed: 304 of {head_304} B headers, "
                     f"{per_second * head_304 / 1024:.1f} kB/s, {queries_304} SQL statements each, "
                     f"{per_second * poll_304 / 10:.0f}% of a core; one change: {pages} x 200 of "
                     f"{(len(body) + head_200) / 1024:.1f} kB = {pages * (len(body) + head_200) / 1024:.0f} kB, "
                     f"{queries_200} statements each", "context", fmt="{}")
        results.info("planning_poll_kb", f"shared part {len(body) / 1024:.1f}, room block "
                     f"{len(room_block.get_data()) / 1024:.1f}", "context", fmt="{}")


if __name__ == "__main__":
    run(Results())

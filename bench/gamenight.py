"""gamenight: the start call of a 5,000-recipient game night through two real workers (once as is, once with
10% answering "can't" before T0), and the availability page of a workspace with 1,000 members.

Members are bulk-inserted with SQLAlchemy core (users with one shared password hash, memberships, player
profiles, confirmed contacts with sealed `json://` targets on a local HTTP sink (`tests/sink.py`),
opt-ins and statuses); the campaign is created through `campaigns.create`.

1. Fan-out. A campaign for 5,000 opted-in `available` members; its reminder and ready-check rows are
   cancelled (their RQ jobs deleted) and its start job is moved to T0, a few seconds ahead, and put on
   RQ with `enqueue_at(T0)` — the path `create` takes. Two workers (`python -m flask --app bench.wsgi_app
   worker`, forked work horses, one of them runs the scheduler) share the fan-out (`FANOUT_RUNS` = 2).

   fanout_first_s       T0 → the first post at the sink
   fanout_all_s         T0 → the 5,000th post at the sink
   fanout_per_s         5,000 / fanout_all_s
   apprise_loop_per_s   baseline in the same run: a plain loop in the benchmark process posting the same
                        5,000 messages (same URLs, title, body, key header) to the same sink, one
                        `apprise.Apprise()` + `add` + `notify` per message; the first half before the
                        fan-out (workers up and idle), the second after it (workers stopped), so drift on
                        the shared machine weighs on both sides
   fanout_vs_loop       fanout_per_s / apprise_loop_per_s
   fanout_exactly_once  posts per member at the sink (duplicates, missing) and the ledger's statuses
   fanout_job_started_s, fanout_job_done_s, fanout_worker_errors
                        T0 → the first run began and → the job's row is done; "database is locked" and
                        tracebacks in the workers' output

2. Availability. GET /w/<slug>/availability of a workspace whose 1,000 members all have a status for
   today, tomorrow and the next three days (5,000 rows), signed in as a linked member (names, status
   buttons) and anonymously (counts): median of 20 each; baseline GET /health.

3. Planning room. Today's room in that workspace with 200 players, 50 team names and 597 votes: the page
   (a chip per player in the draft), a vote and an auto-draft by htmx (answered with the room's shared part
   and with the draft):
   median of 20 each; context: the ratio to GET /health.

4. Fan-out with "can't". Another fresh database and the same start call of 5,000 members, of whom every tenth
   (500) answers "can't" after the campaign is created and before T0 (`campaign_answers.answer`, what the bot
   API and the reminder's page call): the same lines with the prefix `fanout_cant_` against a plain loop posting
   the 4,500 messages that should go out (`fanout_cant_loop_per_s`), and

   fanout_cant_withdrawn_pinged   posts that reached a member who answered "can't" (target 0)
   fanout_cant_answer_ms          median time of one "can't" answer
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench._common import (
    PASSWORD,
    ROOT,
    Results,
    https_client,
    login,
    median,
    new_app,
    section,
    seed_users,
    time_ms,
    tmpdir,
)

RECIPIENTS = int(os.environ.get("BENCH_FANOUT_RECIPIENTS", "5000"))
MEMBERS = 1000
WORKERS = 2
PAGE_RUNS = 20
SCALE_MEMBERS = int(os.environ.get("BENCH_AVAILABILITY_MEMBERS", "10000"))  # the availability page at scale
ROOM_PLAYERS = 200
SUGGESTIONS = 50
T0_AHEAD = 3.0  # seconds from scheduling the start call to T0
FANOUT_TIMEOUT = 45.0  # seconds after T0 (the target is 30): a MISS, not a hang
SETTLE_TIMEOUT = 10.0  # seconds after the last post for the start job's row to be done
KEY_HEADER = "X-Delivery-Key"


# -- seeding ------------------------------------------------------------------------------------


def bulk_members(workspace_id: int, prefix: str, n: int, days: list[date], status_of: Any,
                 target_of: Any) -> list[int]:
    """`n` linked, opted-in members (viewer role) of the workspace, in order; `status_of(i, day)` gives
    member i's status that day, `target_of(user_id)` the Apprise URL of their one (discord) contact."""
    from sqlalchemy import insert, select
    from werkzeug.security import generate_password_hash

    from webapp.accounts.models import Membership, Role, User
    from webapp.extensions import db, utcnow
    from webapp.gamenight.models import Availability, PlayerProfile
    from webapp.notify import contacts as contact_rules
    from webapp.notify.models import Channel, Contact, Preference

    now = utcnow()
    password_hash = generate_password_hash(PASSWORD)  # once: any of them can sign in
    emails = [f"{prefix}{i:05d}@bench.example" for i in range(n)]
    db.session.execute(insert(User), [{"email": e, "password_hash": password_hash, "created_at": now}
                                      for e in emails])
    ids = list(db.session.scalars(select(User.id).where(User.email.like(f"{prefix}%@bench.example"))
                                  .order_by(User.email)))
    assert len(ids) == n
    db.session.execute(insert(Membership), [{"user_id": u, "workspace_id": workspace_id, "role": Role.viewer,
                                             "created_at": now} for u in ids])
    db.session.execute(insert(PlayerProfile), [{"workspace_id": workspace_id, "user_id": u,
                                                "display_name": f"Player {i:04d}", "aliases": [], "created_at": now}
                                               for i, u in enumerate(ids)])
    contacts = []
    for u in ids:
        contact = Contact(workspace_id=workspace_id, user_id=u, channel=Channel.discord)
        contact_rules.set_target(contact, target_of(u))  # checked and sealed as the bot's link would
        contacts.append({"workspace_id": workspace_id, "user_id": u, "channel": Channel.discord,
                         "external_id": f"discord-{u}", "target_sealed": contact.target_sealed,
                         "target_hint": contact.target_hint, "confirmed_at": now, "created_at": now})
    db.session.execute(insert(Contact), contacts)
    db.session.execute(insert(Preference), [{"workspace_id": workspace_id, "user_id": u, "opted_in": True,
                                             "channel_order": [], "quiet_hours": None, "updated_at": now}
                                            for u in ids])
    rows = [{"workspace_id": workspace_id, "user_id": u, "day": d, "status": status_of(i, d), "updated_at": now}
            for i, u in enumerate(ids) for d in days]
    db.session.execute(insert(Availability), [r for r in rows if r["status"] is not None])
    db.session.commit()
    if db.engine.dialect.name == "postgresql":  # what autovacuum does after a load: the planner knows the sizes
        from sqlalchemy import text

        db.session.execute(text("ANALYZE"))
        db.session.commit()
    return ids


# -- workers ------------------------------------------------------------------------------------


def start_workers(db_url: str, r_url: str, logs: list[Path]) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "BENCH_WSGI_DATABASE_URL": db_url, "BENCH_WSGI_REDIS_URL": r_url,
           "PYTHONPATH": str(ROOT), "FLASK_SKIP_DOTENV": "1"}
    procs = []
    for log in logs:
        with log.open("wb") as out:
            procs.append(subprocess.Popen([sys.executable, "-m", "flask", "--app", "bench.wsgi_app", "worker"],
                                          cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
    return procs


def wait_for_workers(procs: list[subprocess.Popen[bytes]], logs: list[Path], connection: Any,
                     timeout: float = 30.0) -> None:
    """Until both workers are registered and one of them holds the scheduler lock of `default`."""
    from rq import Worker
    from rq.scheduler import RQScheduler

    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        for proc, log in zip(procs, logs, strict=True):
            if proc.poll() is not None:
                raise RuntimeError("a worker exited: " + log.read_text(errors="replace")[-2000:])
        if len(Worker.all(connection=connection)) >= len(procs) and \
                connection.exists(RQScheduler.get_locking_key("default")):
            return
        time.sleep(0.1)
    raise RuntimeError("the workers did not register, or none holds the scheduler lock (a stale lock of an "
                       "earlier run on REDIS_URL expires after a minute)")


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM (warm shutdown); a second SIGTERM makes RQ kill a busy work horse; then SIGKILL."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


# -- 1. fan-out ---------------------------------------------------------------------------------


def plain_loop(messages: list[tuple[str, str, str]], sink: Any) -> tuple[float, int]:
    """The baseline: one Apprise object, target and notify per message, in order; (seconds, arrived).
    The sink is cleared before and after (the fan-out is counted on its own)."""
    import apprise

    sink.clear()
    t0 = time.perf_counter()
    for url, title, body in messages:
        notifier = apprise.Apprise()
        notifier.add(url)
        notifier.notify(title=title, body=body)
    elapsed = time.perf_counter() - t0
    arrived = sink.count()
    sink.clear()
    return elapsed, arrived


def fanout(results: Results, app: Any, db_url: str, r_url: str, sink: Any, *, cant_every: int = 0,
           prefix: str = "fanout") -> None:
    """The start call's fan-out; with `cant_every`, every n-th member answers "can't" (the service the bot API
    and the answer page call) after the campaign is created and before T0: they must never be pinged, and the
    baseline posts only to the others (the same number of messages as the fan-out sends)."""
    from rq.job import Job
    from sqlalchemy import func, select, update

    from webapp.extensions import courier, db, utcnow
    from webapp.gamenight import (
        campaign_answers,
        campaign_copy,
        campaign_report,
        campaign_runs,
        campaigns,
        night_settings,
    )
    from webapp.gamenight.campaign_plans import CampaignChoices
    from webapp.gamenight.models import CampaignJob, JobKind, JobStatus, Status
    from webapp.notify.models import Delivery

    with app.app_context():
        actors = seed_users(roles=("promoter",))
        promoter = actors["promoter"]
        ws = night_settings.workspace(promoter.workspace_id)
        local = (utcnow() + timedelta(minutes=3)).astimezone(ws.zone)  # "HH:MM": at least 2 minutes ahead
        members = bulk_members(ws.id, "fan", RECIPIENTS, [local.date()], lambda i, d: Status.available,
                               lambda u: sink.target(f"m{u}"))
        campaign, _ = campaigns.create(promoter, CampaignChoices(day=local.date().isoformat(),
                                                                 start_time=local.strftime("%H:%M"), lead_minutes=1,
                                                                 statuses=["available"]))
        assert len(campaign.recipients) == RECIPIENTS, len(campaign.recipients)
        start = next(j for j in campaign.jobs if j.kind is JobKind.start)
        start_id, campaign_id = start.id, campaign.id
        title, body = campaign_copy.start_call(campaign_copy.local_clock(campaign.start_at, ws.zone))
        # Only the start call is measured: the other two rows are cancelled, all three RQ jobs removed.
        db.session.execute(update(CampaignJob).where(CampaignJob.campaign_id == campaign_id,
                                                     CampaignJob.kind != JobKind.start)
                           .values(status=JobStatus.cancelled, finished_at=utcnow()))
        rq_ids = [j.rq_job_id for j in campaign.jobs if j.rq_job_id]
        db.session.commit()
        connection = courier.connection
        for rq_id in rq_ids:
            Job.fetch(rq_id, connection=connection).delete()
        courier.queue().empty()
        out: set[int] = set()
        answer_ms: list[float] = []
        if cant_every:  # between T-15 and T0: every n-th member answers "can't"
            cant = campaign_answers.AnswerCommand(answer="can't")
            for u in members[::cant_every]:
                t = time.perf_counter()
                campaign_answers.answer(campaigns.get(promoter, campaign_id), u, cant, source="bench")
                answer_ms.append((time.perf_counter() - t) * 1000)
                out.add(u)
        db.session.remove()
    expected = RECIPIENTS - len(out)

    # The baseline's messages: the same URLs (with the ledger's key header), title and body.
    messages = [(sink.target(f"m{u}") + f"?+{KEY_HEADER}={quote(f'campaign:{campaign_id}:start:{u}', safe='')}",
                 title, body) for u in members if u not in out]

    logs = [tmpdir() / f"gamenight-worker-{i}.log" for i in range(WORKERS)]
    procs = start_workers(db_url, r_url, logs)
    try:
        with app.app_context():
            wait_for_workers(procs, logs, courier.connection)

        loop_s, loop_arrived = plain_loop(messages[:len(messages) // 2], sink)

        with app.app_context():
            # A whole second, as a real start (HH:MM:00) is: RQ keeps scheduled times in whole seconds, and a
            # run up to `campaign_runs.EARLY` before its time goes ahead, so a fractional T0 could start early.
            start_at = (utcnow() + timedelta(seconds=T0_AHEAD)).replace(microsecond=0)
            job = db.session.get(CampaignJob, start_id)
            job.run_at, job.next_run_at, job.deadline_at = start_at, start_at, start_at + timedelta(minutes=60)
            job.rq_job_id = f"campaign-job-{start_id}-r0"
            db.session.commit()
            courier.queue().enqueue_at(start_at, campaign_runs.JOB_FUNCTION, start_id, job_id=job.rq_job_id,
                                       result_ttl=600, failure_ttl=86400)
            db.session.remove()
        t0_wall = start_at.timestamp()
        while sink.count() < expected and time.time() < t0_wall + FANOUT_TIMEOUT:
            if any(p.poll() is not None for p in procs):
                break
            time.sleep(0.05)
        arrivals = sink.arrival_times()
        done_s = None
        if len(arrivals) >= expected:
            with app.app_context():  # the runs settle: each waits for the other's last claims, walks the rest
                settle_by = time.time() + SETTLE_TIMEOUT
                while done_s is None and time.time() < settle_by:
                    status = db.session.scalar(select(CampaignJob.status).where(CampaignJob.id == start_id))
                    db.session.rollback()
                    if status is JobStatus.done:
                        done_s = time.time() - t0_wall
                    else:
                        time.sleep(0.1)
                db.session.remove()
    finally:
        stop_workers(procs)

    with app.app_context():  # after the workers stopped: the ledger and the sink agree
        ledger = Counter({s.value: n for s, n in db.session.execute(
            select(Delivery.status, func.count()).where(Delivery.source_type == campaign_report.SOURCE,
                                                        Delivery.source_id == start_id)
            .group_by(Delivery.status))})
        runs, started = db.session.execute(select(CampaignJob.runs, CampaignJob.started_at)
                                           .where(CampaignJob.id == start_id)).one()
        db.session.remove()
    per_member = Counter(len(sink.received(f"m{u}")) for u in members if u not in out)
    withdrawn_pinged = sum(len(sink.received(f"m{u}")) for u in out)
    duplicates = sum(n for count, n in per_member.items() if count > 1)
    missing = per_member.get(0, 0)
    second_s, second_arrived = plain_loop(messages[len(messages) // 2:], sink)
    loop_s, loop_arrived = loop_s + second_s, loop_arrived + second_arrived
    worker_log = "\n".join(log.read_text(errors="replace") for log in logs)
    locked = worker_log.count("database is locked")
    tracebacks = worker_log.count("Traceback")

    loop_rate = loop_arrived / loop_s if loop_s else 0.0
    first = min(arrivals) - t0_wall if arrivals else float("inf")
    last = max(arrivals) - t0_wall if arrivals else float("inf")
    complete = len(arrivals) >= expected
    all_s = last if complete else float("inf")
    rate = len(arrivals) / last if arrivals and last > 0 else 0.0  # partial: the rate until the timeout
    results.check(f"{prefix}_first_s", first, "<=", 2, fmt="{:.2f}")
    results.check(f"{prefix}_all_s", all_s, "<=", 30, fmt="{:.1f}")
    if not complete:
        print(f"# gamenight: {len(arrivals)} of {expected} posts arrived within {FANOUT_TIMEOUT:.0f} s of T0; the "
              "workers were stopped mid-run (a `sending` row in the ledger below is a claim a killed horse held)",
              flush=True)
    results.info(f"{prefix}_per_s", rate, f"context: {expected} deliveries / {prefix}_all_s, {WORKERS} workers"
                 if complete else f"context: {len(arrivals)} of {expected} in {last:.0f} s, {WORKERS} workers",
                 fmt="{:.0f}")
    results.info("apprise_loop_per_s" if prefix == "fanout" else f"{prefix}_loop_per_s", loop_rate,
                 f"baseline: {loop_arrived} sequential Apprise posts to the same sink, half before and "
                 "half after the fan-out", fmt="{:.0f}")
    results.check(f"{prefix}_vs_loop", rate / loop_rate if loop_rate else 0.0, ">=", 0.5)
    if cant_every:
        results.check(f"{prefix}_withdrawn_pinged", withdrawn_pinged, "<=", 0, fmt="{:.0f}")
        results.info(f"{prefix}_answer_ms", median(answer_ms),
                     f"context: median of {len(out)} \"can't\" answers (withdrawing 3 ledger keys each)", fmt="{:.1f}")
    results.info(f"{prefix}_exactly_once", f"{duplicates} duplicated, {missing} missing; ledger "
                 + ", ".join(f"{k}={v}" for k, v in sorted(ledger.items())),
                 f"context: posts per member at the sink once the workers stopped, runs={runs}")
    results.info(f"{prefix}_job_started_s", started.timestamp() - t0_wall if started else "not started",
                 "context: T0 → the first run began; the RQ scheduler polls every second", fmt="{:.2f}")
    results.info(f"{prefix}_job_done_s", done_s if done_s is not None else "not done",
                 "context: T0 → the start job's row is done", fmt="{:.1f}")
    results.info(f"{prefix}_worker_errors", f"{locked} 'database is locked', {tracebacks} tracebacks",
                 "context: in the workers' logs", fmt="{}")
    if locked or tracebacks:
        print("# gamenight worker log (tail):\n" + "\n".join("#   " + line
                                                            for line in worker_log.splitlines()[-40:]), flush=True)


# -- 2. the availability page -------------------------------------------------------------------


def community(app: Any, name: str, prefix: str, n: int) -> tuple[str, int, list[int], list[date]]:
    """A workspace `name` of `n` linked members, each with a status (cycling through them) for today and the
    page's next days: (its slug, its id, the members' ids, the days)."""
    from webapp.accounts import services as accounts
    from webapp.extensions import db
    from webapp.gamenight import availability as statuses
    from webapp.gamenight import night_settings
    from webapp.gamenight.models import Status

    with app.app_context():
        ws = accounts.get_or_create_workspace(name)
        db.session.commit()
        today = night_settings.local_today(ws)
        days = [today + timedelta(days=i) for i in range(2 + statuses.UPCOMING_DAYS)]
        kinds = list(Status)
        ids = bulk_members(ws.id, prefix, n, days, lambda i, d: kinds[(i + (d - today).days) % len(kinds)],
                           lambda u: f"json://127.0.0.1:9/{prefix[0]}{u}")
        found = ws.slug, ws.id, ids, days
        db.session.remove()
    return found


def availability(results: Results, app: Any) -> None:
    slug, ws_id, ids, days = community(app, "Guild", "guild", MEMBERS)
    assert len(ids) == MEMBERS
    url = f"/w/{slug}/availability"

    member = https_client(app)
    login(member, "guild00000@bench.example")
    anonymous = https_client(app)
    page = member.get(url)
    assert page.status_code == 200, page.status_code
    text = page.get_data(as_text=True)
    assert "Player 0000" in text and " more</small>" in text, "the linked member's page shows no names"
    anon_page = anonymous.get(url)
    assert anon_page.status_code == 200 and "Player 0001" not in anon_page.get_data(as_text=True)
    for _ in range(2):
        member.get(url)
        anonymous.get(url)
        member.get("/health")
    signed_in = median(time_ms(lambda: member.get(url), PAGE_RUNS))
    anon = median(time_ms(lambda: anonymous.get(url), PAGE_RUNS))
    health = median(time_ms(lambda: member.get("/health"), PAGE_RUNS))
    results.check("availability_member_ms", signed_in, "<", 100, fmt="{:.1f}")
    results.check("availability_anon_ms", anon, "<", 100, fmt="{:.1f}")
    results.info("availability_kb", f"{len(page.get_data()) / 1024:.0f} member, "
                 f"{len(anon_page.get_data()) / 1024:.0f} anonymous",
                 f"context: {MEMBERS} members x {len(days)} days of statuses", fmt="{}")
    results.info("health_ms", health, "baseline: GET /health, same run", fmt="{:.1f}")
    results.info("availability_vs_health", signed_in / health if health else 0.0, "context: ratio")
    availability_at_scale(results, app)
    planning_room(results, app, ws_id, ids, member, health)


def availability_at_scale(results: Results, app: Any) -> None:
    """The same page for a community of SCALE_MEMBERS (issue 20: 10,000 members under 100 ms): the database
    counts the statuses and names the first few of each, the page lists them and says how many more."""
    slug, _, _, days = community(app, "Horde", "horde", SCALE_MEMBERS)
    url = f"/w/{slug}/availability"
    member = https_client(app)
    login(member, "horde00000@bench.example")
    anonymous = https_client(app)
    page = member.get(url)
    assert page.status_code == 200 and " more</small>" in page.get_data(as_text=True)
    for _ in range(2):
        member.get(url)
        anonymous.get(url)
    signed_in = median(time_ms(lambda: member.get(url), PAGE_RUNS))
    anon = median(time_ms(lambda: anonymous.get(url), PAGE_RUNS))
    k = f"{SCALE_MEMBERS // 1000}k" if SCALE_MEMBERS >= 1000 else str(SCALE_MEMBERS)
    results.check(f"availability_{k}_member_ms", signed_in, "<", 100, fmt="{:.1f}")
    results.check(f"availability_{k}_anon_ms", anon, "<", 100, fmt="{:.1f}")
    results.info(f"availability_{k}_kb", f"{len(page.get_data()) / 1024:.0f} member",
                 f"context: {SCALE_MEMBERS} members x {len(days)} days of statuses", fmt="{}")


# -- 3. the planning room -----------------------------------------------------------------------


def planning_room(results: Results, app: Any, workspace_id: int, ids: list[int], member: Any, health: float) -> None:
    """Today's room with ROOM_PLAYERS players, SUGGESTIONS team names and a vote from every player on three of
    them; the signed-in member (in the room) loads it (the draft draws a chip per player), votes (htmx: the
    shared part comes back) and auto-drafts (htmx, nothing saved: the draft comes back)."""
    import re

    from sqlalchemy import insert, select

    from webapp.extensions import db, utcnow
    from webapp.gamenight.models import PlanningMember, PlanningRoom, SuggestionVote, TeamSuggestion

    with app.app_context():
        now = utcnow()
        room = PlanningRoom(workspace_id=workspace_id, day=today_of(workspace_id), created_by_id=ids[0], seed=7)
        db.session.add(room)
        db.session.flush()
        players = ids[:ROOM_PLAYERS]
        db.session.execute(insert(PlanningMember), [{"room_id": room.id, "user_id": u, "joined_at": now}
                                                    for u in players])
        db.session.execute(insert(TeamSuggestion), [{"room_id": room.id, "name": f"Team name {i}",
                                                     "name_key": f"team name {i}", "created_by_id": ids[i],
                                                     "created_at": now} for i in range(SUGGESTIONS)])
        suggestion_ids = [s.id for s in db.session.scalars(
            select(TeamSuggestion).where(TeamSuggestion.room_id == room.id).order_by(TeamSuggestion.id))]
        db.session.execute(insert(SuggestionVote), [
            {"suggestion_id": suggestion_ids[(i * 7 + k) % SUGGESTIONS], "user_id": u, "created_at": now}
            for i, u in enumerate(players[1:], start=1) for k in range(3)])
        db.session.commit()
        day = room.day.isoformat()
        db.session.remove()
    page = member.get("/planning/today")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and text.count('class="chip"') == ROOM_PLAYERS, "the draft shows no chips"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)
    headers = {"HX-Request": "true", "X-CSRFToken": csrf}
    vote_url = f"/planning/today/suggestions/{suggestion_ids[0]}/vote"
    draft_form = {"day": day, "team_count": "4", "seed": "7", "op": "auto",
                  **{f"player_{u}": "bench" for u in ids[:ROOM_PLAYERS]}}
    for _ in range(2):
        member.get("/planning/today")
        assert member.post(vote_url, data={"day": day}, headers=headers).status_code == 200
    load = median(time_ms(lambda: member.get("/planning/today"), PAGE_RUNS))
    vote = median(time_ms(lambda: member.post(vote_url, data={"day": day}, headers=headers), PAGE_RUNS))
    draft = median(time_ms(lambda: member.post("/planning/today/draft", data=draft_form, headers=headers),
                           PAGE_RUNS))
    results.check("planning_page_ms", load, "<", 100, fmt="{:.1f}")
    results.check("planning_vote_ms", vote, "<", 100, fmt="{:.1f}")
    results.check("planning_auto_draft_ms", draft, "<", 100, fmt="{:.1f}")
    results.info("planning_room", f"{ROOM_PLAYERS} players, {SUGGESTIONS} suggestions, "
                 f"{3 * (ROOM_PLAYERS - 1)} votes; page {len(text) / 1024:.0f} kB",
                 "context", fmt="{}")
    results.info("planning_vs_health", load / health if health else 0.0, "context: ratio to GET /health")


def today_of(workspace_id: int) -> date:
    from webapp.gamenight import night_settings

    return night_settings.local_today(night_settings.workspace(workspace_id))


def run(results: Results) -> None:
    from tests.sink import Sink

    with section("gamenight"):
        app, db_url, r_url = new_app("gamenight")
        with Sink() as sink:
            fanout(results, app, db_url, r_url, sink)
        availability(results, app)
        if os.environ.get("BENCH_FANOUT_CANT", "1") != "0":
            cant_app, cant_db, cant_redis = new_app("gamenight-cant")
            with Sink() as sink:
                fanout(results, cant_app, cant_db, cant_redis, sink, cant_every=10, prefix="fanout_cant")


if __name__ == "__main__":
    run(Results())

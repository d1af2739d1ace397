"""governance: a promotion that needs one approval, request → approve → apply over the JSON API, against a direct
promote of the same kind of version in the same run.

Two processes of one workspace, each with 1,000 versions of history: `Direct` (no policy: promote as before) and
`Reviewed` (its own policy: one approval from a promoter). Rounds alternate, so drift on the shared machine weighs
on both: each round creates and activates a sandbox version of each (untimed, through the services), then times

- `POST /api/v1/versions/<id>/promote` of Direct's (the baseline), and
- Reviewed's `POST /api/v1/promotion-requests` (the requester, with the preview's token, taken untimed as the
  dialog would), `POST .../<id>/approve` (a second promoter) and `POST .../<id>/apply` (the requester).

Every call through the test client with personal access tokens → governed_p50_ms, governed_p99_ms (the three
calls), their steps' p50, direct_promote_p50_ms / _p99_ms and governed_vs_direct (p50 over p50: three calls,
each reopening the promotion under its locks and fingerprinting its preview, so about three promotes' work).
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench._common import PASSWORD, Results, median, new_app, percentile, section, seed_users

HISTORY = 1000
ROUNDS = int(os.environ.get("BENCH_GOVERNANCE_ROUNDS", "40"))
WARMUP = 3


def run(results: Results) -> None:
    with section("governance"):
        app, _db_url, _r_url = new_app("governance")
        from bench._history import bulk_versions
        from webapp.accounts import services as accounts
        from webapp.extensions import db
        from webapp.governance import services as governance
        from webapp.processes import documents, promotion

        with app.app_context():
            actors = seed_users(roles=("promoter",))
            user, membership = accounts.create_user("reviewer@bench.example", PASSWORD, "Bench", "promoter")
            reviewer = accounts.actor_for_user(user, membership.workspace_id)
            promoter, admin = actors["promoter"], actors["admin"]
            ids = {}
            for name in ("Direct", "Reviewed"):
                proc = documents.create_process(admin, name)
                bulk_versions(proc.id, promoter.user_id, HISTORY)
                ids[name] = proc.id
            governance.set_policy(admin, f"process:{ids['Reviewed']}", governance.PolicyCommand(required_approvals=1))
            tokens = {"promoter": accounts.create_personal_token(promoter)[1],
                      "reviewer": accounts.create_personal_token(reviewer)[1]}
            db.session.remove()

        client = app.test_client()
        headers = {who: {"Authorization": f"Bearer {token}"} for who, token in tokens.items()}

        def sandbox(name: str, i: int) -> tuple[int, str]:
            """A fresh active sandbox version of `name` and its preview token (untimed)."""
            from webapp.processes.models import Process

            with app.app_context():
                v = documents.create_draft(promoter, db.session.get(Process, ids[name]),
                                           {"prompt": f"You are a helpful assistant (rev {i}). Answer "
                                                      "{{ question }}", "temperature": 0.2}, None, None, f"rev {i}")
                documents.activate(promoter, v.id)
                token = promotion.promotion_preview(promoter, v.id).token
                db.session.remove()
                return v.id, token

        def post(url: str, who: str, body: dict[str, Any] | None = None) -> tuple[float, Any]:
            t0 = time.perf_counter()
            resp = client.post(url, json=body or {}, headers=headers[who])
            elapsed = (time.perf_counter() - t0) * 1000
            assert resp.status_code in (200, 201), (url, resp.status_code, resp.get_data(as_text=True)[:300])
            return elapsed, resp.get_json()

        direct: list[float] = []
        steps: dict[str, list[float]] = {"request": [], "approve": [], "apply": []}
        governed: list[float] = []
        last: Any = None
        for i in range(-WARMUP, ROUNDS):  # the first rounds warm import paths, statement caches, the pool
            vid, token = sandbox("Direct", i)
            ms_direct, _ = post(f"/api/v1/versions/{vid}/promote", "promoter", {"preview_token": token})
            vid, token = sandbox("Reviewed", i)
            ms_request, asked = post("/api/v1/promotion-requests", "promoter",
                                     {"flow": "process", "source": vid, "preview_token": token})
            ms_approve, _ = post(f"/api/v1/promotion-requests/{asked['id']}/approve", "reviewer", {"comment": "ok"})
            ms_apply, last = post(f"/api/v1/promotion-requests/{asked['id']}/apply", "promoter")
            if i < 0:
                continue
            direct.append(ms_direct)
            for step, ms in (("request", ms_request), ("approve", ms_approve), ("apply", ms_apply)):
                steps[step].append(ms)
            governed.append(ms_request + ms_approve + ms_apply)

        assert last["state"] == "applied", last
        results.check("governed_p50_ms", median(governed), "<", 150, fmt="{:.1f}")
        results.check("governed_p99_ms", percentile(governed, 99), "<", 450, fmt="{:.1f}")
        results.info("governed_steps_p50_ms", " / ".join(f"{step} {median(ms):.1f}" for step, ms in steps.items()),
                     f"context: {ROUNDS} rounds, {HISTORY} versions of history each")
        results.info("direct_promote_p50_ms", median(direct), "baseline: same run, alternating", fmt="{:.1f}")
        results.info("direct_promote_p99_ms", percentile(direct, 99), "baseline", fmt="{:.1f}")
        results.check("governed_vs_direct", median(governed) / median(direct), "<=", 4, fmt="{:.2f}")

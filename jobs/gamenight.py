"""RQ entry point of game nights: a campaign job's id (and which share of a large fan-out) — never a handle."""

from __future__ import annotations

from jobs.worker import app_context


def run_campaign_job(job_id: int, share: int = 0) -> str:
    with app_context():
        from webapp.gamenight import campaign_runs

        return campaign_runs.run_job(job_id, share)


def create_scheduled_night(night_id: int) -> str:
    with app_context():
        from webapp.gamenight import schedules

        return schedules.run_night(night_id)

"""RQ entry point of governance: a scheduled promotion's id — never a handle."""

from __future__ import annotations

from jobs.worker import app_context


def fire_scheduled_promotion(schedule_id: int) -> str:
    with app_context():
        from webapp.governance import schedules

        return schedules.fire(schedule_id)

from __future__ import annotations

from jobs.worker import app_context


def run_effect(effect_id: int) -> str:
    with app_context():
        from webapp.outbox import services

        return services.run_effect(effect_id)

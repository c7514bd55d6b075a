"""Celery tasks. (handle_event is implemented in the next step.)"""

from __future__ import annotations

from worker.celery_app import app


@app.task(name="policydesk.handle_event", bind=True)
def handle_event(self, event: dict) -> None:
    raise NotImplementedError

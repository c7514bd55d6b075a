"""The ingest benchmark's baseline: the cheapest possible webhook endpoint on the same queue.

It answers the question "what does receiving and enqueueing cost by itself?", so that the receivers'
figures can be read as a fraction of it. Its one POST route reads the raw body and hands it to the
same Celery task through the same Celery app and queue the receivers use, then answers 202: no
sender verification, no parsing, no dedupe, no logging. Whatever the receivers cost beyond this is
their own work (verify, parse, SET NX, the event's JSON, log lines).

Never run a Celery worker against a queue this app fills: the task expects a TicketEvent dict, and
these messages carry a raw body string. bench/ingest.py flushes the queue after every run.

Served by gunicorn as "bench.baseline_app:create_app()" (repository root on PYTHONPATH).
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

from worker.redis_conn import get_redis

BASELINE_PATH = "/baseline"


def create_app() -> Flask:
    # Imported here, not lazily per request, so every request pays only for the enqueue itself.
    from worker.tasks import handle_event

    app = Flask("policydesk-ingest-baseline")

    def healthz() -> Response | tuple[Response, int]:
        """The same readiness rule as the real web process: Redis must answer."""
        try:
            get_redis().ping()
        except Exception:  # not ready, never a 500
            return jsonify({"ok": False}), 503
        return jsonify({"ok": True})

    def enqueue_raw() -> tuple[str, int]:
        # A str, not bytes: the task's JSON serializer refuses bytes that are not UTF-8.
        body = request.get_data(cache=False).decode("utf-8", "replace")
        try:
            handle_event.apply_async(args=[body])
        except Exception:  # the broker is down: tell the sender to retry, never a traceback
            return "", 503
        return "", 202

    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    app.add_url_rule(BASELINE_PATH, "baseline", enqueue_raw, methods=["POST"])
    return app

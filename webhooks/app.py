"""The webhook receivers: one POST endpoint per helpdesk plus a health check (studio.web mounts the
policy studio on this app for gunicorn "studio.web:create_app()").

Every request follows the same short path so nothing slow or fragile happens while a sender waits:
read the capped raw body, verify the sender, parse, claim the delivery id and enqueue, answer.
Status codes are chosen for the senders' retry logic: 401/400/413 say "do not retry this", 503 says
"retry later" (Redis or the queue is down; an unclaimed delivery is never lost), 2xx says "done",
including for events we deliberately ignore, so a sender never disables the webhook over them.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from connectors import telemetry
from webhooks import freshdesk, kustomer, salesforce, salesforce_auth
from webhooks.responses import WebhookError, json_ack, json_error, soap_ack, soap_fault
from webhooks.settings import WebhookSettings, load_settings
from worker import intake, json_logs, metrics, redis_health
from worker.events import TicketEvent
from worker.redis_conn import get_redis

log = logging.getLogger(__name__)

SETTINGS_KEY = "POLICYDESK_WEBHOOKS"
SESSIONS_KEY = "policydesk.salesforce_sessions"
SALESFORCE_PATH = "/webhooks/salesforce"


def create_app() -> Flask:
    json_logs.configure_root()
    metrics.install_default()
    settings = load_settings()
    app = Flask("policydesk-webhooks")
    app.config[SETTINGS_KEY] = settings
    app.config[SESSIONS_KEY] = salesforce_auth.SessionVerifier(settings)
    # Werkzeug enforces this while reading, so a chunked body without Content-Length is capped too.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes

    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    app.add_url_rule("/webhooks/kustomer", "kustomer", kustomer_webhook, methods=["POST"])
    app.add_url_rule("/webhooks/freshdesk", "freshdesk", freshdesk_webhook, methods=["POST"])
    app.add_url_rule(SALESFORCE_PATH, "salesforce", salesforce_webhook, methods=["POST"])

    app.register_error_handler(WebhookError, _webhook_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def _settings() -> WebhookSettings:
    return current_app.config[SETTINGS_KEY]


def healthz() -> Response | tuple[Response, int]:
    """Ready means Redis accepts writes: a Redis at its memory cap still answers PING but refuses
    every delivery, so a PING would report a service that cannot take a single ticket as healthy."""
    try:
        client = get_redis()
        if not redis_health.writable(client):
            log.warning("health check failed: redis refuses writes")
            return jsonify({"ok": False, "error": "redis refuses writes"}), 503
        if not redis_health.has_headroom(client):
            log.warning("health check failed: redis is near its memory cap")
            return jsonify({"ok": False, "error": "redis is near its memory cap"}), 503
    except Exception as exc:  # any failure to reach Redis means "not ready", never a 500
        log.warning("health check failed: redis unavailable (%s)", type(exc).__name__)
        return jsonify({"ok": False, "error": "redis unavailable"}), 503
    return jsonify({"ok": True})


def kustomer_webhook() -> Response:
    body = _raw_body()
    kustomer.verify(request.headers, body, _settings())
    return json_ack(_enqueue(kustomer.parse(body)))


def freshdesk_webhook() -> Response:
    body = _raw_body()
    freshdesk.verify(request.headers, request.args, _settings())
    return json_ack(_enqueue(freshdesk.parse(body)))


def salesforce_webhook() -> Response:
    salesforce_auth.check_url_token(request.args, _settings())
    body = _raw_body()
    _enqueue(salesforce.parse(body, _settings(), current_app.config[SESSIONS_KEY]))
    return soap_ack()


def _raw_body() -> bytes:
    try:
        body = request.get_data(cache=True)
    except HTTPException:
        raise
    except Exception:  # the server could not read the body (a malformed chunk, a lying length)
        raise WebhookError(400, "malformed request body") from None
    if len(body) > _settings().max_body_bytes:
        raise RequestEntityTooLarge()
    return body


def _enqueue(events: list[TicketEvent]) -> str:
    """Enqueue every event that needs work; "accepted", "duplicate" or "ignored" for the whole delivery.

    Raises a 503 WebhookError if any enqueue fails. The ones already enqueued stay claimed, so the
    sender's retry of the whole delivery enqueues only what is missing.
    """
    outcomes = [_enqueue_one(event) for event in events]
    for preferred in ("accepted", "duplicate"):
        if preferred in outcomes:
            return preferred
    return "ignored"


def _enqueue_one(event: TicketEvent) -> str:
    if event.kind == "ignored":
        _log_event(event, "ignored")
        return "ignored"
    try:
        accepted = intake.accept(event)
    except Exception as exc:  # Redis or broker down, or misconfigured: the sender must retry, not drop
        log.warning(
            "enqueue failed helpdesk=%s ticket=%s error=%s",
            event.helpdesk,
            event.ticket_id,
            type(exc).__name__,
        )
        raise WebhookError(503, "queue unavailable, retry later") from None
    outcome = "accepted" if accepted else "duplicate"
    _log_event(event, outcome)
    return outcome


def _log_event(event: TicketEvent, outcome: str) -> None:
    telemetry.count("webhooks", helpdesk=event.helpdesk, result=outcome)
    log.info(
        "webhook helpdesk=%s kind=%s ticket=%s event=%s outcome=%s",
        event.helpdesk,
        event.kind,
        event.ticket_id or "-",
        event.event_id or "-",
        outcome,
    )


# --- error handlers: short bodies, the sender's format, never a traceback ---------------------------


def _error_response(status: int, message: str) -> Response:
    if request.path.rstrip("/") == SALESFORCE_PATH:
        return soap_fault(status, message)
    return json_error(status, message)


def _count_refused(status: int) -> None:
    helpdesk = request.path.rstrip("/").rsplit("/", 1)[-1] if request.path.startswith("/webhooks/") else "-"
    telemetry.count("webhooks", helpdesk=helpdesk, result=f"refused_{status}")


def _webhook_error(exc: WebhookError) -> Response:
    log.info("webhook refused path=%s status=%s reason=%s", request.path, exc.status, exc.message)
    _count_refused(exc.status)
    return _error_response(exc.status, exc.message)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    message = {413: "body too large"}.get(status) or (exc.name or "error").lower()
    if status == 413:
        log.info("webhook refused path=%s status=413 reason=body too large", request.path)
    if request.path.startswith("/webhooks/"):
        _count_refused(status)
    response = _error_response(status, message)
    valid_methods = getattr(exc, "valid_methods", None)
    if status == 405 and valid_methods:
        response.headers["Allow"] = ", ".join(valid_methods)
    return response


def _unexpected_error(exc: Exception) -> Response:
    """A real bug: log it with its traceback for us, answer the sender with a short 500."""
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    log.exception("unhandled error path=%s", request.path)
    return _error_response(500, "internal error")

"""Mounting the studio on the web app: login, CSRF, cookies, and the pages' blueprint.

With the studio off (no password, no users file) /studio and /metrics answer 404, exactly as if they
were not there. With it on, every studio page but the login form needs a logged-in session, every
form and JSON POST carries a CSRF token (Flask-WTF), and the session cookie is Secure, HttpOnly and
SameSite=Lax. `/metrics` also takes HTTP basic auth with the same credentials, for a scraper.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from functools import cached_property
from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect

from studio.auth import LoginLimiter, StudioAuth, load_auth
from worker import metrics
from worker.redis_conn import get_redis

log = logging.getLogger(__name__)

AUTH_KEY = "policydesk.studio_auth"
SESSION_LIFETIME = timedelta(hours=12)
PUBLIC_ENDPOINTS = {"studio.login", "studio.static"}
COOKIE_SECURE_VAR = "POLICYDESK_STUDIO_INSECURE_COOKIE"

ROUTES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("/", "home", ("GET",)),
    ("/library", "library", ("GET",)),
    ("/policy/<policy_id>", "policy", ("GET",)),
    ("/policy/<policy_id>/edit", "edit", ("GET",)),
    ("/api/lint", "lint_api", ("POST",)),
    ("/policy/<policy_id>/draft", "save_draft", ("POST",)),
    ("/policy/<policy_id>/publish", "publish", ("POST",)),
    ("/policy/<policy_id>/rollback", "roll_back", ("POST",)),
    ("/test", "test_screen", ("GET", "POST")),
    ("/test/save", "save_test", ("POST",)),
    ("/tickets", "tickets", ("GET",)),
    ("/tickets/<helpdesk>/<ticket_id>", "ticket", ("GET",)),
    ("/outcomes", "outcomes", ("GET",)),
)


class LazyView:
    """A view imported on its first call (Flask's "lazily loading views" pattern)."""

    def __init__(self, name: str):
        self.name = name
        self.__name__ = name

    @cached_property
    def view(self) -> Any:
        return getattr(import_module("studio.pages"), self.name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.view(*args, **kwargs)


studio = Blueprint(
    "studio", __name__, url_prefix="/studio", template_folder="templates", static_folder="static"
)
for _url, _name, _methods in ROUTES:
    studio.add_url_rule(_url, _name, LazyView(_name), methods=list(_methods))
csrf = CSRFProtect()


def install(app: Flask) -> None:
    auth = load_auth()
    app.config[AUTH_KEY] = auth
    if auth is None:
        app.add_url_rule("/metrics", "metrics", _not_found)
        return
    app.config.update(
        SECRET_KEY=auth.secret_key,
        SESSION_COOKIE_NAME="policydesk_studio",
        SESSION_COOKIE_SECURE=os.environ.get(COOKIE_SECURE_VAR, "") != "1",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        WTF_CSRF_CHECK_DEFAULT=False,  # the webhooks are POSTs from helpdesks: only the studio is checked
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        WTF_CSRF_SSL_STRICT=False,  # the referrer check breaks behind TLS-terminating proxies; SameSite holds
    )
    csrf.init_app(app)
    app.register_blueprint(studio)
    app.add_url_rule("/metrics", "metrics", metrics_view)


def _not_found() -> Response:
    abort(404)


def _auth() -> StudioAuth:
    return current_app.config[AUTH_KEY]


def _limiter() -> LoginLimiter:
    return LoginLimiter(get_redis())


@studio.before_request
def _guard() -> Any:
    """Login first, then a CSRF check on every state-changing request."""
    if request.endpoint not in PUBLIC_ENDPOINTS and not session.get("user"):
        if request.method == "GET" and not request.path.startswith("/studio/api/"):
            return redirect(url_for("studio.login", next=_local_path(request.full_path)))
        abort(401)
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    g.user = session.get("user")
    return None


@studio.app_errorhandler(CSRFError)
def _csrf_refused(exc: CSRFError) -> tuple[str, int]:
    log.info("studio refused path=%s reason=csrf", request.path)
    return render_template("studio/error.html", title="Form expired", message=exc.description), 400


@studio.after_request
def _no_store(response: Response) -> Response:
    """Pages can hold customer data from traces: never cached, never framed."""
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
    )
    return response


def _local_path(target: str | None) -> str:
    """Only a path on this site may follow a login (no open redirect to another host)."""
    if not target:
        return url_for("studio.library")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/studio"):
        return url_for("studio.library")
    return target.rstrip("?")


@studio.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    status = 200
    if request.method == "POST":
        csrf.protect()
        name = (request.form.get("name") or "").strip()[:80]
        password = request.form.get("password") or ""
        address = request.remote_addr or "-"
        limiter = _limiter()
        wait = limiter.blocked_for(address, name)
        if wait:
            log.info("studio login refused: too many attempts")
            error, status = f"Too many failed attempts. Try again in {wait // 60 + 1} minutes.", 429
        elif _auth().check(name, password):
            limiter.succeeded(address, name)
            session.clear()  # a fresh session (and CSRF token) for the logged-in user
            session.permanent = True
            session["user"] = name
            log.info("studio login ok")
            return redirect(_local_path(request.form.get("next")))
        else:
            limiter.failed(address, name)
            log.info("studio login failed")
            error, status = "That name and password do not match.", 401
    page = render_template(
        "studio/login.html", error=error, next=_local_path(request.values.get("next")), title="Log in"
    )
    return page, status


@studio.route("/logout", methods=["POST"])
def logout() -> Any:
    session.clear()
    return redirect(url_for("studio.login"))


def metrics_view() -> Response:
    """Prometheus text format; a logged-in studio session or HTTP basic auth with studio credentials."""
    if not session.get("user"):
        basic = request.authorization
        address = request.remote_addr or "-"
        name = (basic.username or "") if basic else ""
        limiter = _limiter()
        if limiter.blocked_for(address, name):
            return Response("too many attempts\n", 429, mimetype="text/plain")
        if basic is None or not _auth().check(name, basic.password or ""):
            if basic is not None:
                limiter.failed(address, name)
            return Response(
                "login required\n",
                401,
                {"WWW-Authenticate": 'Basic realm="policydesk"'},
                mimetype="text/plain",
            )
    body = metrics.render(get_redis())
    return Response(body, 200, mimetype="text/plain; version=0.0.4; charset=utf-8")


@studio.context_processor
def _navigation() -> dict[str, Any]:
    return {"nav_endpoints": set(current_app.view_functions)}


@studio.app_template_filter("studio_time")
def _studio_time(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")

"""The web process as deployed (gunicorn "studio.web:create_app()"): the webhook receivers with the
policy studio and /metrics mounted on them.

The receivers (webhooks.app) know nothing of the studio; this module composes the two, so the layers
stay one way: the studio uses the receivers' app, never the reverse. With the studio off (no
credentials) the app is the receivers' alone, and /studio and /metrics answer 404.
"""

from __future__ import annotations

from flask import Flask

from studio.app import install
from webhooks.app import create_app as create_receivers

__all__ = ["create_app"]


def create_app() -> Flask:
    app = create_receivers()
    install(app)
    return app

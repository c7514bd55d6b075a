"""The studio's pages: library, policy (read, edit, publish, roll back), test screen, tickets, outcomes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import abort, current_app, g, redirect, render_template, url_for

from studio.app import studio
from studio.catalog import Catalog, catalog, registry
from studio.published import PublishedStore
from studio.render import explain_flow, render_blocks, tool_facts
from worker.redis_conn import get_redis


def store() -> PublishedStore:
    return PublishedStore(get_redis())


def current_catalog() -> Catalog:
    return catalog(store())


def page(template: str, **values: Any) -> str:
    return render_template(f"studio/{template}", user=g.get("user"), **values)


@studio.route("/")
def home() -> Any:
    return redirect(url_for("studio.library"))


@studio.route("/library")
def library() -> str:
    found = current_catalog()
    return page("library.html", title="Library", entries=list(found.entries.values()))


@studio.route("/policy/<policy_id>")
def policy(policy_id: str) -> str:
    found = current_catalog()
    entry = found.get(policy_id)
    if entry is None:
        abort(404)
    head, blocks = render_blocks(
        entry.doc,
        entry.problems,
        found.library,
        registry(),
        lambda target: url_for("studio.policy", policy_id=target),
    )
    return page(
        "policy.html",
        title=entry.doc.title or entry.doc.id,
        entry=entry,
        head_problems=head,
        blocks=blocks,
        tools=tool_facts(entry.doc, registry()),
        flow=explain_flow(entry.doc),
        versions=list(reversed(store().versions(policy_id))),
        draft=store().draft(policy_id),
    )


@studio.context_processor
def _navigation() -> dict[str, Any]:
    return {"nav_endpoints": set(current_app.view_functions)}


@studio.app_template_filter("studio_time")
def _studio_time(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")

"""The studio's pages: library, policy (read, edit, publish, roll back), test screen, tickets, outcomes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for

from studio.app import studio
from studio.catalog import Catalog, Entry, catalog, registry
from studio.editing import completions, diff_lines, lint_text
from studio.render import explain_flow, render_blocks, tool_facts
from worker.published_policies import PublishedStore
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


def _entry(found: Catalog, policy_id: str) -> Entry:
    entry = found.get(policy_id)
    if entry is None:
        abort(404)
    return entry


@studio.route("/policy/<policy_id>/edit")
def edit(policy_id: str) -> str:
    found = current_catalog()
    entry = _entry(found, policy_id)
    draft = store().draft(policy_id)
    text = draft.text if draft else entry.text
    doc, problems = lint_text(policy_id, text, found)
    return page(
        "edit.html",
        title=f"Edit {entry.doc.title or policy_id}",
        entry=entry,
        text=text,
        draft=draft,
        problems=problems,
        diff=diff_lines(entry.text, text),
        menus=completions(found, doc),
        versions=list(reversed(store().versions(policy_id))),
    )


@studio.route("/api/lint", methods=["POST"])
def lint_api() -> Any:
    """The editor's live lint: problems at their lines and the diff against the live version."""
    body = request.get_json(silent=True) or {}
    policy_id, text = str(body.get("policy") or ""), str(body.get("text") or "")
    found = current_catalog()
    entry = _entry(found, policy_id)
    doc, problems = lint_text(policy_id, text, found)
    return jsonify(
        {
            "problems": [{"line": p.line, "severity": p.severity, "message": p.message} for p in problems],
            "diff": diff_lines(entry.text, text),
            "menus": {"$": completions(found, doc)["$"]},
        }
    )


@studio.route("/policy/<policy_id>/draft", methods=["POST"])
def save_draft(policy_id: str) -> Any:
    _entry(current_catalog(), policy_id)
    store().save_draft(policy_id, request.form.get("text") or "", g.user)
    flash("Draft saved. It is not live until you publish it.")
    return redirect(url_for("studio.edit", policy_id=policy_id))


@studio.route("/policy/<policy_id>/publish", methods=["POST"])
def publish(policy_id: str) -> Any:
    found = current_catalog()
    entry = _entry(found, policy_id)
    text = request.form.get("text") or ""
    message = (request.form.get("message") or "").strip()[:200]
    _doc, problems = lint_text(policy_id, text, found)
    errors = [p for p in problems if p.severity == "error"]
    if errors or not message:
        store().save_draft(policy_id, text, g.user)
        flash(
            f"Not published: {len(errors)} lint error(s) to fix first (your text is saved as a draft)."
            if errors
            else "Not published: say in a few words what changed (your text is saved as a draft)."
        )
        return redirect(url_for("studio.edit", policy_id=policy_id))
    if text.replace("\r\n", "\n") == entry.text:
        flash("Nothing to publish: the text is the live version.")
        return redirect(url_for("studio.edit", policy_id=policy_id))
    version = store().publish(policy_id, text, g.user, message)
    flash(
        f"Published version {version.number}. New tickets use it; conversations already running keep theirs."
    )
    return redirect(url_for("studio.policy", policy_id=policy_id))


@studio.route("/policy/<policy_id>/rollback", methods=["POST"])
def roll_back(policy_id: str) -> Any:
    _entry(current_catalog(), policy_id)
    try:
        number = int(request.form.get("version") or 0)
        version = store().roll_back(policy_id, number, g.user)
    except (ValueError, KeyError):
        abort(400)
    flash(f"Version {number} is live again, as version {version.number}.")
    return redirect(url_for("studio.policy", policy_id=policy_id))


@studio.context_processor
def _navigation() -> dict[str, Any]:
    return {"nav_endpoints": set(current_app.view_functions)}


@studio.app_template_filter("studio_time")
def _studio_time(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")

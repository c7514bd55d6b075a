"""The studio's pages: library, policy (read, edit, publish, roll back), test screen, tickets, outcomes.

The views are plain functions; studio.app's ROUTES table mounts them and imports this module on the
first request, so the web process boots without the linter, the simulation runtime or scipy.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, jsonify, redirect, render_template, request, url_for

from studio.catalog import Catalog, Entry, catalog, registry
from studio.charts import keep_rate_chart, outcome_bars
from studio.editing import completions, diff_lines, edited_document, lint_text
from studio.outcomes import compare_offers, policy_outcomes
from studio.render import explain_flow, render_blocks, tool_facts
from studio.saved_tests import policy_test
from studio.tickets import policy_of, recent, timeline
from studio.trial import HELPDESKS, Trial, run_trial, sandbox_customers
from worker.published_policies import PublishedStore
from worker.redis_conn import get_redis
from worker.saved_tests import SavedTests


def store() -> PublishedStore:
    return PublishedStore(get_redis())


def current_catalog() -> Catalog:
    return catalog(store())


def page(template: str, **values: Any) -> str:
    return render_template(f"studio/{template}", user=g.get("user"), **values)


def home() -> Any:
    return redirect(url_for("studio.library"))


def library() -> str:
    found = current_catalog()
    return page("library.html", title="Library", entries=list(found.entries.values()))


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


def save_draft(policy_id: str) -> Any:
    _entry(current_catalog(), policy_id)
    store().save_draft(policy_id, request.form.get("text") or "", g.user)
    flash("Draft saved. It is not live until you publish it.")
    return redirect(url_for("studio.edit", policy_id=policy_id))


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


def roll_back(policy_id: str) -> Any:
    _entry(current_catalog(), policy_id)
    try:
        number = int(request.form.get("version") or 0)
        version = store().roll_back(policy_id, number, g.user)
    except (ValueError, KeyError):
        abort(400)
    flash(f"Version {number} is live again, as version {version.number}.")
    return redirect(url_for("studio.policy", policy_id=policy_id))


def _trial_from_form() -> Trial:
    form = request.form
    customer = form.get("customer_id") or ""
    messages = [m for m in form.getlist("said") if m.strip()]
    if (form.get("message") or "").strip():
        messages.append(form["message"].strip())
    return Trial(
        policy=form.get("policy") or "",
        helpdesk=str(form.get("helpdesk")) if form.get("helpdesk") in HELPDESKS else HELPDESKS[0],
        context_text=form.get("context") or "",
        customer_id=int(customer) if customer.isdigit() else None,
        use_draft=form.get("use_draft") == "1",
        messages=messages,
    )


def _trial_page(trial: Trial, result: Any, found: Catalog) -> str:
    return page(
        "test.html",
        title="Test screen",
        trial=trial,
        result=result,
        entries=list(found.entries.values()),
        helpdesks=HELPDESKS,
        customers=sandbox_customers(),
        has_draft=bool(trial.policy and store().draft(trial.policy)),
    )


def test_screen() -> str:
    found = current_catalog()
    if request.method == "GET":
        chosen = request.args.get("policy") or ""
        helpdesk = (
            next(iter(found.entries[chosen].doc.helpdesks), HELPDESKS[0])
            if chosen in found.entries
            else HELPDESKS[1]
        )
        return _trial_page(Trial(policy=chosen, helpdesk=helpdesk), None, found)
    trial = _trial_from_form()
    draft = store().draft(trial.policy) if trial.policy else None
    draft_doc = edited_document(trial.policy, draft.text) if draft else None
    return _trial_page(trial, run_trial(trial, found, draft_doc), found)


def save_test() -> Any:
    found = current_catalog()
    trial = _trial_from_form()
    draft = store().draft(trial.policy) if trial.policy else None
    result = run_trial(trial, found, edited_document(trial.policy, draft.text) if draft else None)
    try:
        spec = policy_test(request.form.get("test_name") or "studio test", trial, result)
    except ValueError as exc:
        flash(str(exc))
        return _trial_page(trial, result, found)
    SavedTests(get_redis()).save(spec)
    flash(f"Saved as test {spec['id']} of {spec['policy']} (policydesk policies export writes it to a file).")
    return _trial_page(trial, result, found)


def tickets() -> str:
    query = (request.args.get("q") or "").strip()[:100]
    return page(
        "tickets.html", title="Tickets", rows=recent(get_redis(), query), query=query, policy_of=policy_of
    )


def ticket(helpdesk: str, ticket_id: str) -> str:
    found = timeline(get_redis(), helpdesk, ticket_id)
    if found is None:
        abort(404)
    return page("ticket.html", title=f"Ticket {ticket_id}", t=found)


PERIODS = (1, 7, 30, 90)


def outcomes() -> str:
    days = request.args.get("days", "7")
    period = int(days) if days.isdigit() and int(days) in PERIODS else 7
    rows = policy_outcomes(get_redis(), period)
    offers = compare_offers(get_redis())
    return page(
        "outcomes.html",
        title="Outcomes",
        rows=rows,
        period=period,
        periods=PERIODS,
        chart=outcome_bars(rows),
        offers=[(comparison, keep_rate_chart(comparison)) for comparison in offers],
    )

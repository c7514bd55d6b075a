"""The sandbox's Flask app: one blueprint per platform plus a control API under /_sandbox.

Each platform module in sandbox/ exposes the same contract:
    PLATFORM: str                      name used in writes, faults and the control API
    PREFIX: str                        URL prefix its blueprint is mounted at
    blueprint: flask.Blueprint         the platform's API, paths as the vendor documents them
    seed(section: dict) -> None        fill its part of the state with its part of the world (world/)
    client_env(base_url) -> dict       env vars that point our connector at this sandbox
    fault_response(fault) -> Response  how the platform says "slow down" / "broken" (its own headers)
and, for helpdesks (HELPDESK = True):
    create_ticket(section, *, subject, text, email, name) -> {"ticket_id", "message_id", "customer_id"}
    add_customer_message(section, ticket_id, text) -> {"message_id"}
    ticket_view(section, ticket_id) -> {"ticket_id", "subject", "status", "tags", "group",
                                         "replies": [str], "notes": [str], "requester_email"}
The control API is for tests and the demo only; it is not part of any vendor's API.
"""

from __future__ import annotations

import importlib
import time
from types import ModuleType
from typing import Any

from flask import Flask, abort, current_app, g, jsonify, request

from sandbox.state import Fault, SandboxState

SUBREQUEST = "sandbox.subrequest"  # WSGI environ key of a subrequest of a batch (Salesforce composite)

PLATFORM_MODULES = (
    "freshdesk",
    "kustomer",
    "salesforce",
    "aftership",
    "shipengine",
    "shipstation",
    "bigcommerce",
    "smartrr",
    "shopify",
    "anthropic",
)


def platform_modules() -> dict[str, ModuleType]:
    modules = {}
    for name in PLATFORM_MODULES:
        module = importlib.import_module(f"sandbox.{name}")
        modules[module.PLATFORM] = module
    return modules


def sandbox_state() -> SandboxState:
    return current_app.config["SANDBOX_STATE"]


def section(platform: str) -> dict[str, Any]:
    """The calling platform module's part of the state."""
    return sandbox_state().section(platform)


def count_request(platform: str, window: int, cost: int = 1) -> int:
    """Requests counted in the platform's current rate window (a new window starts from zero), for the
    rate-limit headers an emulator reports. Counting never throttles: faults do that."""
    with sandbox_state().lock:
        rate = section(platform).setdefault("rate", {"window": window, "used": 0})
        if rate["window"] != window:
            rate.update(window=window, used=0)
        rate["used"] += cost
        return rate["used"]


def reading(platform: str, name: str) -> str:
    """Which reading of an unverified vendor behaviour the sandbox plays (the module's READINGS list
    them, the first is the default); tests pick one with POST /_sandbox/readings."""
    choices = current_app.config["SANDBOX_MODULES"][platform].READINGS[name]
    return sandbox_state().readings.get(f"{platform}.{name}", choices[0])


def record_write(platform: str, body: Any = None, **extra: Any) -> None:
    """Platform modules call this for every request that changes state."""
    sandbox_state().record(platform, request.method, request.path, body, **extra)


def create_app(state: SandboxState | None = None) -> Flask:
    app = Flask("policydesk-sandbox")
    app.config["SANDBOX_STATE"] = state or SandboxState()
    modules = platform_modules()
    app.config["SANDBOX_MODULES"] = modules
    _seed(app.config["SANDBOX_STATE"], modules)

    for module in modules.values():
        app.register_blueprint(module.blueprint, url_prefix=module.PREFIX)

    @app.before_request
    def inject_faults():
        if request.environ.get(SUBREQUEST):
            return None  # part of a request already counted, delayed and checked for faults
        for name, module in modules.items():
            if request.path.startswith(module.PREFIX + "/") or request.path == module.PREFIX:
                g.platform = name
                sandbox_state().count(name, request.method, request.path)
                if sandbox_state().latency:
                    time.sleep(sandbox_state().latency)  # a real platform's answer takes this long
                fault = sandbox_state().take_fault(name, request.method, request.path)
                if fault and fault.status == 0:
                    _hold(name, fault)
                elif fault and fault.after_applying:
                    g.fail_after = (module, fault)
                elif fault:
                    sandbox_state().record(name, request.method, request.path, None, fault=fault.status)
                    return module.fault_response(fault)
        return None

    @app.after_request
    def hold_answer(response):
        if g.get("hold_answer"):
            sandbox_state().record(g.platform, request.method, request.path, None, held="after")
            time.sleep(g.hold_answer)
        if g.get("fail_after"):
            module, fault = g.fail_after
            sandbox_state().record(g.platform, request.method, request.path, None, fault=fault.status)
            return module.fault_response(fault)
        return response

    _register_control_api(app, modules)
    return app


def _hold(platform: str, fault: Fault) -> None:
    """A slow request: held before it is handled, or (delay_after) its answer held after it applied."""
    if fault.delay_after:
        g.hold_answer = fault.delay
        return
    sandbox_state().record(platform, request.method, request.path, None, held="before")
    time.sleep(fault.delay)


def _seed(state: SandboxState, modules: dict[str, ModuleType]) -> None:
    with state.lock:
        state.data.clear()
        state.writes.clear()
        state.faults.clear()
        state.readings.clear()
        state.requests.clear()
        for name, module in modules.items():
            module.seed(state.section(name))


def _helpdesk(modules: dict[str, ModuleType], platform: str) -> ModuleType:
    module = modules.get(platform)
    if module is None or not getattr(module, "HELPDESK", False):
        abort(404, f"no helpdesk {platform!r} in the sandbox")
    return module


def _register_control_api(app: Flask, modules: dict[str, ModuleType]) -> None:
    @app.get("/_sandbox/health")
    def health():
        return {"ok": True, "platforms": sorted(modules)}

    @app.get("/_sandbox/writes")
    def writes():
        platform = request.args.get("platform")
        state = sandbox_state()
        with state.lock:
            rows = [w for w in state.writes if platform in (None, w["platform"])]
        return jsonify(rows)

    @app.get("/_sandbox/requests")
    def requests_received():
        """Every platform request from index `since` on (reads too), for counting API calls."""
        platform = request.args.get("platform")
        since = int(request.args.get("since", 0))
        state = sandbox_state()
        with state.lock:
            total = len(state.requests)
            rows = [r for r in state.requests[since:] if platform in (None, r["platform"])]
        return jsonify({"total": total, "requests": rows})

    @app.post("/_sandbox/latency")
    def set_latency():
        """{"seconds": 0.15}: hold every platform request that long, as a real API's round trip."""
        seconds = float((request.get_json(force=True) or {}).get("seconds", 0))
        if not 0 <= seconds <= 10:
            abort(400, "seconds must be between 0 and 10")
        sandbox_state().latency = seconds
        return {"ok": True}

    @app.post("/_sandbox/faults")
    def add_fault():
        spec = request.get_json(force=True)
        fault = Fault(
            platform=spec["platform"],
            status=int(spec["status"]),
            count=int(spec.get("count", 1)),
            method=spec.get("method"),
            path_contains=spec.get("path_contains"),
            retry_after=spec.get("retry_after"),
            body=spec.get("body"),
            delay=float(spec.get("delay", 0)),
            delay_after=bool(spec.get("delay_after", False)),
            after_applying=bool(spec.get("after_applying", False)),
        )
        with sandbox_state().lock:
            sandbox_state().faults.append(fault)
        return {"ok": True}, 201

    @app.post("/_sandbox/readings")
    def choose_reading():
        """{"platform", "name", "value"}: play one reading of a behaviour no source establishes."""
        spec = request.get_json(force=True)
        module = modules.get(spec.get("platform"))
        choices = getattr(module, "READINGS", {}).get(spec.get("name"), ())
        if spec.get("value") not in choices:
            abort(400, f"no reading {spec.get('value')!r} of {spec.get('platform')}.{spec.get('name')}")
        with sandbox_state().lock:
            sandbox_state().readings[f"{spec['platform']}.{spec['name']}"] = spec["value"]
        return {"ok": True}

    @app.delete("/_sandbox/faults")
    def clear_faults():
        with sandbox_state().lock:
            sandbox_state().faults.clear()
        return {"ok": True}

    @app.post("/_sandbox/reset")
    def reset():
        _seed(sandbox_state(), modules)
        return {"ok": True}

    @app.post("/_sandbox/<platform>/tickets")
    def create_ticket(platform: str):
        module = _helpdesk(modules, platform)
        spec = request.get_json(force=True)
        with sandbox_state().lock:
            created = module.create_ticket(
                sandbox_state().section(platform),
                subject=spec.get("subject", ""),
                text=spec.get("text", ""),
                email=spec.get("email"),
                name=spec.get("name"),
                **(spec.get("options") or {}),
            )
        return created, 201

    @app.post("/_sandbox/<platform>/tickets/<ticket_id>/messages/<message_id>/release")
    def release_message(platform: str, ticket_id: str, message_id: str):
        module = _helpdesk(modules, platform)
        with sandbox_state().lock:
            return module.release_message(sandbox_state().section(platform), ticket_id, message_id)

    @app.post("/_sandbox/<platform>/tickets/<ticket_id>/messages")
    def add_message(platform: str, ticket_id: str):
        module = _helpdesk(modules, platform)
        spec = request.get_json(force=True)
        with sandbox_state().lock:
            return module.add_customer_message(
                sandbox_state().section(platform), ticket_id, spec["text"]
            ), 201

    def platform_hook(platform: str, hook: str, missing: str) -> Any:
        """A control only some emulators have: 404 on the others, run under the state lock."""
        module = modules.get(platform)
        if module is None or not hasattr(module, hook):
            abort(404, f"{platform!r} has no {missing}")
        spec = request.get_json(force=True) or {}
        with sandbox_state().lock:
            return getattr(module, hook)(sandbox_state().section(platform), spec)

    @app.post("/_sandbox/<platform>/backfill")
    def backfill(platform: str):
        return platform_hook(platform, "backfill", "backfill")

    @app.post("/_sandbox/<platform>/usage")
    def set_usage(platform: str):
        """The account's API usage so far, for a platform that reports a daily allocation (Salesforce)."""
        return platform_hook(platform, "set_usage", "usage to set")

    @app.get("/_sandbox/<platform>/tickets/<ticket_id>")
    def view_ticket(platform: str, ticket_id: str):
        module = _helpdesk(modules, platform)
        with sandbox_state().lock:
            return module.ticket_view(sandbox_state().section(platform), ticket_id)

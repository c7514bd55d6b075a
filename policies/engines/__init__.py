"""What runs a policy: the deterministic flow engine, the Claude agent engine, the guards every tool
call of either goes through, and the state (`PolicyState`) and port (`PolicyPort`) they share.

Entry point: `PolicyEngine` (start or resume a policy on a ticket; it picks the flow or the agent,
`choose_engine`) and `route` (which library policy a classified ticket gets). The worker implements
`PolicyPort`; the engines see nothing else of it.
"""

from policies.engines.engine import PolicyEngine, choose_engine
from policies.engines.router import Route, route
from policies.engines.runtime import FlowContext, Handoff, PolicyPort, PolicyState

__all__ = [
    "FlowContext",
    "Handoff",
    "PolicyEngine",
    "PolicyPort",
    "PolicyState",
    "Route",
    "choose_engine",
    "route",
]

"""The simulation runtime: a policy run on a conversation with every write recorded, never made.

`port.SimulationPort` is the engines' port (policies.runtime.PolicyPort) for a try-out,
`session.Simulation` runs a conversation through the engines the worker uses, and `trace.Trace` is
what the person trying the policy reads: each step, tool call, guard verdict, reply and the end state.
`policydesk simulate` (cli) is the terminal's test screen over them.
"""

"""The simulation runtime: a policy run with every write recorded, never made, nothing sent.

`port.SimulationPort` is the engines' port (policies.engines.runtime.PolicyPort) for a try-out or a
rehearsal on a real ticket, `trace.Trace` is what it did, `would_be` the results of the writes it
did not make. `policydesk simulate` and the shadow and draft modes (worker.rehearsal) run on it.
"""

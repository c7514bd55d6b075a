"""Support policies, in four parts that depend on each other one way (docs/architecture.md):
engines (run a policy) -> document (the policy and its library) -> understanding (what customers
write, the ticket classifier) -> language (`$variables`, conditions, templates)."""

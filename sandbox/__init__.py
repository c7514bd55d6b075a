"""A local server that speaks every platform's HTTP API, backed by seeded data, recording every write.

Connectors talk to it exactly as to the real platforms; only base URLs and credentials differ.
"""

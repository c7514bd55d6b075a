"""Outbound clients for every platform policydesk talks to, and the sandbox that emulates them.

This package is the lowest layer: it imports nothing else of policydesk's.
"""

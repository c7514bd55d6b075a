"""The policy studio: web pages where a support team reads, edits, tries, publishes and watches policies.

Mounted under /studio by the web process (studio.web composes it with webhooks.app). Off unless
credentials are configured (studio.auth); `GET /metrics` is protected the same way.
"""

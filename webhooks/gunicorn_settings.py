"""gunicorn settings the web process runs with (`--config python:webhooks.gunicorn_settings`).

The access log names the path but never the query string: a helpdesk may authenticate with a secret in
the URL (Salesforce's `?token=`, Freshdesk's URL token), and a secret must never reach a log.
"""

access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s'

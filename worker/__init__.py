"""Celery app and tasks: conversation state, locks, the action ledger, and what happens per ticket."""

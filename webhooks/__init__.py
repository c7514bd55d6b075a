"""Webhook receivers: verify the sender, parse into TicketEvents, drop duplicates, enqueue, answer."""

"""The per-ticket lock on a real Redis: one event at a time per ticket, and a lock left behind by a run
that could not release it (it died, or Redis froze under it) is taken back by the same delivery attempt
at once, while every other event still waits."""

from __future__ import annotations

import pytest

from worker.locks import TicketLockBusy, ticket_lock


def leave_lock_behind(client, owner: str) -> None:
    """A run that took the lock and never released it (what a dead worker or a frozen Redis leaves)."""
    client.set("pd:lock:kustomer:42", owner, px=300_000)


def test_the_same_attempt_delivered_again_takes_back_its_own_lock(redis_client):
    leave_lock_behind(redis_client, "task-1:0")
    with ticket_lock(redis_client, "kustomer:42", owner="task-1:0", hold=300, wait=0):
        assert redis_client.get("pd:lock:kustomer:42") == "task-1:0"
        assert redis_client.pttl("pd:lock:kustomer:42") > 290_000
    assert redis_client.get("pd:lock:kustomer:42") is None


def test_another_event_or_a_retry_still_waits_for_a_lock_left_behind(redis_client):
    leave_lock_behind(redis_client, "task-1:0")
    for other in ("task-2:0", "task-1:1", None):
        with (
            pytest.raises(TicketLockBusy),
            ticket_lock(redis_client, "kustomer:42", owner=other, hold=300, wait=0.2),
        ):
            pass
    assert redis_client.get("pd:lock:kustomer:42") == "task-1:0"


def test_two_events_of_one_ticket_never_hold_the_lock_together(redis_client):
    with ticket_lock(redis_client, "kustomer:42", owner="task-1:0", hold=300, wait=0):
        second = ticket_lock(redis_client, "kustomer:42", owner="task-2:0", hold=300, wait=0.2)
        with pytest.raises(TicketLockBusy), second:
            pass
    with ticket_lock(redis_client, "kustomer:42", owner="task-2:0", hold=300, wait=0):
        assert redis_client.get("pd:lock:kustomer:42") == "task-2:0"

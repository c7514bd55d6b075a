"""How long a failed event waits before its next attempt, and how long Redis holds a task for it."""

from __future__ import annotations

from worker.settings import load_settings
from worker.tasks import retry_delay


def test_a_platform_wait_hint_is_honoured_as_given_beyond_our_own_backoff_cap():
    """Salesforce's daily API limit gives no hint, so its client asks for 900 s; our backoff cap is 600."""
    settings = load_settings({"POLICYDESK_RETRY_BACKOFF_MAX": "600"})
    assert retry_delay(0, 900.0, settings) == 900.0
    assert retry_delay(0, 40.0, settings) == 40.0
    assert retry_delay(0, 10_000.0, settings) == settings.max_wait_hint == 3600
    assert 1 <= retry_delay(8, None, settings) <= 600


def test_redis_holds_a_delayed_task_longer_than_the_longest_wait_it_may_be_given():
    """An ETA task sits unacknowledged in Redis until it runs: a visibility timeout shorter than the
    wait would hand it to a second worker."""
    settings = load_settings({"POLICYDESK_MAX_WAIT_HINT": "7200", "POLICYDESK_TASK_TIME_LIMIT": "300"})
    assert settings.visibility_timeout > settings.max_wait_hint + settings.task_time_limit

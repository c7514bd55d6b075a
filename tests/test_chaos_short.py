"""The chaos run's short form (bench/chaos.py --short): six tickets on the three helpdesks while the
worker is killed, Redis is killed and frozen, the platforms answer 503 and 429, and forged and
duplicate deliveries arrive. Nothing may be lost, answered twice, left stuck or accepted forged."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.crash

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import chaos  # noqa: E402


def test_the_short_chaos_run_loses_nothing_and_does_nothing_twice():
    result = chaos.run(chaos.SHORT)
    assert len(result["faults"]) == 4, result  # every fault was applied
    assert result["lost"] == result["duplicated"] == result["stuck"] == 0, result
    assert result["5xx (500)"] == 0, result
    assert result["forged accepted"].startswith("0/"), result

"""Periods: the period option and its day-aligned windows."""

from __future__ import annotations

from datetime import datetime

import pytest

from etbot.errors import BadOption
from etbot.periods import PERIODS, Period, parse_period


def test_parse_period_is_day_aligned_and_rejects_unknown_values() -> None:
    now = datetime(2025, 3, 10, 18, 30)
    assert parse_period(None, now) == Period(None, None, "All time")
    week = parse_period("7d", now)
    assert week.start == datetime(2025, 3, 4)
    assert week.end is None
    assert week.day_aligned
    assert parse_period("30d", now).start == datetime(2025, 2, 9)
    for key in PERIODS:
        assert parse_period(key, now).label == PERIODS[key]
    with pytest.raises(BadOption):
        parse_period("fortnight", now)

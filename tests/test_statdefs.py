"""Stat definitions: one SQL definition per stat, the same from PlayerDay and PlayerRound."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from etbot.errors import BadOption, UserError
from etbot.leaderboard import leaderboard
from etbot.periods import Period, parse_period
from etbot.statdefs import STATS, player_values
from etbot.summary import player_summary
from etbot.trend import trend
from raw_truth import ALL, now_of_db


def test_unknown_stat_is_a_friendly_error(full: object) -> None:
    with pytest.raises(BadOption, match="kd"):
        leaderboard("elo", ALL)
    with pytest.raises(UserError):
        trend(1, "nope", 30)


def test_day_aggregates_and_raw_rows_agree(full: object) -> None:
    """PlayerDay (day-aligned periods) and PlayerRound (any period) give the same values."""
    not_aligned = Period(datetime(2000, 1, 1, 0, 0, 1), None, "custom")
    assert not not_aligned.day_aligned
    keys = list(STATS)
    a = player_values(keys, ALL)
    b = player_values(keys, not_aligned)
    assert a.keys() == b.keys()
    for pid in a:
        for k in [*keys, "rounds"]:
            assert a[pid][k] == pytest.approx(b[pid][k]), (pid, k)
    for pid in a:
        aligned = player_summary(pid, ALL)
        raw_rows = player_summary(pid, not_aligned)
        assert aligned == dataclasses.replace(raw_rows, period=aligned.period)
    now = now_of_db()
    month = parse_period("30d", now)
    assert month.start is not None
    shifted = Period(month.start + timedelta(microseconds=1), None, "custom")
    # No round ends exactly at midnight in the corpus, so the shift changes nothing.
    assert player_values(keys, month).keys() == player_values(keys, shifted).keys()

"""Activity heatmaps on the real corpus (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from peewee import Database

from etbot.activity import activity
from etbot.leaderboard import leaderboard
from etbot.models import Round
from etbot.statsfile import ParsedRound
from raw_truth import ALL, guid_ids, now_of_db, raw_sums


def test_activity_heatmap_matches_file_times(r1: Database, raw_round1: list[ParsedRound]) -> None:
    now = now_of_db()
    grid = activity(None, 520, now=now)
    assert len(grid) == 7
    assert all(len(row) == 24 for row in grid)
    expected = Counter((r.ended_at.weekday(), r.ended_at.hour) for r in raw_round1)
    assert {(d, h): n for d in range(7) for h in range(24) if (n := grid[d][h])} == expected
    guid, raw = max(raw_sums(raw_round1).items(), key=lambda kv: kv[1].rounds)
    pid = guid_ids()[guid]
    mine = activity(pid, 520, now=now)
    assert sum(map(sum, mine)) == raw.rounds
    four_weeks = activity(None, 4, now=now)
    recent = [r for r in raw_round1 if now - timedelta(weeks=4) < r.ended_at <= now]
    assert sum(map(sum, four_weeks)) == len(recent) < len(raw_round1)


def test_activity_totals_equal_round_counts(full: object) -> None:
    grid = activity(None, 520)
    assert sum(map(sum, grid)) == Round.select().where(Round.orphan == False).count()  # noqa: E712
    for row in leaderboard("rounds", ALL, min_rounds=1, limit=100).rows:
        assert sum(map(sum, activity(row.player_id, 520))) == row.value

"""Recent sessions and the weekly pattern (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from peewee import Database

from etbot.errors import BadOption
from etbot.ingest import Importer
from etbot.models import Player, PlayerRound, Round
from etbot.sessions import recent_sessions, weekly_pattern
from etbot.stopwatch import session_matches
from raw_truth import weekly_history


def test_recent_sessions(full: object) -> None:
    sessions = recent_sessions(3)
    assert len(sessions) == 3
    assert sessions[0].started_at > sessions[1].started_at > sessions[2].started_at
    for s in sessions:
        rounds = list(Round.select().where(Round.session == s.session_id).order_by(Round.ended_at))
        assert s.round_count == len(rounds)
        assert s.ended_at == rounds[-1].ended_at
        assert s.started_at < rounds[0].ended_at
        maps = [r.map for i, r in enumerate(rounds) if i == 0 or rounds[i - 1].map != r.map]
        assert s.maps == maps
        kills: Counter[int] = Counter()
        for row in PlayerRound.select().where(
            PlayerRound.round.in_([r.id for r in rounds])
            & (PlayerRound.orphan == False)  # noqa: E712
            & (PlayerRound.team != 3)
        ):
            kills[row.player_id] += row.kills
        assert s.player_count == len(kills)
        assert s.top_fragger_kills == max(kills.values())
        assert s.top_fragger in {
            Player.get_by_id(p).name for p, k in kills.items() if k == s.top_fragger_kills
        }


def test_weekly_pattern_predicts_the_next_session(db: Database, tmp_path: Path) -> None:
    # Twelve weeks: Tuesdays around 20:30 and Thursdays around 21:00 (one Thursday
    # missed), Wednesdays in 7 weeks, plus a one-off Saturday afternoon.
    monday = datetime(2025, 1, 6)
    starts = []
    for week in range(12):
        base = monday + timedelta(weeks=week)
        starts.append(base + timedelta(days=1, hours=20, minutes=25 + week % 3 * 5))
        if week != 5:
            starts.append(base + timedelta(days=3, hours=21, minutes=week % 2 * 10))
        if week % 2 == 0 or week == 11:  # Wednesdays in 7 of 12 weeks: under 2/3
            starts.append(base + timedelta(days=2, hours=19))
    starts.append(monday + timedelta(weeks=4, days=5, hours=15))
    folder = weekly_history(tmp_path, starts)
    report = Importer().import_paths([folder])
    assert report.imported == len(starts), report.rejected
    now = monday + timedelta(weeks=12, hours=12)  # a Monday noon, server time
    pattern = weekly_pattern("Europe/Berlin", now)
    assert [(s.weekday, s.hour) for s in pattern.slots] == [(1, 20), (3, 21)]
    assert pattern.sessions == len(starts)
    tuesday = sorted(s for s in starts if s.weekday() == 1)
    minutes = sorted(s.hour * 60 + s.minute for s in tuesday)[(len(tuesday) - 1) // 2]
    assert pattern.slots[0].minute == minutes % 60 - minutes % 15
    next_tuesday = now.date() + timedelta(days=1)
    expected_local = datetime(2025, 1, 1, 20, pattern.slots[0].minute).replace(
        year=next_tuesday.year, month=next_tuesday.month, day=next_tuesday.day
    )
    assert pattern.next_session is not None
    assert pattern.next_session.utcoffset() == timedelta(0)  # an aware UTC datetime
    berlin = pattern.next_session.astimezone(ZoneInfo("Europe/Berlin"))
    assert berlin.replace(tzinfo=None) == expected_local
    # Aware "now" works too, and right after Tuesday's slot the next one is Thursday.
    aware = datetime(2025, 3, 25, 21, 0, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
    later = weekly_pattern("Europe/Berlin", aware)
    assert later.next_session == datetime(2025, 3, 27, 21, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def test_weekly_pattern_none_without_a_regular_day(db: Database, tmp_path: Path) -> None:
    # One session a week, on a different weekday each week: no weekday repeats enough.
    monday = datetime(2025, 1, 6)
    starts = [monday + timedelta(weeks=w, days=w % 7, hours=20) for w in range(12)]
    folder = weekly_history(tmp_path, starts)
    Importer().import_paths([folder])
    pattern = weekly_pattern("UTC", monday + timedelta(weeks=12))
    assert pattern.slots == []
    assert pattern.next_session is None
    assert pattern.sessions == len(starts)
    with pytest.raises(BadOption):
        weekly_pattern("Mars/Olympus", monday)


def test_recent_sessions_carry_their_score(full: object) -> None:
    for s in recent_sessions(5):
        matches = session_matches(s.session_id)
        assert [(m.team_a.name, m.wins_a, m.team_b.name, m.wins_b, m.draws) for m in s.matches] == [
            (m.team_a.name, m.wins_a, m.team_b.name, m.wins_b, m.draws) for m in matches
        ]

"""Leaderboards on the real corpus (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter

import pytest
from peewee import Database, fn

from etbot.leaderboard import leaderboard
from etbot.models import PlayerRound
from etbot.statdefs import STATS
from etbot.statsfile import ParsedRound
from raw_truth import ALL, guid_ids, raw_sums


def test_leaderboard_order_and_min_rounds_threshold(
    r1: Database, raw_round1: list[ParsedRound]
) -> None:
    raw = raw_sums(raw_round1)
    ids = guid_ids()
    min_rounds = 20
    eligible = {g: s for g, s in raw.items() if s.rounds >= min_rounds}
    assert 3 <= len(eligible) < len(raw), "threshold must exclude someone"
    expected = sorted(eligible, key=lambda g: -eligible[g].kd)
    page = leaderboard("kd", ALL, min_rounds=min_rounds, limit=100)
    assert page.total == len(eligible)
    assert [r.player_id for r in page.rows] == [ids[g] for g in expected]
    for row, guid in zip(page.rows, expected, strict=True):
        assert row.value == pytest.approx(eligible[guid].kd)
        assert row.rounds == eligible[guid].rounds
    # Lower is better for deaths.
    deaths = leaderboard("deaths", ALL, min_rounds=min_rounds, limit=100)
    assert [r.value for r in deaths.rows] == sorted(r.value for r in deaths.rows)


@pytest.mark.parametrize("stat", sorted(STATS))
def test_leaderboard_ranks_pages_and_ties(full: object, stat: str) -> None:
    everything = leaderboard(stat, ALL, min_rounds=1, limit=100)
    assert everything.total == len(everything.rows) > 10
    better = STATS[stat].higher_is_better
    values = [r.value for r in everything.rows]
    assert values == sorted(values, reverse=better)
    for row in everything.rows:
        strictly_better = sum(1 for v in values if (v > row.value if better else v < row.value))
        assert row.rank == strictly_better + 1
    pages = [leaderboard(stat, ALL, min_rounds=1, limit=7, offset=o) for o in range(0, 70, 7)]
    assert [r for p in pages for r in p.rows] == everything.rows
    again = leaderboard(stat, ALL, min_rounds=1, limit=100)
    assert again == everything


def test_leaderboard_ties_share_a_rank(full: object) -> None:
    board = leaderboard("rounds", ALL, min_rounds=1, limit=100)
    counts = Counter(r.value for r in board.rows)
    tied = [v for v, n in counts.items() if n > 1]
    assert tied, "several players with the same number of rounds exist in the corpus"
    for value in tied:
        rows = [r for r in board.rows if r.value == value]
        assert len({r.rank for r in rows}) == 1
        assert [r.player_id for r in rows] == sorted(r.player_id for r in rows)


def test_total_kills_leave_out_orphans(full: object) -> None:
    board = leaderboard("kills", ALL, min_rounds=1, limit=100)
    expected = (
        PlayerRound.select(fn.SUM(PlayerRound.kills))
        .where((PlayerRound.orphan == False) & (PlayerRound.team != 3))  # noqa: E712
        .scalar()
    )
    orphan_kills = (
        PlayerRound.select(fn.SUM(PlayerRound.kills))
        .where(PlayerRound.orphan == True)  # noqa: E712
        .scalar()
    )
    assert orphan_kills > 0
    assert sum(r.value for r in board.rows) == expected

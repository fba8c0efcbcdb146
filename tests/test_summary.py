"""Player summaries (the /stats card) on the real corpus (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from peewee import Database

from etbot.errors import NoData, UnknownPlayer
from etbot.leaderboard import leaderboard
from etbot.models import Alias, MapResult, PlayerRound
from etbot.periods import parse_period
from etbot.statdefs import COMMUNITY_MIN_ROUNDS, player_values
from etbot.statsfile import ParsedRound
from etbot.summary import player_summary
from raw_truth import ALL, guid_ids, now_of_db, raw_sums


def test_summary_matches_raw_round1_files(r1: Database, raw_round1: list[ParsedRound]) -> None:
    raw = raw_sums(raw_round1)
    ids = guid_ids()
    assert set(raw) <= set(ids)
    for guid, expected in raw.items():
        got = player_summary(ids[guid], ALL)
        assert got.guid == guid
        assert got.rounds == expected.rounds
        assert (got.kills, got.deaths) == (expected.kills, expected.deaths)
        assert got.kd == pytest.approx(expected.kd)
        assert got.dpm == pytest.approx(expected.dpm)
        assert got.time_played_s == expected.time_s
        assert got.revives == expected.revives
        assert got.objectives == expected.objectives
        if expected.shots:
            assert got.accuracy == pytest.approx(expected.hits * 100 / expected.shots)
        if expected.hits:
            assert got.headshot_pct == pytest.approx(expected.headshots * 100 / expected.hits)
        best_weapon = max(expected.weapon_kills.items(), key=lambda kv: (kv[1], -len(kv[0])))
        if best_weapon[1]:
            assert got.favourite_weapon_kills == best_weapon[1]
            assert expected.weapon_kills[got.favourite_weapon or ""] == best_weapon[1]
        eligible = {m: v for m, v in expected.maps.items() if v[0] >= 3 and v[2]}
        if eligible:
            best = max(v[1] * 60 / v[2] for v in eligible.values())
            assert got.best_map in eligible
            assert got.best_map_dpm == pytest.approx(best)
        else:
            assert got.best_map is None


def test_summary_of_a_recent_period_counts_only_its_rounds(
    r1: Database, raw_round1: list[ParsedRound]
) -> None:
    now = now_of_db()
    period = parse_period("90d", now)
    assert period.start is not None
    raw = raw_sums(raw_round1, since=period.start)
    everything = raw_sums(raw_round1)
    ids = guid_ids()
    checked = 0
    for guid, expected in raw.items():
        got = player_summary(ids[guid], period)
        assert got.rounds == expected.rounds
        assert got.kills == expected.kills
        checked += got.rounds != everything[guid].rounds
    assert checked, "the period should cut off some rounds of someone"
    gone = [g for g in everything if g not in raw]
    assert gone, "some player should have no rounds in the last 90 days"
    with pytest.raises(NoData):
        player_summary(ids[gone[0]], period)


def test_summary_excludes_orphan_rounds_and_spectators(full: object) -> None:
    counted = (PlayerRound.orphan == False) & (PlayerRound.team != 3)  # noqa: E712
    special = (PlayerRound.orphan == True) | (PlayerRound.team == 3)  # noqa: E712
    players = {pid for (pid,) in PlayerRound.select(PlayerRound.player).where(special).tuples()}
    assert players, "the corpus has orphans and spectators"
    differs = 0
    for pid in players:
        rows = list(PlayerRound.select().where((PlayerRound.player == pid) & counted))
        everything = list(PlayerRound.select().where(PlayerRound.player == pid))
        if not rows:  # only orphan or spectator rows: nothing to show
            with pytest.raises(NoData):
                player_summary(pid, ALL)
            differs += 1
            continue
        summary = player_summary(pid, ALL)
        assert summary.rounds == len(rows)
        assert summary.kills == sum(r.kills for r in rows)
        assert summary.deaths == sum(r.deaths for r in rows)
        differs += summary.kills != sum(r.kills for r in everything)
    assert differs, "orphan rows carry kills, so leaving them out must change a total"


def test_summary_rank_aliases_and_map_results(full: object) -> None:
    board = leaderboard("dpm", ALL, min_rounds=COMMUNITY_MIN_ROUNDS, limit=100)
    ranked = {row.player_id: row.rank for row in board.rows}
    active = player_values(["kd"], ALL)
    for pid in active:
        summary = player_summary(pid, ALL)
        assert summary.rank == ranked.get(pid)
        assert summary.community_size == board.total
        aliases = list(
            Alias.select().where(Alias.player == pid).order_by(Alias.rounds.desc(), Alias.name)
        )
        assert summary.aliases == [a.name for a in aliases[:5]]
        # Maps won/lost: the player's round 2 team against the map winner (draws excluded).
        won = lost = 0
        for result in MapResult.select().where(MapResult.winner_team.is_null(False)):
            row = PlayerRound.get_or_none(
                (PlayerRound.round == result.round2_id) & (PlayerRound.player == pid)
            )
            if row is None or row.team not in (1, 2):
                continue
            if row.team == result.winner_team:
                won += 1
            else:
                lost += 1
        assert (summary.maps_won, summary.maps_lost) == (won, lost)
    assert any(player_summary(pid, ALL).rank is None for pid in active)


def test_unknown_player_id(full: object) -> None:
    with pytest.raises(UnknownPlayer):
        player_summary(10_000_000, ALL)

"""Matchups, duos and rivals on the real corpus, checked against the raw round rows."""

from __future__ import annotations

import itertools

import pytest

from etbot import matchups, rating
from etbot.errors import BadOption
from etbot.matchups import Record
from etbot.models import MapResult, PlayerRound
from rating_helpers import rolled_back, unrated_player


@pytest.fixture
def rated(corpus):
    rating.apply_map_results()
    return corpus


def round1_teams() -> dict[int, dict[int, int]]:
    """{map result: {player: round 1 colour}} from the raw rows."""
    out: dict[int, dict[int, int]] = {}
    for result in MapResult.select():
        out[result.id] = {
            pr.player_id: pr.team
            for pr in PlayerRound.select().where(
                (PlayerRound.round == result.round1_id) & (PlayerRound.team != 3)
            )
        }
    return out


def test_record_win_rate_ignores_draws() -> None:
    rec = Record().add(1.0).add(1.0).add(0.0).add(0.5)
    assert (rec.maps, rec.wins, rec.losses, rec.draws) == (4, 2, 1, 1)
    assert rec.win_rate == pytest.approx(2 / 3)
    assert Record().add(0.5).win_rate is None


def test_matchup_counts_match_the_round1_teams(rated) -> None:
    top = [r.player_id for r in rating.ranking()]
    teams = round1_teams()
    for a, b in itertools.combinations(
        sorted(top, key=lambda p: -sum(p in t for t in teams.values()))[:4], 2
    ):
        m = matchups.matchup(a, b)
        both = [t for t in teams.values() if a in t and b in t]
        assert m.together.maps == sum(1 for t in both if t[a] == t[b])
        assert m.opposed.maps == sum(1 for t in both if t[a] != t[b])
        maps_a = rating.rating_summary(a).maps
        assert m.together.maps + m.opposed.maps + m.a_without_b.maps == maps_a
        # Seen from B: the same maps together; A's wins against B are B's losses.
        r = matchups.matchup(b, a)
        assert r.together == m.together
        assert (r.opposed.wins, r.opposed.losses, r.opposed.draws) == (
            m.opposed.losses,
            m.opposed.wins,
            m.opposed.draws,
        )
        assert r.a_without_b == m.b_without_a


def test_duos_and_rivals(rated) -> None:
    player = rating.ranking()[0].player_id
    duos = matchups.duos(player, min_maps=5)
    assert duos
    assert all(d.record.maps >= 5 for d in duos)
    rates = [rate for d in duos if (rate := d.record.win_rate) is not None]
    assert len(rates) == len(duos)  # a duo has decided maps, so a win rate
    assert rates == sorted(rates, reverse=True)
    for d in duos[:3]:
        assert matchups.matchup(player, d.player_id).together == d.record
    assert len(matchups.duos(player, min_maps=10_000)) == 0

    rivals = matchups.rivals(player, limit=5)
    assert 0 < len(rivals) <= 5
    faced = [r.record.maps for r in rivals]
    assert faced == sorted(faced, reverse=True)
    for r in rivals:
        assert matchups.matchup(player, r.player_id).opposed == r.record
        assert r.name
        assert r.guid


def test_same_player_or_unrated_players_are_user_errors(rated) -> None:
    top = rating.ranking()[0].player_id
    with pytest.raises(BadOption, match="two different players"):
        matchups.matchup(top, top)
    with rolled_back():
        newcomer = unrated_player()
        for call in (
            lambda: matchups.matchup(top, newcomer.id),
            lambda: matchups.matchup(newcomer.id, top),
            lambda: matchups.duos(newcomer.id),
            lambda: matchups.rivals(newcomer.id),
        ):
            with pytest.raises(rating.NoRating) as error:
                call()
            assert error.value.fields == {"player": newcomer.name}

"""Team balance: the fairest split is exact (brute-force property test), every split is
ranked for "next best", and the database entry points."""

from __future__ import annotations

import itertools
import math
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etbot import balance, rating
from etbot.errors import Typed
from etbot.models import PlayerRound, Round
from etbot.rating import RatingModel, SkillState, team_win_probability
from rating_helpers import rolled_back, unrated_player

T0 = datetime(2025, 1, 1, 20, 0, 0)

player_states = st.lists(
    st.tuples(
        st.floats(-2.5, 2.5, allow_nan=False),  # mu
        st.floats(0.05, 1.0, allow_nan=False),  # sigma
        st.booleans(),  # rated at all?
    ),
    min_size=2,
    max_size=9,
)


@given(player_states, st.floats(-1.0, 1.0, allow_nan=False), st.sampled_from([None, "supply"]))
@settings(max_examples=120, deadline=None)
def test_fairest_split_is_never_worse_than_any_other(states, side, map_name) -> None:
    model = RatingModel()
    guids = [f"P{i:02d}" for i in range(len(states))]
    for guid, (mu, sigma, rated) in zip(guids, states, strict=True):
        if rated:
            model.players[guid] = SkillState(mu, sigma, 5, T0)
    model.factors[rating.SIDE] = SkillState(side, 0.2, 10)

    ranked = balance.ranked_splits(guids, model, map_name, T0)

    # Brute force over every assignment of every player to one of two teams.
    best = math.inf
    expected = set()
    for mask in range(2 ** len(guids)):
        a = [g for i, g in enumerate(guids) if mask >> i & 1]
        b = [g for i, g in enumerate(guids) if not mask >> i & 1]
        if abs(len(a) - len(b)) > 1:
            continue
        p = team_win_probability(model, a, b, map_name, T0)
        best = min(best, abs(p - 0.5))
        expected.add(frozenset((frozenset(a), frozenset(b))))

    assert ranked[0].unfairness <= best + 1e-12
    # Every split exactly once, fairest first, sizes within one.
    assert len(ranked) == len(expected)
    assert {frozenset((frozenset(s.team_a), frozenset(s.team_b))) for s in ranked} == expected
    assert all(x.unfairness <= y.unfairness for x, y in itertools.pairwise(ranked))
    for s in ranked:
        assert abs(len(s.team_a) - len(s.team_b)) <= 1
        assert sorted(s.team_a + s.team_b) == guids


def test_twelve_players_are_searched_exhaustively() -> None:
    guids = [f"G{i:02d}" for i in range(12)]
    model = RatingModel()
    for i, g in enumerate(guids):
        model.players[g] = SkillState((i - 6) / 4, 0.3, 20, T0)
    ranked = balance.ranked_splits(guids, model)
    assert len(ranked) == math.comb(12, 6) // 2 == 462
    best = ranked[0]
    # Skills -1.5, -1.25 … 1.25 can be split into two teams with the same total: the
    # fairest split is one of those, a coin flip.
    assert best.p_team_a == pytest.approx(0.5)
    skill = {g: model.players[g].mu for g in guids}
    assert sum(skill[g] for g in best.team_a) == pytest.approx(sum(skill[g] for g in best.team_b))
    # The least fair split stacks the six best players together.
    assert set(ranked[-1].team_b) == set(guids[6:]) or set(ranked[-1].team_a) == set(guids[6:])


@pytest.mark.parametrize(
    ("players", "message"),
    [
        (["A1"], "between 2 and 12"),
        ([f"A{i:02d}" for i in range(13)], "between 2 and 12"),
        (["A1", "B2", "a1"], "same player twice: “A1”"),
        (["A1", "B 2"], "Not a player GUID"),
    ],
)
def test_bad_player_lists_are_user_errors(players: list[str], message: str) -> None:
    with pytest.raises(rating.RatingInputError, match=message):
        balance.ranked_splits(players, RatingModel())


# --------------------------------------------------------------------------- database


@pytest.fixture
def rated(corpus):
    rating.apply_map_results()
    return corpus


def test_balance_from_the_database(rated) -> None:
    guids = [r.guid for r in rating.ranking()[:8]]
    result = balance.balance(guids)
    assert len(result.splits) == math.comb(8, 4) // 2
    assert result.unrated == ()
    best = result.splits[0]
    # The fairest split is fairer than stacking the four best players together.
    stacked = rating.win_probability(guids[:4], guids[4:]).p_team_a
    assert best.unfairness < abs(stacked - 0.5)
    assert best.p_team_a == pytest.approx(rating.win_probability(best.team_a, best.team_b).p_team_a)


def test_balance_refuses_unrated_players_unless_allowed(rated) -> None:
    rated_guids = [r.guid for r in rating.ranking()[:3]]
    with rolled_back():
        unrated = unrated_player()
        with pytest.raises(rating.NoRating) as refused:
            balance.balance([*rated_guids, unrated.guid, "NEWGUY01"])
        result = balance.balance([*rated_guids, unrated.guid, "NEWGUY01"], allow_unrated=True)
    # Named from the data (escaped by the error path); an unknown GUID is what was typed.
    shown = refused.value.fields["players"]
    assert shown == [unrated.name, Typed("NEWGUY01")]
    assert isinstance(shown, list)
    assert isinstance(shown[1], Typed)
    assert not isinstance(shown[0], Typed)
    assert set(result.unrated) == {unrated.guid, "NEWGUY01"}


def test_players_from_the_last_round_and_session(rated) -> None:
    last = Round.select().order_by(Round.ended_at.desc()).first()
    in_round = {
        pr.player.guid
        for pr in PlayerRound.select().where(
            (PlayerRound.round == last.id) & (PlayerRound.team != 3)
        )
    }
    assert set(balance.players_from_last("round")) == in_round
    session_players = balance.players_from_last("session")
    assert in_round <= set(session_players)
    assert session_players == sorted(set(session_players))

"""Skill ratings: the pure model, and its storage replayed on the real corpus
(incremental == rebuild, any import order, late files, deleted results, draws,
substitutes), plus the player views the /rating command shows."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import corpus_files, import_files, make_database
from etbot import rating
from etbot.db import as_datetime
from etbot.errors import Typed
from etbot.ingest import Importer
from etbot.models import (
    MapResult,
    Player,
    PlayerRating,
    PlayerRound,
    RatingFactor,
    RatingGame,
    RatingHistory,
    database_proxy,
)
from etbot.rating import DEFAULT_PARAMS, Game, RatingModel, SkillState
from rating_helpers import rolled_back, unrated_player

T0 = datetime(2025, 1, 1, 20, 0, 0)


def game(
    attack: list[str],
    defence: list[str],
    won: bool | None,
    *,
    minutes: int = 0,
    map_name: str = "supply",
    weights: dict[str, float] | None = None,
) -> Game:
    w = weights or {}
    return Game(
        None,
        T0 + timedelta(minutes=minutes),
        minutes,
        map_name,
        won,
        tuple((g, w.get(g, 1.0)) for g in sorted(attack)),
        tuple((g, w.get(g, 1.0)) for g in sorted(defence)),
    )


# --------------------------------------------------------------------------- pure model


def test_a_win_raises_the_winners_and_lowers_the_losers_and_shrinks_uncertainty() -> None:
    model = RatingModel()
    update = model.learn(game(["A", "B"], ["C", "D"], True))
    assert update.p_first_attack == pytest.approx(0.5)  # nothing known yet: a coin
    for g in ("A", "B"):
        assert model.players[g].mu > 0
    for g in ("C", "D"):
        assert model.players[g].mu < 0
    for g in "ABCD":
        assert model.players[g].sigma < DEFAULT_PARAMS.player_sd
        assert model.players[g].maps == 1
    # The winners now start as favourites.
    assert model.predict({"A": 1, "B": 1}, {"C": 1, "D": 1}, "supply").p_first_attack > 0.5


def test_swapping_the_line_ups_mirrors_the_probability_without_a_side_effect() -> None:
    model = RatingModel(replace(DEFAULT_PARAMS, side_sd=0.0, map_sd=0.0))
    model.learn(game(["A", "B"], ["C", "D"], True))
    model.learn(game(["A", "C"], ["B", "D"], False, minutes=30))
    p = model.predict({"B": 1, "D": 1}, {"A": 1, "C": 1}).p_first_attack
    q = model.predict({"A": 1, "C": 1}, {"B": 1, "D": 1}).p_first_attack
    assert p == pytest.approx(1 - q)
    assert p != pytest.approx(0.5)


def test_the_side_effect_is_learned_from_the_results() -> None:
    model = RatingModel()
    # Many maps between unknown players where the chasers (first defence) win 3 of 4.
    for i in range(80):
        model.learn(game([f"a{i}"], [f"d{i}"], i % 4 == 0, minutes=i))
    p = model.predict({"x": 1}, {"y": 1}).p_first_attack
    assert 0.2 < p < 0.4


def test_few_maps_stay_closer_to_average_than_many() -> None:
    model = RatingModel()
    model.learn(game(["ONE"], ["X0"], True))
    for i in range(10):
        model.learn(game(["TEN"], [f"Y{i}"], True, minutes=i + 1))
    one, ten = model.players["ONE"], model.players["TEN"]
    assert 0 < one.mu < ten.mu
    assert one.sigma > ten.sigma


def test_uncertainty_pulls_the_prediction_toward_a_coin() -> None:
    sure = RatingModel()
    unsure = RatingModel()
    for model, sigma in ((sure, 0.1), (unsure, 0.9)):
        model.players["A"] = SkillState(1.0, sigma, 10, T0)
        model.players["B"] = SkillState(-1.0, sigma, 10, T0)
    p_sure = sure.predict({"A": 1}, {"B": 1}, at=T0).p_first_attack
    p_unsure = unsure.predict({"A": 1}, {"B": 1}, at=T0).p_first_attack
    assert 0.5 < p_unsure < p_sure


def test_absence_grows_uncertainty_back_to_the_prior_and_no_further() -> None:
    model = RatingModel()
    model.players["A"] = SkillState(0.5, 0.3, 50, T0)
    var_now = model._player_belief("A", T0)[1]
    var_month = model._player_belief("A", T0 + timedelta(days=30))[1]
    var_years = model._player_belief("A", T0 + timedelta(days=3000))[1]
    assert var_now == pytest.approx(0.09)
    assert var_now < var_month < var_years == DEFAULT_PARAMS.player_sd**2


def test_draw_counts_as_half_a_win_or_is_skipped() -> None:
    model = RatingModel()
    model.players["STRONG"] = SkillState(1.0, 0.5, 20, T0)
    model.players["WEAK"] = SkillState(-1.0, 0.5, 20, T0)
    update = model.learn(game(["STRONG"], ["WEAK"], None, minutes=10))
    assert update.score == 0.5
    # The favourite only drew: it loses points, the underdog gains.
    assert model.players["STRONG"].mu < 1.0
    assert model.players["WEAK"].mu > -1.0
    assert {c.score for c in update.changes} == {0.5}

    skipping = RatingModel(replace(DEFAULT_PARAMS, draw_score=None))
    skipping.players = {"STRONG": SkillState(1.0, 0.5, 20, T0)}
    update = skipping.learn(game(["STRONG"], ["WEAK"], None, minutes=10))
    assert update.score is None
    assert update.changes == ()
    assert skipping.players == {"STRONG": SkillState(1.0, 0.5, 20, T0)}


def test_prediction_does_not_depend_on_the_order_players_are_listed() -> None:
    model = RatingModel()
    rng = random.Random(3)
    guids = [f"P{i:02d}" for i in range(12)]
    for i in range(30):
        rng.shuffle(guids)
        model.learn(game(guids[:6], guids[6:], rng.random() < 0.5, minutes=i))
    a, b = guids[:6], guids[6:]
    p = model.predict(dict.fromkeys(a, 1.0), dict.fromkeys(b, 1.0), "supply").p_first_attack
    for _ in range(5):
        rng.shuffle(a)
        rng.shuffle(b)
        q = model.predict(dict.fromkeys(a, 1.0), dict.fromkeys(b, 1.0), "supply").p_first_attack
        assert q == p  # bit-identical, not just close


def test_side_weights_put_a_round2_substitute_on_the_side_he_joined() -> None:
    # Round 1: colour 2 attacks (A, B), colour 1 defends (C, D); 300 s.
    round1 = [("A", 2, 300), ("B", 2, 300), ("C", 1, 300), ("D", 1, 300)]
    # Round 2: sides swap colours; E replaces B on A's team (now colour 1), 200 s.
    round2 = [("A", 1, 200), ("E", 1, 200), ("C", 2, 200), ("D", 2, 200), ("S", 3, 200)]
    attack, defence = rating._side_weights(round1, round2, 2, 1)
    assert dict(attack) == {"A": 1.0, "B": 0.6, "E": 0.4}
    assert dict(defence) == {"C": 1.0, "D": 1.0}  # the spectator S counts for nobody


# --------------------------------------------------------------------------- storage


def snapshot() -> dict[str, Any]:
    """Every stored rating number, keyed by things that do not depend on import order."""
    players = {
        guid: (mu, sigma, maps, as_datetime(last))
        for guid, mu, sigma, maps, last in PlayerRating.select(
            Player.guid,
            PlayerRating.mu,
            PlayerRating.sigma,
            PlayerRating.maps,
            PlayerRating.last_played,
        )
        .join(Player)
        .tuples()
    }
    factors = {
        r[0]: r[1:]
        for r in RatingFactor.select(
            RatingFactor.name, RatingFactor.mu, RatingFactor.sigma, RatingFactor.maps
        ).tuples()
    }
    games = {}
    for g in RatingGame.select():
        assert g.map_result_id is not None  # no leftover of a deleted result
        games[(as_datetime(g.ended_at), g.tiebreak)] = (
            g.map,
            g.score,
            g.p_first_attack,
            g.players,
            g.side_mu_before,
            g.side_sigma_before,
            g.map_mu_before,
            g.map_sigma_before,
        )
    history = {
        (guid, as_datetime(r[1]), r[2]): (*r[3:-1], as_datetime(r[-1]) if r[-1] else None)
        for guid, *r in RatingHistory.select(
            Player.guid,
            RatingHistory.map_result,
            RatingHistory.ended_at,
            RatingHistory.tiebreak,
            RatingHistory.side,
            RatingHistory.weight,
            RatingHistory.score,
            RatingHistory.mu_before,
            RatingHistory.sigma_before,
            RatingHistory.mu_after,
            RatingHistory.sigma_after,
            RatingHistory.previous_at,
        )
        .join(Player)
        .tuples()
    }
    return {"players": players, "factors": factors, "games": games, "history": history}


def reference_snapshot(tmp_path: Path) -> dict[str, Any]:
    """The whole corpus imported at once and rebuilt, in its own SQLite database."""
    ref = make_database("sqlite", tmp_path / "reference")
    import_files(corpus_files())
    rating.rebuild()
    snap = snapshot()
    ref.close()
    return snap


def chunked_import(files: list[Path], size: int) -> list[rating.ApplyReport]:
    """Import in batches, rating each inside the batch's transaction (as the importer's
    batch hook does), keeping what each update reports."""
    reports = []
    for i in range(0, len(files), size):
        with database_proxy.atomic():
            Importer(hooks=[]).import_paths(files[i : i + size])
            reports.append(rating.apply_map_results())
    return reports


def test_the_importer_keeps_ratings_up_to_date(db) -> None:
    """The production path: every import batch rates its new maps (ingest hook)."""
    files = corpus_files()
    for i in range(0, len(files), 30):
        import_files(files[i : i + 30])
        assert rating.apply_map_results() == rating.ApplyReport(None, 0, 0)  # nothing pending
    incremental = snapshot()
    assert len(incremental["games"]) == MapResult.select().count() > 0
    rating.rebuild()
    assert snapshot() == incremental


def test_chunked_import_with_incremental_updates_equals_rebuild(db) -> None:
    reports = chunked_import(corpus_files(), 20)
    incremental = snapshot()
    assert sum(r.new for r in reports) == MapResult.select().count() == len(incremental["games"])
    assert len(incremental["history"]) > 500
    assert rating.apply_map_results() == rating.ApplyReport(None, 0, 0)  # nothing pending
    rating.rebuild()
    assert snapshot() == incremental


def test_shuffled_import_order_gives_identical_ratings(db, tmp_path: Path) -> None:
    expected = reference_snapshot(tmp_path)
    database_proxy.initialize(db)
    files = corpus_files()
    random.Random(8).shuffle(files)
    reports = chunked_import(files, 25)
    # Late files really happened: some updates replayed maps that were already rated.
    assert any(r.replayed > r.new for r in reports)
    assert snapshot() == expected  # bit-identical, also across SQLite and PostgreSQL


def test_late_file_replays_from_its_point(db) -> None:
    files = sorted(corpus_files(), key=lambda p: p.name)
    # The round 1 of a map in the middle of the history arrives after everything else:
    # its round 2 is an orphan until then, and its map result older than most rated maps.
    late = next(
        r1
        for r1, r2 in itertools.pairwise(files[len(files) // 2 :])
        if r1.name.endswith("round-1.txt")
        and r2.name.endswith("round-2.txt")
        and r1.name.split("-", 4)[4].rsplit("-round", 1)[0]
        == r2.name.split("-", 4)[4].rsplit("-round", 1)[0]
    )
    chunked_import([p for p in files if p != late], 300)
    before = MapResult.select().count()
    with database_proxy.atomic():
        Importer(hooks=[]).import_paths([late])
        report = rating.apply_map_results()
    assert MapResult.select().count() == before + 1
    assert report.new == 1
    assert 20 < report.replayed < MapResult.select().count()  # from that point on
    newest = max(snapshot()["games"])
    assert report.start is not None
    assert report.start < newest
    incremental = snapshot()
    rating.rebuild()
    assert snapshot() == incremental


def test_deleted_map_result_is_replayed_out(db) -> None:
    """The ingest deletes a map result when it re-pairs a round 2: the ratings must
    become those of the remaining results."""
    chunked_import(corpus_files(), 300)
    victim = MapResult.select().order_by(MapResult.ended_at).offset(40).first()
    players_before = snapshot()["players"]
    MapResult.delete().where(MapResult.id == victim.id).execute()
    # The rating rows stay (map_result set to NULL) and mark the replay point.
    assert RatingGame.select().where(RatingGame.map_result.is_null()).count() == 1
    report = rating.apply_map_results()
    assert report.start is not None
    assert report.start[0] == as_datetime(victim.ended_at)
    incremental = snapshot()
    assert len(incremental["games"]) == MapResult.select().count()
    assert incremental["players"] != players_before
    rating.rebuild()
    assert snapshot() == incremental


# --------------------------------------------------------------------------- corpus facts


@pytest.fixture
def rated(corpus):
    """The module's corpus database with its ratings (computed once, then a no-op)."""
    rating.apply_map_results()
    return corpus


def test_every_map_result_is_rated_with_a_prediction_made_before_it(rated) -> None:
    games = list(RatingGame.select())
    assert len(games) == MapResult.select().count() > 50
    assert all(g.p_first_attack is not None and 0 < g.p_first_attack < 1 for g in games)
    # The first map ever was predicted from nothing: the side prior is neutral.
    first = min(games, key=lambda g: (as_datetime(g.ended_at), g.tiebreak))
    assert first.p_first_attack == pytest.approx(0.5)


def belief_sd_at_map(row: RatingHistory) -> float:
    """The sd of a player's skill the map was learned with: the stored sd before the map
    grown by the absence drift since their previous map (README: variance back to the
    prior after ``forget_days``), recomputed here from the documented parameters."""
    prior_var = DEFAULT_PARAMS.player_sd**2
    var = row.sigma_before**2
    if row.previous_at is not None and DEFAULT_PARAMS.forget_days:
        days = (as_datetime(row.ended_at) - as_datetime(row.previous_at)).total_seconds() / 86400
        var = min(prior_var, var + prior_var / DEFAULT_PARAMS.forget_days * days)
    return math.sqrt(var)


def test_draws_are_half_a_win(rated) -> None:
    draws = list(RatingGame.select().where(RatingGame.score == 0.5))
    outcomes = MapResult.select().where(MapResult.outcome == "draw").count()
    assert len(draws) == outcomes > 0
    for g in draws:
        rows = list(RatingHistory.select().where(RatingHistory.map_result == g.map_result_id))
        assert rows
        assert {r.score for r in rows} == {0.5}
        for r in rows:
            # Half a win: a side that was favoured (p > 0.5) loses points, and vice versa.
            p_side = g.p_first_attack if r.side == 1 else 1 - g.p_first_attack
            assert math.copysign(1, r.mu_after - r.mu_before) == math.copysign(1, 0.5 - p_side)
            # A draw is information too: it shrinks the uncertainty the map was judged
            # with. sigma_before is the stored value, before the drift of the player's
            # absence (what a replay restores), so compare with the drifted belief.
            assert r.sigma_after < belief_sd_at_map(r)


def test_history_keeps_the_state_before_the_absence_drift() -> None:
    """What a replay restores is the stored state (drift is a function of the time of the
    next map): after a long absence the uncertainty after a map can exceed the stored
    uncertainty before it, yet is below the drifted belief the map was judged with."""
    model = RatingModel()
    stored = SkillState(0.4, 0.3, 30, T0)
    model.players["BACK"] = stored
    update = model.learn(game(["BACK"], ["OTHER"], None, minutes=200 * 24 * 60))
    [back] = [c for c in update.changes if c.guid == "BACK"]
    assert back.before == stored
    forget_days = model.params.forget_days
    assert forget_days is not None
    drifted = math.sqrt(model.params.player_sd**2 * 200 / forget_days + 0.3**2)
    assert stored.sigma < back.after.sigma < drifted


def test_round2_substitute_counts_for_the_side_he_played(rated) -> None:
    sub = (
        PlayerRound.select()
        .join(MapResult, on=(MapResult.round2 == PlayerRound.round))
        .where(PlayerRound.only_round2 & (PlayerRound.team != 3))
        .get()
    )
    result = MapResult.get(MapResult.round2 == sub.round_id)
    r2 = list(PlayerRound.select().where(PlayerRound.round == sub.round_id))
    r1 = list(PlayerRound.select().where(PlayerRound.round == result.round1_id))
    in_round1 = {r.player_id for r in r1}
    teammates = [r.player_id for r in r2 if r.team == sub.team and r.player_id in in_round1]
    assert teammates
    rows = {
        r.player_id: r for r in RatingHistory.select().where(RatingHistory.map_result == result.id)
    }
    assert sub.player_id in rows
    assert {rows[t].side for t in teammates} == {rows[sub.player_id].side}
    # He counts with the share of the map's time he played.
    longest = max(r.time_played_s for r in r1 if r.team != 3) + max(
        r.time_played_s for r in r2 if r.team != 3
    )
    assert rows[sub.player_id].weight == pytest.approx(sub.time_played_s / longest)
    assert 0 < rows[sub.player_id].weight < 1
    assert PlayerRating.get(PlayerRating.player == sub.player_id).maps >= 1


def test_first_attack_side_follows_the_round1_colours(rated) -> None:
    for result in MapResult.select().limit(30):
        attackers_r1 = 3 - result.round1.defender
        history = {
            r.player_id: r.side
            for r in RatingHistory.select().where(RatingHistory.map_result == result.id)
        }
        for pr in PlayerRound.select().where(
            (PlayerRound.round == result.round1_id) & (PlayerRound.team != 3)
        ):
            if pr.player_id in history:
                assert history[pr.player_id] == (1 if pr.team == attackers_r1 else 2)
        scored = RatingGame.get(RatingGame.map_result == result.id).score
        if result.outcome == "draw":
            assert scored == 0.5
        else:
            # winner_team is in round 2 colours, where the first attackers defend.
            assert scored == (1.0 if result.winner_team == result.round2.defender else 0.0)


# --------------------------------------------------------------------------- player views


def test_rating_summary_history_and_ranking_agree(rated) -> None:
    ranked = rating.ranking()
    # Active: played a rated map in the 90 days before the newest one.
    newest = rating.reference_time()
    assert newest is not None
    last_played = {
        pid: as_datetime(last)
        for pid, last in PlayerRating.select(PlayerRating.player, PlayerRating.last_played).tuples()
    }
    active = {pid for pid, last in last_played.items() if last >= newest - timedelta(days=90)}
    assert {r.player_id for r in ranked} == active
    assert len(ranked) == len(active) > 0
    for pid in sorted(set(last_played) - active)[:3]:  # the others are not ranked
        summary = rating.rating_summary(pid)
        assert summary.rank is None
        assert summary.active_players == len(ranked)
    assert [r.rank for r in ranked] == list(range(1, len(ranked) + 1))
    assert all(a.rating >= b.rating for a, b in itertools.pairwise(ranked))
    for entry in (ranked[0], ranked[len(ranked) // 2], ranked[-1]):
        summary = rating.rating_summary(entry.player_id, sessions=3, top=4)
        history = rating.rating_history(entry.player_id)
        assert summary.rank == entry.rank
        assert summary.rating == entry.rating
        assert summary.maps == len(history) == summary.wins + summary.losses + summary.draws
        assert history[-1].rating == summary.rating
        assert [p.ended_at for p in history] == sorted(p.ended_at for p in history)
        assert summary.last_played == history[-1].ended_at
        assert summary.uncertainty < rating.DISPLAY_SCALE * DEFAULT_PARAMS.player_sd
        assert 1 <= summary.sessions <= 3
        changes = [abs(m.change) for m in summary.top_moves]
        assert changes == sorted(changes, reverse=True)
        assert len(changes) <= 4


def test_rating_change_covers_the_last_sessions(rated) -> None:
    top = rating.ranking()[0]
    history = rating.rating_history(top.player_id)
    everything = rating.rating_summary(top.player_id, sessions=10_000)
    # Over all sessions the change runs from the newcomer's rating to the current one.
    newcomer = rating.display_rating(0.0, DEFAULT_PARAMS.player_sd)
    assert everything.rating_change == history[-1].rating - newcomer
    assert everything.maps == len(history)
    assert rating.rating_summary(top.player_id, sessions=0).top_moves == ()


def test_no_rating_is_a_user_error(rated) -> None:
    with rolled_back():
        unrated = unrated_player()
        with pytest.raises(rating.NoRating) as summary_error:
            rating.rating_summary(unrated.id)
        with pytest.raises(rating.NoRating) as history_error:
            rating.rating_history(unrated.id)
    for error in (summary_error.value, history_error.value):
        assert error.fields == {"player": unrated.name}  # named, and escaped by Discord
        assert str(error).startswith(f"{unrated.name} has no rated maps yet")


def test_predictions_from_the_database(rated) -> None:
    ranked = rating.ranking()
    best, worst = ranked[0].guid, ranked[-1].guid
    fav = rating.predict_map([best], [worst])
    dog = rating.predict_map([worst], [best])
    neutral = rating.predict_map(["NEWGUY01"], ["NEWGUY02"])
    assert dog.p_first_attack_wins < neutral.p_first_attack_wins < fav.p_first_attack_wins
    assert (fav.n_known_players, neutral.n_known_players) == (2, 0)
    # Neutral line-ups show the learned side effect: chasers win more often.
    assert neutral.p_first_attack_wins < 0.5
    on_map = rating.predict_map([best], [worst], "supply")
    assert on_map.map == "supply"
    assert on_map.map_results > 0
    team = rating.win_probability([best], [worst])
    assert team.p_team_a > 0.5
    assert rating.win_probability([worst], [best]).p_team_a == pytest.approx(1 - team.p_team_a)


@pytest.mark.parametrize(
    ("attack", "defence", "message"),
    [
        ([], ["A1"], "first attack side has no players"),
        (["A1"], ["  "], "first defence side has no players"),
        (["A1", "B2"], ["b2"], "On both sides: “B2”"),
        (["A1"], ["not-hex!"], "Not a player GUID"),
    ],
)
def test_bad_line_ups_are_user_errors(attack: list[str], defence: list[str], message: str) -> None:
    with pytest.raises(rating.RatingInputError, match=message):
        rating.predict_map(attack, defence, sync=False)


def test_typed_values_reach_the_error_as_fields() -> None:
    """What the user typed is never part of the message itself: the error path quotes and
    escapes fields (errors.Typed), so markdown or mentions in a typed GUID stay inert."""
    typed = "**@everyone**"
    with pytest.raises(rating.RatingInputError) as bad:
        rating.normalise_guid(typed)
    assert "@everyone" not in bad.value.message
    assert bad.value.fields == {"value": Typed(typed)}
    assert isinstance(bad.value.fields["value"], Typed)
    with pytest.raises(rating.RatingInputError) as both:
        rating.check_lineups(["a1", "B2"], ["A1", "b2"])
    assert "A1" not in both.value.message
    guids = both.value.fields["guids"]
    assert isinstance(guids, list)
    assert guids == ["A1", "B2"]
    assert all(isinstance(g, Typed) for g in guids)

"""The two teams of a session (GUID overlap, substitutes), their names and the score."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

from peewee import fn

from conftest import corpus_info, evening
from etbot.models import GamingSession, MapResult, Player, PlayerRound, Round
from etbot.statdefs import counted
from etbot.statsfile import parse_round
from etbot.stopwatch import (
    FIRST_ATTACK,
    FIRST_DEFENCE,
    TEAM_A,
    TEAM_B,
    Lineup,
    identify_matches,
    load_lineups,
    score_plan,
    session_matches,
    session_scores,
)

T0 = datetime(2025, 10, 14, 21, 0)


def lineup(
    n: int,
    attack: set[int],
    defence: set[int],
    winner: int | None = FIRST_ATTACK,
    *,
    outcome: str | None = None,
    opening: tuple[set[int], set[int]] | None = None,
) -> Lineup:
    """Map number ``n`` of the evening (every 15 minutes)."""
    if outcome is None:
        outcome = "draw" if winner is None else "held"
    open_attack, open_defence = opening or (attack, defence)
    r1 = T0 + timedelta(minutes=15 * n)
    return Lineup(
        round1_id=10 * n + 1,
        round2_id=10 * n + 2,
        map=f"map{n}",
        round1_ended_at=r1,
        round2_ended_at=r1 + timedelta(minutes=7),
        first_attack=frozenset(attack),
        first_defence=frozenset(defence),
        opening_attack=frozenset(open_attack),
        opening_defence=frozenset(open_defence),
        winner=None if outcome == "draw" else winner,
        outcome=outcome,
    )


RED = {1, 2, 3}
BLUE = {4, 5, 6}


def teams_of(plan_index: int, plans: list, team: str) -> list[frozenset[int]]:
    plan = plans[plan_index]
    return [plan.side_players(i, team) for i in range(len(plan.lineups))]


def test_same_teams_across_maps_whichever_side_they_start_on() -> None:
    maps = [
        lineup(0, RED, BLUE),
        lineup(1, BLUE, RED),  # blue attacks first now: still the same two teams
        lineup(2, BLUE, RED, FIRST_DEFENCE),
        lineup(3, RED, BLUE, FIRST_DEFENCE),
    ]
    [plan] = identify_matches(reversed(maps))  # any input order: sorted by time
    assert plan.a_attacked_first == [True, False, False, True]
    assert set(teams_of(0, [plan], TEAM_A)) == {frozenset(RED)}
    assert set(teams_of(0, [plan], TEAM_B)) == {frozenset(BLUE)}
    names = {p: f"p{p}" for p in RED | BLUE}
    match = score_plan(plan, names, {})
    # map0: red attacked first and won; map1: blue attacked first and won; map2 and map3:
    # the first defence won = red, then blue.
    assert [m.winner for m in match.maps] == [TEAM_A, TEAM_B, TEAM_A, TEAM_B]
    assert [(m.wins_a, m.wins_b) for m in match.maps] == [(1, 0), (1, 1), (2, 1), (2, 2)]
    assert (match.wins_a, match.wins_b, match.leader) == (2, 2, None)


def test_a_substitute_keeps_the_match_and_joins_his_team() -> None:
    maps = [
        lineup(0, RED, BLUE),
        lineup(1, {1, 2, 7}, BLUE),  # player 3 left, 7 came in for red
        # 7 plays only round 2 of map 2 (in for 2): on the red side all the same
        lineup(2, BLUE, {1, 2, 7, 3}, FIRST_DEFENCE, opening=(BLUE, {1, 2, 3})),
    ]
    [plan] = identify_matches(maps)
    match = score_plan(plan, {p: f"p{p}" for p in range(1, 8)}, {})
    assert set(match.team_a.player_ids) == {1, 2, 3, 7}
    assert set(match.team_b.player_ids) == BLUE
    assert (match.wins_a, match.wins_b) == (3, 0)
    assert match.maps[-1].players_a == frozenset({1, 2, 3, 7})


def test_one_player_changing_sides_keeps_a_4v4_match() -> None:
    red, blue = {1, 2, 3, 4}, {5, 6, 7, 8}
    # 4 and 5 swap: 6 of the 8 returning players stay with their team.
    swapped = lineup(1, {5, 6, 7, 4}, {1, 2, 3, 8})
    [plan] = identify_matches([lineup(0, red, blue), swapped])
    assert plan.a_attacked_first == [True, False]
    match = score_plan(plan, {p: f"p{p}" for p in range(1, 9)}, {})
    assert match.maps[1].players_a == frozenset({1, 2, 3, 8})
    assert match.maps[1].players_b == frozenset({4, 5, 6, 7})


def test_a_side_change_in_3v3_is_a_new_match() -> None:
    # 3 and 4 swap: a third of each team changed.
    plans = identify_matches([lineup(0, RED, BLUE), lineup(1, {1, 2, 4}, {3, 5, 6})])
    assert [len(p.lineups) for p in plans] == [1, 1]


def test_reshuffled_teams_start_a_new_match() -> None:
    maps = [
        lineup(0, RED, BLUE),
        lineup(1, {1, 2, 3, 4, 5, 6}, {7, 8, 9, 10, 11, 12}),  # 3v3 → 6v6 with new faces
        lineup(2, {20, 21}, {22, 23}),  # nobody returns: new teams again
    ]
    plans = identify_matches(maps)
    assert [len(p.lineups) for p in plans] == [1, 1, 1]
    matches = [score_plan(p, {i: f"p{i}" for i in range(1, 24)}, {}) for p in plans]
    assert matches[1].team_b.player_ids[0] in {7, 8, 9, 10, 11, 12}
    assert [(m.wins_a, m.wins_b) for m in matches] == [(1, 0), (1, 0), (1, 0)]


def test_a_map_with_an_empty_side_is_left_out() -> None:
    plans = identify_matches([lineup(0, RED, BLUE), lineup(1, RED, set())])
    assert [len(p.lineups) for p in plans] == [1]


def test_draws_count_for_nobody() -> None:
    [plan] = identify_matches([lineup(0, RED, BLUE, None), lineup(1, BLUE, RED)])
    match = score_plan(plan, {p: f"p{p}" for p in RED | BLUE}, {})
    assert [m.outcome for m in match.maps] == ["draw", "held"]
    assert (match.wins_a, match.wins_b, match.draws) == (0, 1, 1)
    assert match.leader == TEAM_B


def test_team_names_come_from_the_most_experienced_opening_player() -> None:
    maps = [lineup(0, {1, 2, 3}, {4, 5, 6}, opening=({1, 2}, {4, 5, 6})), lineup(1, BLUE, RED)]
    [plan] = identify_matches(maps)
    names = {1: "zed", 2: "amy", 3: "vid", 4: "olz", 5: "bob", 6: "cat"}
    # 3 has the most rounds but did not play the opening round: he cannot name the team.
    seniority = {1: 50, 2: 50, 3: 500, 4: 10, 5: 30, 6: 30}
    match = score_plan(plan, names, seniority)
    assert match.team_a.name == "Team amy"  # tie on rounds: by name
    assert match.team_a.player_names[0] == "amy"  # captain first, then by name
    assert match.team_a.player_names[1:] == ("vid", "zed")
    assert match.team_b.name == "Team bob"
    same = score_plan(plan, {**names, 5: "Amy"}, seniority)
    assert (same.team_a.name, same.team_b.name) == ("Team A", "Team B")


def test_as_of_hides_a_result_that_came_later() -> None:
    first = lineup(0, RED, BLUE, opening=({1, 2}, BLUE))
    before = first.as_of(first.round1_ended_at + timedelta(minutes=1))
    assert before.outcome is None
    assert before.winner is None
    assert before.first_attack == frozenset({1, 2})  # round 1 players only
    assert first.as_of(first.round2_ended_at or T0) is first


# --------------------------------------------------------------------------- on the corpus


def _guids() -> dict[int, str]:
    return dict(Player.select(Player.id, Player.guid).tuples())


def _raw_winners(r1: Path, r2: Path) -> set[str] | None:
    """GUIDs of the team that won a map by the stopwatch rule, read off the files;
    None for a draw."""
    one = parse_round(r1.read_bytes(), r1.name)
    two = parse_round(r2.read_bytes(), r2.name)
    if two.winner != two.defender:  # round 2 attackers beat the time
        return {p.guid for p in two.players if p.team in (1, 2) and p.team != two.defender}
    if one.winner != one.defender:  # the round 1 attackers' time held
        return {p.guid for p in one.players if p.team in (1, 2) and p.team != one.defender}
    return None


def test_map_winners_and_score_match_the_files(corpus: object) -> None:
    folder = corpus_info().folder
    day = evening(corpus_info().files)[0].name[:10]
    start = datetime.strptime(day, "%Y-%m-%d")
    sessions = [
        s.id
        for s in GamingSession.select().where(
            (GamingSession.ended_at >= start) & (GamingSession.started_at < start + timedelta(1))
        )
    ]
    assert sessions
    guids = _guids()
    checked = 0
    for session_id in sessions:
        matches = session_matches(session_id)
        decided = MapResult.select().join(Round, on=(MapResult.round2 == Round.id))
        assert (
            sum(len(m.decided) for m in matches)
            == decided.where(Round.session == session_id).count()
        )
        for match in matches:
            assert match.wins_a + match.wins_b + match.draws == len(match.decided)
            for scored in match.decided:
                r1 = Round.get_by_id(scored.round1_id)
                r2 = Round.get_by_id(scored.round2_id)
                raw = _raw_winners(folder / r1.file_name, folder / r2.file_name)
                if raw is None:
                    assert scored.winner is None
                    continue
                winners = scored.players_a if scored.winner == TEAM_A else scored.players_b
                losers = scored.players_b if scored.winner == TEAM_A else scored.players_a
                assert raw <= {guids[p] for p in winners}
                assert not raw & {guids[p] for p in losers}
                checked += 1
    assert checked >= 2


def test_substitutes_play_for_their_team_mates_team(corpus: object) -> None:
    """A player who only played round 2 of a map is on the team of the players beside him."""
    guids = _guids()
    ids = {g: i for i, g in guids.items()}
    for file_name, guid in corpus_info().substitutes:
        r2 = Round.get(Round.file_name == file_name)
        if r2.round1 is None:
            continue
        rows = list(
            PlayerRound.select(PlayerRound.player, PlayerRound.team).where(
                (PlayerRound.round == r2.id) & PlayerRound.team.in_([1, 2])
            )
        )
        sub = ids[guid]
        his_team = next(r.team for r in rows if r.player_id == sub)
        mates = {r.player_id for r in rows if r.team == his_team and r.player_id != sub}
        found = [
            (m, s)
            for m in session_matches(r2.session_id)
            if (s := m.map_of(r2.round1_id)) is not None
        ]
        assert found, file_name
        _match, scored = found[0]
        side = scored.players_a if sub in scored.players_a else scored.players_b
        assert sub in side
        assert mates <= side


def test_captains_have_the_most_rounds_before_the_day(corpus: object) -> None:
    lineups = load_lineups([s.id for s in GamingSession.select()])
    session_ids = sorted(lineups)[-8:]
    for session_id, matches in session_scores(tuple(session_ids)).items():
        first_by_r1 = {lu.round1_id: lu for lu in lineups[session_id]}
        for match in matches:
            first = first_by_r1[match.maps[0].round1_id]
            day = first.round1_ended_at.replace(hour=0, minute=0, second=0)
            for team, a_side in ((match.team_a, True), (match.team_b, False)):
                attack_first = match.maps[0].a_attacked_first == a_side
                opening = first.opening_attack if attack_first else first.opening_defence
                candidates = opening or (
                    first.first_attack if attack_first else first.first_defence
                )
                counts = defaultdict(int)
                for pid, n in (
                    PlayerRound.select(PlayerRound.player, fn.COUNT(PlayerRound.id))
                    .where(
                        PlayerRound.player.in_(list(candidates))
                        & (PlayerRound.ended_at < day)
                        & counted()
                    )
                    .group_by(PlayerRound.player)
                    .tuples()
                ):
                    counts[pid] = n
                assert team.captain_id in candidates
                assert counts[team.captain_id] == max(counts[p] for p in candidates)

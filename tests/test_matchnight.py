"""Round and map summaries, the MVP rule, the summary hook and the presence state."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from peewee import Database

from conftest import corpus_files, first_pair
from etbot import announce, matchnight
from etbot.ingest import Importer
from etbot.matchnight import (
    LIVE_WINDOW,
    PlayerLine,
    map_summary,
    notable,
    presence_state,
    queue_summaries,
    ranked,
    round_summary,
)
from etbot.models import Announcement, GamingSession, MapResult, Player, Round
from etbot.statsfile import ParsedRound, parse_round
from etbot.stopwatch import FIRST_ATTACK, FIRST_DEFENCE


def parsed(path: Path) -> ParsedRound:
    return parse_round(path.read_bytes(), path.name)


def guid_of() -> dict[int, str]:
    return dict(Player.select(Player.id, Player.guid).tuples())


def line(name: str, pid: int = 0, **values: int) -> PlayerLine:
    base = dict.fromkeys(
        (
            "kills",
            "deaths",
            "damage_given",
            "time_played_s",
            "objectives",
            "revives",
            "kill_assists",
            "team_kills",
            "headshot_kills",
            "hits",
            "shots",
            "best_multikill",
        ),
        0,
    )
    base.update(values)
    return PlayerLine(pid or sum(map(ord, name)), name, **base)


# --------------------------------------------------------------------------- the MVP rule


def test_mvp_points_weigh_revives_assists_objectives_and_team_kills() -> None:
    fragger = line("fragger", kills=20, damage_given=4000)
    medic = line("medic", kills=8, revives=14, kill_assists=4, damage_given=1500)
    engineer = line("engineer", kills=10, objectives=3, damage_given=2000)
    careless = line("careless", kills=21, team_kills=2, damage_given=2500)
    assert medic.points == 8 + 14 + 4 * 0.5
    assert engineer.points == 10 + 3 * 3
    assert careless.points == 21 - 2
    order = ranked([fragger, engineer, careless, medic])
    # 24 points, 20, then a tie at 19 broken by damage given.
    assert [p.name for p in order] == ["medic", "fragger", "careless", "engineer"]


def test_mvp_ties_go_to_damage_then_fewer_deaths() -> None:
    a = line("a", kills=10, damage_given=2000, deaths=9)
    b = line("b", kills=10, damage_given=2000, deaths=5)
    c = line("c", kills=10, damage_given=2100, deaths=20)
    assert [p.name for p in ranked([a, b, c])] == ["c", "b", "a"]


def test_dpm_and_accuracy() -> None:
    p = line("p", damage_given=3000, time_played_s=600, hits=40, shots=160)
    assert p.dpm == 300
    assert p.accuracy == 25
    assert line("q").accuracy is None
    assert line("q").dpm == 0


def test_notable_line_rules_in_order() -> None:
    sniper = line("sniper", hits=90, shots=150, headshot_kills=9)
    medic = line("medic", revives=6, hits=10, shots=100)
    multi = line("multi", best_multikill=4)
    assert notable([sniper, medic, multi]) == matchnight.Notable("multikill", "multi", 4)
    assert notable([sniper, medic]) == matchnight.Notable("revives", "medic", 6)
    assert notable([sniper, line("x", hits=5, shots=49)]) == matchnight.Notable(
        "accuracy", "sniper", 60.0, 150
    )
    assert notable([line("y", headshot_kills=2), line("z", headshot_kills=1)]) == (
        matchnight.Notable("headshots", "y", 2)
    )
    assert notable([line("nothing")]) is None


# --------------------------------------------------------------------------- summaries


def test_round_summary_matches_the_file(corpus: object) -> None:
    r1_path, _ = first_pair(corpus_files())
    raw = parsed(r1_path)
    rnd = Round.get(Round.file_name == r1_path.name)
    summary = round_summary(rnd.id)
    assert summary is not None
    assert summary.map == raw.map
    assert summary.completed == (raw.winner != raw.defender)
    assert summary.time_s == (raw.round_time_s if summary.completed else None)
    assert summary.time_limit_s == raw.time_limit_s
    guids = guid_of()
    humans = [p for p in raw.players if not p.is_bot and p.team in (1, 2)]
    attackers = {p.guid: p for p in humans if p.team != raw.defender}
    defenders = {p.guid for p in humans if p.team == raw.defender}
    assert {guids[p.player_id] for p in summary.attack.players} == set(attackers)
    assert {guids[p.player_id] for p in summary.defence.players} == defenders
    for p in summary.attack.players:
        assert p.kills == attackers[guids[p.player_id]].kills
        assert p.damage_given == attackers[guids[p.player_id]].tab["damage_given"]
    for side in (summary.attack, summary.defence):
        assert list(side.players) == sorted(side.players, key=PlayerLine.rank_key)
    assert (
        round_summary(Round.get(Round.file_name == first_pair(corpus_files())[1].name).id) is None
    )


def test_map_summary_adds_both_rounds_and_names_the_winner(corpus: object) -> None:
    r1_path, r2_path = first_pair(corpus_files())
    one, two = parsed(r1_path), parsed(r2_path)
    r2 = Round.get(Round.file_name == r2_path.name)
    result = MapResult.get(MapResult.round2 == r2.id)
    summary = map_summary(r2.id)
    assert summary is not None
    assert summary.outcome == result.outcome
    assert (summary.round1_time_s, summary.round2_time_s) == (
        result.round1_time_s,
        result.round2_time_s,
    )
    guids = guid_of()
    kills = {guids[p.player_id]: p.kills for p in summary.players}
    in_one = {p.guid: p for p in one.players if p.team in (1, 2) and not p.is_bot}
    for p in two.players:
        if p.is_bot or p.team not in (1, 2) or p.guid not in in_one:
            continue
        if p.kills >= in_one[p.guid].kills and p.rounds == in_one[p.guid].rounds + 1:
            # Round 2 files are cumulative: the map total is what round 2 says.
            assert kills[p.guid] == p.kills
    # The winners by the stopwatch rule, read off the headers.
    if two.winner != two.defender:
        raw_winners = {p.guid for p in two.players if p.team in (1, 2) and p.team != two.defender}
        assert summary.winner == FIRST_DEFENCE
    elif one.winner != one.defender:
        raw_winners = {p.guid for p in one.players if p.team in (1, 2) and p.team != one.defender}
        assert summary.winner == FIRST_ATTACK
    else:
        raw_winners = set()
        assert summary.winner is None
    if raw_winners:
        assert summary.winning_side is not None
        assert raw_winners <= {guids[p.player_id] for p in summary.winning_side.players}
    assert summary.mvp == summary.players[0]
    assert summary.mvp == min(summary.players, key=PlayerLine.rank_key)
    if summary.match is not None:
        assert summary.scored is not None
        assert summary.scored.round2_id == r2.id


def test_summaries_of_missing_rounds_are_none(corpus: object) -> None:
    assert round_summary(10**9) is None
    assert map_summary(10**9) is None


# --------------------------------------------------------------------------- the hook


def _pairs() -> list[tuple[Path, Path]]:
    files = corpus_files()
    first = first_pair(files)
    second = first_pair([f for f in files if f.name > first[1].name])
    return [first, second]


def _outbox() -> list[tuple[str, str, str]]:
    return [
        (a.kind, a.key, a.status)
        for a in Announcement.select()
        .where(Announcement.kind != "milestone")
        .order_by(Announcement.id)
    ]


def _import(paths: list[Path], *, live: bool) -> None:
    Importer(live=live).import_many([(p.name, p.read_bytes()) for p in paths])


def _round_id(path: Path) -> str:
    return str(Round.get(Round.file_name == path.name).id)


def test_live_imports_queue_summaries_once(db: Database) -> None:
    (r1, r2), _ = _pairs()
    _import([r1], live=True)
    assert _outbox() == [("round_summary", _round_id(r1), "pending")]
    _import([r2], live=True)
    _import([r1, r2], live=True)  # the same files again: duplicates
    assert _outbox() == [
        ("round_summary", _round_id(r1), "pending"),
        ("map_summary", _round_id(r2), "pending"),
    ]


def test_bulk_imports_queue_nothing(db: Database) -> None:
    (r1, r2), _ = _pairs()
    _import([r1, r2], live=False)
    assert _outbox() == []


def test_a_round_2_before_its_round_1_waits_for_the_pair(db: Database) -> None:
    _, (r1, r2) = _pairs()
    _import([r2], live=True)
    assert _outbox() == []  # an orphan decides nothing yet
    _import([r1], live=True)
    assert _outbox() == [
        ("round_summary", _round_id(r1), "pending"),
        ("map_summary", _round_id(r2), "pending"),
    ]
    summary = map_summary(int(_round_id(r2)))
    assert summary is not None
    assert summary.round1_id == int(_round_id(r1))


def test_one_batch_with_two_maps_queues_in_time_order(db: Database) -> None:
    (a1, a2), (b1, b2) = _pairs()
    _import([b2, a2, b1, a1], live=True)
    kinds = [(kind, key) for kind, key, _ in _outbox()]
    assert kinds == [
        ("round_summary", _round_id(a1)),
        ("map_summary", _round_id(a2)),
        ("round_summary", _round_id(b1)),
        ("map_summary", _round_id(b2)),
    ]


def test_the_hook_ignores_bulk_batches_directly(db: Database) -> None:
    from etbot.ingest.hooks import Batch

    queue_summaries(Batch((1, 2), (), frozenset(), live=False))
    assert Announcement.select().count() == 0
    assert announce.enqueue("round_summary", 1)  # and the outbox itself works


# --------------------------------------------------------------------------- presence


def _last_session() -> tuple[GamingSession, list[Round]]:
    session = GamingSession.select().order_by(GamingSession.ended_at.desc()).first()
    rounds = list(Round.select().where(Round.session == session.id).order_by(Round.ended_at))
    return session, rounds


def test_presence_during_a_match(corpus: object) -> None:
    _session, rounds = _last_session()
    paired = [r for r in rounds if r.round_no == 2 and r.round1_id is not None]
    assert paired, "the last session has a decided map"
    r2 = paired[-1]
    r1 = Round.get_by_id(r2.round1_id)
    during = presence_state(r1.ended_at + timedelta(minutes=1), "UTC")
    assert (during.kind, during.map, during.next_round) == ("live", r1.map, 2)
    after_map = presence_state(r2.ended_at + timedelta(minutes=1), "UTC")
    assert (after_map.kind, after_map.map, after_map.next_round) == ("live", r2.map, 1)
    assert after_map.match is not None
    # The map r2 decided counts after it, not while its round 2 is being played.
    assert after_map.maps_played == during.maps_played + 1


def test_presence_after_the_session_then_the_forecast(corpus: object) -> None:
    _session, rounds = _last_session()
    end = rounds[-1].ended_at
    after = presence_state(end + LIVE_WINDOW + timedelta(minutes=5), "UTC")
    assert after.kind == "after"
    assert after.rounds == len(rounds)
    later = presence_state(end + timedelta(days=3), "UTC")
    assert later.kind == "next"
    assert later.next_start is not None
    assert later.next_start.tzinfo is not None
    assert presence_state(end + timedelta(days=800), "UTC").kind == "idle"


@pytest.mark.parametrize("tz", ["Europe/Berlin", "UTC"])
def test_presence_accepts_aware_times(corpus: object, tz: str) -> None:
    from zoneinfo import ZoneInfo

    _session, rounds = _last_session()
    aware = (rounds[-1].ended_at + timedelta(minutes=1)).replace(tzinfo=ZoneInfo(tz))
    assert presence_state(aware, tz).kind == "live"
    assert presence_state(datetime(1990, 1, 1), tz).kind == "idle"

"""The round-2 differential without a database: files written here, then the real corpus.

The first half builds small stats files in memory (so it runs anywhere) and checks each
rule of ../shared/FORMAT.md "Round 2 is partly cumulative" with numbers worked out by
hand in the test; the second half parses real pairs and checks values read off the
files by hand (skipped without the real corpus).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import timedelta

import pytest

from conftest import real_files
from etbot.ingest.differential import (
    CUMULATIVE_TAB,
    ROUND1_FIELDS,
    VALUE_FIELDS,
    PlayerRound2,
    derive_player,
    differential,
    round1_player,
)
from etbot.ingest.pairing import RoundRef, pair_rounds
from etbot.statsfile import FLOAT_FIELDS, LAYOUTS, ParsedRound, ParseError, parse_round

MP40, KNIFE, COLT, PANZER = 4, 0, 3, 8
Weapons = Mapping[int, tuple[int, int, int, int, int]]


def player_line(
    guid: str,
    name: str,
    weapons: Weapons,
    tab: Mapping[str, float] | None = None,
    *,
    rounds: int = 1,
    team: int = 1,
    layout: int = 38,
) -> str:
    """One player line: weapon ints by weapon bit, TAB fields by name (others 0)."""
    mask = sum(1 << bit for bit in weapons)
    ints = [str(v) for bit in sorted(weapons) for v in weapons[bit]]
    tab = tab or {}
    fields = [str(tab.get(n, 0.0 if n in FLOAT_FIELDS else 0)) for n in LAYOUTS[layout]]
    head = "\\".join([guid, name, str(rounds), str(team), " ".join([str(mask), *ints])])
    return head + " " + "".join("\t" + f for f in fields)


def stats_round(round_no: int, *lines: str, minute: int = 0) -> ParsedRound:
    """Parse a file of ``lines`` as round ``round_no`` of supply (10:00 limit)."""
    header = "\\".join(
        ["^1Test ^7Server", "supply", "legacy3", str(round_no), "1", "2", "10:00", "8:00"]
    )
    name = f"2025-01-01-20{minute:02d}00-supply-round-{round_no}.txt"
    return parse_round(("\n".join([header, *lines]) + "\n").encode(), name)


def pair(round1_lines: list[str], round2_lines: list[str]) -> dict[str, PlayerRound2]:
    return differential(stats_round(2, *round2_lines, minute=30), stats_round(1, *round1_lines))


# Round 1 of player A, then A's cumulative round 2 (round 1 included, as the game writes it).
A_ROUND1 = player_line(
    "AAAAAAAA",
    "^1A",
    {KNIFE: (1, 2, 1, 0, 0), MP40: (10, 40, 3, 2, 1)},
    {
        "damage_given": 500,
        "damage_received": 300,
        "team_damage_given": 10,
        "team_damage_received": 20,
        "gibs": 2,
        "self_kills": 1,
        "xp": 30,
        "kill_assists": 1,
        "bullets_fired": 42,
        "time_played_min": 8.0,
        "time_dead_min": 2.0,
        "revives_given": 3,
    },
    rounds=1,
)
A_TAB_ROUND2 = {
    "damage_given": 1300,
    "damage_received": 700,
    "team_damage_given": 10,
    "team_damage_received": 50,
    "gibs": 5,
    "self_kills": 1,
    "team_kills": 1,
    "team_gibs": 1,
    "xp": 12,  # round-2-only already
    "kill_assists": 2,  # round-2-only already
    "bullets_fired": 105,
    "time_played_min": 15.0,
    "time_dead_min": 1.5,  # round-2-only already
    "revives_given": 1,  # round-2-only already
}
A_WEAPONS_ROUND2 = {KNIFE: (1, 2, 1, 0, 0), MP40: (25, 100, 7, 5, 3), PANZER: (2, 3, 1, 0, 0)}
A_ROUND2 = player_line("AAAAAAAA", "^1A", A_WEAPONS_ROUND2, A_TAB_ROUND2, rounds=2)


def test_paired_round2_subtracts_round1_from_the_cumulative_values() -> None:
    a = pair([A_ROUND1], [A_ROUND2])["AAAAAAAA"]
    assert (a.reset, a.only_round2) == (False, False)
    # Per weapon: MP40 minus round 1, the knife did nothing new, the panzer is new.
    assert a.weapons == {KNIFE: (0, 0, 0, 0, 0), MP40: (15, 60, 4, 3, 2), PANZER: (2, 3, 1, 0, 0)}
    v = a.values
    assert (v["kills"], v["deaths"], v["hits"], v["shots"], v["headshots"]) == (5, 3, 17, 63, 2)
    assert (v["damage_given"], v["damage_received"]) == (800, 400)
    assert (v["team_damage_given"], v["team_damage_received"]) == (0, 30)
    assert (v["gibs"], v["self_kills"], v["team_kills"], v["team_gibs"]) == (3, 0, 1, 1)
    assert v["time_played_s"] == 7 * 60
    assert v["bullets_fired"] == 105 - 42
    # Fields the file already holds for round 2 only are taken as written.
    assert (v["xp"], v["kill_assists"], v["time_dead_s"], v["revives_given"]) == (12, 2, 90, 1)


def test_shots_going_down_are_floored_at_zero_and_are_no_reset() -> None:
    # The game decrements a weapon's shots (hits on a corpse): never a reset signal.
    r1 = player_line("BBBBBBBB", "B", {COLT: (2, 10, 1, 0, 0)}, {"time_played_min": 2.0})
    r2 = player_line("BBBBBBBB", "B", {COLT: (3, 8, 2, 0, 0)}, {"time_played_min": 4.0}, rounds=2)
    b = pair([r1], [r2])["BBBBBBBB"]
    assert not b.reset
    assert b.weapons == {COLT: (1, 0, 1, 0, 0)}
    assert (b.values["hits"], b.values["shots"], b.values["kills"]) == (1, 0, 1)


# Every cumulative value of F grows from round 1 to round 2, unless a test lowers one.
F_TAB_ROUND1: dict[str, float] = {**dict.fromkeys(CUMULATIVE_TAB, 10), "time_played_min": 5.0}
F_TAB_ROUND2: dict[str, float] = {**dict.fromkeys(CUMULATIVE_TAB, 30), "time_played_min": 9.0}
F_ROUND1 = player_line("FFFFFFFF", "F", {MP40: (10, 20, 10, 10, 10)}, F_TAB_ROUND1)
WEAPON_INT = {"hits": 0, "kills": 2, "deaths": 3, "headshots": 4}


def test_values_that_all_grow_are_no_reset() -> None:
    grown = player_line("FFFFFFFF", "F", {MP40: (30, 60, 30, 30, 30)}, F_TAB_ROUND2, rounds=2)
    f = pair([F_ROUND1], [grown])["FFFFFFFF"]
    assert not f.reset
    assert f.values["damage_given"] == 20
    assert f.weapons[MP40] == (20, 40, 20, 20, 20)


@pytest.mark.parametrize("signal", [*CUMULATIVE_TAB, "time_played_min", *WEAPON_INT])
def test_a_counter_going_down_is_a_reconnect_reset_taken_as_written(signal: str) -> None:
    tab = dict(F_TAB_ROUND2)
    mp40 = [30, 60, 30, 30, 30]
    if signal in WEAPON_INT:
        mp40[WEAPON_INT[signal]] = 5  # below round 1's 10
    else:
        tab[signal] = 2  # below round 1's 10 (5.0 minutes for time played)
    h, s, k, d, hs = mp40
    written = player_line("FFFFFFFF", "F", {MP40: (h, s, k, d, hs)}, tab, rounds=2)
    f = pair([F_ROUND1], [written])["FFFFFFFF"]
    assert (f.reset, f.only_round2) == (True, False)
    as_written = differential(stats_round(2, written, minute=30), None)["FFFFFFFF"]
    assert f.values == as_written.values
    assert f.weapons == as_written.weapons
    assert f.weapons[MP40] == (h, s, k, d, hs)


def test_a_rounds_counter_that_does_not_go_up_is_a_reset() -> None:
    same_counter = player_line("AAAAAAAA", "^1A", A_WEAPONS_ROUND2, A_TAB_ROUND2, rounds=1)
    a = pair([A_ROUND1], [same_counter])["AAAAAAAA"]
    assert a.reset
    assert a.values["damage_given"] == 1300  # as written, nothing subtracted


def test_a_player_absent_from_round1_is_taken_as_written() -> None:
    sub = player_line("CCCCCCCC", "Sub", {MP40: (5, 9, 1, 1, 0)}, {"damage_given": 99}, rounds=1)
    result = pair([A_ROUND1], [A_ROUND2, sub])
    c = result["CCCCCCCC"]
    assert (c.reset, c.only_round2) == (False, True)
    assert (c.values["damage_given"], c.values["kills"]) == (99, 1)
    assert not result["AAAAAAAA"].only_round2


def test_an_orphan_round2_is_taken_as_written() -> None:
    a = differential(stats_round(2, A_ROUND2), None)["AAAAAAAA"]
    assert (a.reset, a.only_round2) == (False, False)
    assert (a.values["damage_given"], a.values["kills"], a.values["bullets_fired"]) == (
        1300,
        9,
        105,
    )
    assert a.values["time_played_s"] == 15 * 60
    assert a.weapons[MP40] == (25, 100, 7, 5, 3)


def test_time_dead_is_capped_at_time_played() -> None:
    line = player_line("DDDDDDDD", "D", {}, {"time_played_min": 3.0, "time_dead_min": 5.5})
    d = derive_player(stats_round(1, line).players[0], 38, paired=False, round1=None)
    assert (d.values["time_played_s"], d.values["time_dead_s"]) == (180, 180)


def test_fields_a_layout_lacks_are_unknown_not_zero() -> None:
    tab = {"bullets_fired": 50, "repairs": 2, "denied_playtime": 7, "multikill_2": 1}
    r37 = stats_round(1, player_line("EEEEEEEE", "E", {}, tab, layout=37)).players[0]
    v37 = derive_player(r37, 37, paired=False, round1=None).values
    # 37 fields: no revives given; bullets fired is only meaningful in the 38 layout.
    assert (v37["revives_given"], v37["bullets_fired"], v37["repairs"]) == (None, None, 2)
    r33 = stats_round(1, player_line("EEEEEEEE", "E", {}, tab, layout=33)).players[0]
    v33 = derive_player(r33, 33, paired=False, round1=None).values
    lacking = ("denied_playtime", "useless_kills", "full_selfkills", "repairs", "revives_given")
    assert [v33[n] for n in lacking] == [None] * 5
    assert v33["multikill_2"] == 1  # read from its own position in the 33 layout


def test_bullets_fired_is_not_subtracted_when_round1_has_none() -> None:
    r1 = player_line("AAAAAAAA", "^1A", {MP40: (1, 2, 0, 0, 0)}, {"bullets_fired": 9}, layout=37)
    r2 = player_line("AAAAAAAA", "^1A", {MP40: (3, 5, 0, 0, 0)}, {"bullets_fired": 9}, rounds=2)
    a = pair([r1], [r2])["AAAAAAAA"]
    assert not a.reset
    assert a.values["bullets_fired"] is None


def test_bots_are_left_out() -> None:
    bot = player_line("OMNIBOT0", "[BOT]Bob", {MP40: (1, 1, 1, 1, 1)})
    result = pair([A_ROUND1, bot], [A_ROUND2, bot])
    assert list(result) == ["AAAAAAAA"]


def test_round1_player_holds_what_round2_reads() -> None:
    r1 = stats_round(1, A_ROUND1).players[0]
    before = round1_player(r1, 38)
    # Round 1 as stored (the importer reads it back from its row), by VALUE_FIELDS.
    stored = derive_player(r1, 38, paired=False, round1=None).values
    assert dict(zip(VALUE_FIELDS, before.values, strict=True)) == stored
    assert set(ROUND1_FIELDS) <= set(VALUE_FIELDS)
    assert before.rounds_counter == 1
    assert before.weapons[MP40] == (10, 40, 3, 2, 1)
    # derive_player on the round 2 with it gives what differential() gives.
    r2 = stats_round(2, A_ROUND2, minute=30).players[0]
    assert (
        derive_player(r2, 38, paired=True, round1=before)
        == pair([A_ROUND1], [A_ROUND2])["AAAAAAAA"]
    )


# ----------------------------------------------------------------- the real corpus


def _real(name: str) -> ParsedRound:
    path = next((p for p in real_files() if p.name == name), None)
    if path is None:
        pytest.skip(f"{name} is not in the real corpus")
    return parse_round(path.read_bytes(), path.name)


def test_real_37_layout_pair_hand_checked() -> None:
    # Read off 2025-09-24-233255/233657 te_escape2 by hand: cumulative values minus round 1;
    # the knife's shots went DOWN (2 < 4) and floor at 0.
    result = differential(
        _real("2025-09-24-233657-te_escape2-round-2.txt"),
        _real("2025-09-24-233255-te_escape2-round-1.txt"),
    )
    vid = result["D8423F90"]
    assert (vid.reset, vid.only_round2) == (False, False)
    v = vid.values
    assert (v["kills"], v["deaths"], v["hits"], v["shots"], v["headshots"]) == (6, 5, 48, 109, 5)
    assert (v["damage_given"], v["damage_received"], v["team_damage_given"]) == (934, 989, 18)
    assert (v["gibs"], v["self_kills"], v["time_played_s"]) == (3, 0, 204)
    assert (v["xp"], v["kill_assists"], v["headshot_kills"], v["times_revived"]) == (42, 2, 1, 1)
    assert v["time_dead_s"] == 54
    assert (v["revives_given"], v["bullets_fired"], v["repairs"]) == (None, None, 0)
    assert {w: c for w, c in vid.weapons.items() if any(c)} == {
        1: (0, 2, 0, 0, 0),
        3: (0, 2, 0, 0, 0),
        4: (6, 10, 1, 5, 0),
        5: (42, 95, 5, 0, 5),
    }


def test_real_38_layout_pair_hand_checked() -> None:
    result = differential(
        _real("2025-10-12-221603-te_escape2-round-2.txt"),
        _real("2025-10-12-221244-te_escape2-round-1.txt"),
    )
    v = result["EDBB5DA9"].values
    assert (v["kills"], v["deaths"], v["hits"], v["shots"], v["headshots"]) == (2, 2, 23, 57, 2)
    assert (v["damage_given"], v["damage_received"]) == (473, 389)
    assert (v["team_damage_given"], v["team_damage_received"]) == (18, 17)
    assert (v["gibs"], v["self_kills"], v["time_played_s"], v["time_dead_s"]) == (0, 2, 144, 126)
    assert v["bullets_fired"] == 57  # 38-field layout: cumulative, subtracted
    assert (v["xp"], v["useless_kills"], v["revives_given"], v["denied_playtime"]) == (8, 1, 0, 3)


def test_real_reconnect_reset_and_substitute_hand_checked() -> None:
    # Imb3cil's counters went down (damage received 2350 < 3266, rounds 1 -> 1).
    reset = differential(
        _real("2025-10-26-203013-etl_sp_delivery-round-2.txt"),
        _real("2025-10-26-201727-etl_sp_delivery-round-1.txt"),
    )
    assert [g for g, p in reset.items() if p.reset] == ["C74FB315"]
    v = reset["C74FB315"].values
    assert (v["damage_given"], v["damage_received"], v["time_played_s"]) == (1449, 2350, 666)
    sub = differential(
        _real("2025-10-25-161002-supply-round-2.txt"),
        _real("2025-10-25-155900-supply-round-1.txt"),
    )
    r2 = _real("2025-10-25-161002-supply-round-2.txt")
    names = {p.guid: p.name for p in r2.players}
    assert [names[g] for g, p in sub.items() if p.only_round2] == ["MaccabrosLicious"]


def test_real_round2_time_played_fits_in_round2() -> None:
    """Every real pair: a round-2-only time played fits in round 2's time limit.

    Round 2 lasts at most its time limit (= round 1's actual time); the files write
    minutes with one decimal, so each value is off by up to 3 s and a difference by 6 s.
    Without the subtraction most values would be twice as large.
    """
    rounds: list[ParsedRound] = []
    for path in real_files():
        try:
            rounds.append(parse_round(path.read_bytes(), path.name))
        except ParseError:
            continue  # the header-only file
    groups: defaultdict[tuple[str, str], list[RoundRef]] = defaultdict(list)
    for r in rounds:
        groups[(r.server_name, r.map)].append(
            RoundRef(r.file_name, r.ended_at, r.file_name, r.round_no)
        )
    by_name = {r.file_name: r for r in rounds}
    pairs = {k: v for g in groups.values() for k, v in pair_rounds(g).items()}
    assert len(pairs) > 100
    checked = 0
    for r2_name, r1_name in pairs.items():
        r2 = by_name[r2_name]
        for guid, p in differential(r2, by_name[r1_name]).items():
            if p.reset or p.only_round2:
                continue
            played = timedelta(seconds=p.values["time_played_s"])
            assert timedelta(0) <= played <= timedelta(seconds=r2.time_limit_s + 6), (
                r2_name,
                guid,
            )
            checked += 1
    assert checked > 500

"""Slow writers without a database: when is a file the partial one written further?"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import PlayerLine, corpus_files, first_pair, read_round, write_round
from etbot.ingest.growth import grew_from
from etbot.statsfile import ParsedRound, parse_round

Edit = Callable[[list[str], list[PlayerLine]], None]


def _round(path: Path, edit: Edit | None = None, keep: int | None = None) -> ParsedRound:
    header, players = read_round(path)
    if edit is not None:
        edit(header, players)
    return parse_round(write_round(header, players[:keep]), path.name)


@pytest.fixture
def src() -> Path:
    return first_pair(corpus_files())[0]


def test_the_first_player_lines_grow_into_the_whole_file(src: Path) -> None:
    whole = _round(src)
    assert len(whole.players) >= 2
    for keep in range(1, len(whole.players) + 1):
        assert grew_from(_round(src, keep=keep), whole) is None
    assert grew_from(whole, whole) is None


def test_larger_counters_are_growth(src: Path) -> None:
    def more(header: list[str], players: list[PlayerLine]) -> None:
        armed = next(p for p in players if len(p.ints) > 1)
        armed.ints[1] = str(int(armed.ints[1]) + 5)  # its first weapon's hits
        armed.tabs[0] = str(int(armed.tabs[0]) + 100)  # damage given

    assert grew_from(_round(src), _round(src, more)) is None


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda h, ps: ps.pop(0), "is missing"),
        (lambda h, ps: setattr(ps[0], "name", ps[0].name + "x"), "another name or team"),
        (lambda h, ps: setattr(ps[0], "team", "3"), "another name or team"),
        (lambda h, ps: ps[0].tabs.__setitem__(0, "0"), "damage_given went down"),
        (lambda h, ps: h.__setitem__(1, "othermap"), "another map"),
        (lambda h, ps: h.__setitem__(0, "another server"), "another server"),
    ],
)
def test_anything_but_growth_is_refused(src: Path, edit: Edit, reason: str) -> None:
    _header, players = read_round(src)
    assert int(players[0].tabs[0]) > 0, "the test needs damage to take away"
    assert reason in (grew_from(_round(src), _round(src, edit)) or "")


def test_a_weapon_counter_that_went_down_is_refused(src: Path) -> None:
    _header, players = read_round(src)
    line = next(i for i, p in enumerate(players) if p.ints[1] != "0")

    def fewer(h: list[str], ps: list[PlayerLine]) -> None:
        ps[line].ints[1] = str(int(ps[line].ints[1]) - 1)

    assert "counters went down" in (grew_from(_round(src), _round(src, fewer)) or "")

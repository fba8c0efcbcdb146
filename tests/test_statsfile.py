"""Parser tests on the corpus (real, else generated), the odd corpus and random bytes."""

from __future__ import annotations

import contextlib
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import corpus_files, corpus_info, odd_files, real_files
from etbot.statsfile import LAYOUTS, ParseError, clean_name, parse_round


def parse(path: Path):
    return parse_round(path.read_bytes(), path.name)


def test_every_corpus_file_parses_and_all_layouts_are_seen() -> None:
    layouts: Counter[int] = Counter()
    rejected = []
    for path in corpus_files():
        try:
            r = parse(path)
        except ParseError as exc:
            rejected.append((path.name, exc.reason))
            continue
        layouts[r.layout] += 1
        assert r.map
        assert r.round_no in (1, 2)
        assert r.players, path.name
        for p in r.players:
            # kills/deaths are sums over weapons; a layout's missing fields are None, never 0
            assert p.kills == sum(w.kills for w in p.weapons)
            missing = set(LAYOUTS[38]) - set(LAYOUTS[r.layout])
            assert all(p.tab[name] is None for name in missing)
            assert all(p.tab[name] is not None for name in LAYOUTS[r.layout])
    header_only = corpus_info().header_only
    assert rejected == [(name, "header only: the file has no player lines") for name in header_only]
    assert set(layouts) == {38, 37, 36, 33}


def test_header_only_file_names_file_and_reason() -> None:
    name = corpus_info().header_only[0]  # real corpus: 2024-09-12-174949-supply-round-2.txt
    path = corpus_info().folder / name
    with pytest.raises(ParseError) as info:
        parse(path)
    assert name in str(info.value)
    assert "no player lines" in str(info.value)


def test_odd_files_are_rejected_with_a_clear_reason() -> None:
    reasons = {}
    for path in odd_files():
        with pytest.raises(ParseError) as info:
            parse(path)
        assert info.value.file_name == path.name
        assert path.name in str(info.value)
        reasons[path.name] = info.value.reason
    assert (
        "time limit '20.00' is not M:SS" in reasons["2025-09-29-120000-etl_adlernest-round-1.txt"]
    )
    assert "TAB-separated throughout" in reasons["2025-12-17-120000-goldrush-round-1.txt"]
    assert "header has 1 fields" in reasons["2025-12-17-130000-badmap-round-1.txt"]


def test_hand_checked_player_line_37_layout() -> None:
    path = REAL_DIR() / "2025-09-24-233255-te_escape2-round-1.txt"
    r = parse(path)
    assert r.ended_at == datetime(2025, 9, 24, 23, 32, 55)
    assert (r.map, r.config, r.round_no, r.defender, r.winner) == ("te_escape2", "legacy3", 1, 1, 2)
    assert (r.time_limit_s, r.round_time_s) == (720, 236)
    assert r.server_clean_name == "#purans.only"
    assert r.layout == 37
    vid = next(p for p in r.players if p.guid == "D8423F90")
    assert (vid.raw_name, vid.name, vid.rounds, vid.team_name) == ("^pvid", "vid", 1, "axis")
    assert [w.name for w in vid.weapons] == [
        "KNIFE", "LUGER", "COLT", "MP40", "THOMPSON", "GRENADE", "SYRINGE",
    ]  # fmt: skip
    mp40 = vid.weapons[3]
    assert (mp40.hits, mp40.shots, mp40.kills, mp40.deaths, mp40.headshots) == (62, 141, 9, 0, 12)
    assert (vid.kills, vid.deaths, vid.headshots) == (9, 8, 12)
    assert vid.tab["damage_given"] == 1375
    assert vid.tab["headshot_kills"] == 3
    assert vid.tab["time_played_min"] == 3.9
    assert vid.tab["repairs"] == 0
    assert vid.tab["revives_given"] is None


def test_33_layout_maps_multikills_after_useful_kills() -> None:
    path = next(p for p in corpus_files() if _layout_of(p) == 33)
    r = parse(path)
    raw = path.read_text(encoding="latin-1").splitlines()[1].split("\t")[1:]
    p = r.players[0]
    assert p.tab["useful_kills"] == int(raw[27])
    assert [p.tab[f"multikill_{n}"] for n in range(2, 7)] == [int(v) for v in raw[28:33]]
    assert p.tab["denied_playtime"] is None
    assert p.tab["repairs"] is None


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("^1Red^7White", "RedWhite"),
        ("^^7x", "^x"),  # ^ followed by ^ is not a colour code; the second ^7 is
        ("name^", "name^"),
        ("^a#^7p^au^7rans", "#purans"),
        ("^:^;abc", "abc"),
        ("plain", "plain"),
    ],
)
def test_clean_name(raw: str, clean: str) -> None:
    assert clean_name(raw) == clean


def test_invalid_utf8_name_is_decoded_leniently_and_kept() -> None:
    path = REAL_DIR() / "2025-09-24-233255-te_escape2-round-1.txt"
    data = path.read_bytes().replace(b"\\^pvid\\", b"\\^p\xe9vid\xff\\", 1)
    r = parse_round(data, path.name)
    vid = next(p for p in r.players if p.guid == "D8423F90")
    assert vid.name == "évidÿ"
    assert len(r.players) == len(parse(path).players)


def test_truncated_file_is_rejected_naming_the_line() -> None:
    path = a_round1_file()
    data = path.read_bytes()
    cut = data[: data.index(b"\n", 200) - 40]
    with pytest.raises(ParseError) as info:
        parse_round(cut, path.name)
    assert info.value.line is not None


def test_garbage_round_time_is_unknown_not_trusted() -> None:
    garbage = [p for p in real_files() if b"\\71:05" in p.read_bytes().split(b"\n")[0]]
    assert garbage, "the corpus has a 71:05 round time"
    assert parse(garbage[0]).round_time_s is None


def test_round_time_over_the_limit_is_unknown() -> None:
    """The script bug above, written into a corpus file: 71:05 in a 12-minute map."""
    path = a_round1_file()
    header, rest = path.read_bytes().split(b"\n", 1)
    fields = header.split(b"\\")
    assert parse(path).round_time_s is not None
    fields[7] = b"71:05"
    assert parse_round(b"\\".join(fields) + b"\n" + rest, path.name).round_time_s is None


def test_file_name_must_follow_the_convention() -> None:
    path = a_round1_file()
    with pytest.raises(ParseError, match="file name"):
        parse_round(path.read_bytes(), "stats.txt")
    with pytest.raises(ParseError, match="says round 1 but the file name says round 2"):
        parse_round(path.read_bytes(), path.name.replace("-round-1.txt", "-round-2.txt"))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_only_raise_parse_error(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_round(data, "2025-01-01-200000-supply-round-1.txt")


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_real_lines_only_raise_parse_error(data: st.DataObject) -> None:
    files = corpus_files()
    path = files[data.draw(st.integers(0, len(files) - 1))]
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 5))):
        pos = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        raw[pos : pos + 1] = data.draw(st.binary(min_size=0, max_size=3))
    try:
        r = parse_round(bytes(raw), path.name)
    except ParseError:
        return
    assert r.players


def REAL_DIR() -> Path:
    return real_files()[0].parent


def a_round1_file() -> Path:
    """A corpus round 1 file (the hand-checked te_escape2 one when the corpus is real)."""
    files = corpus_files()
    hand_checked = [p for p in files if p.name == "2025-09-24-233255-te_escape2-round-1.txt"]
    return (hand_checked or [p for p in files if p.name.endswith("round-1.txt")])[0]


def _layout_of(path: Path) -> int:
    # latin-1: names may hold bytes that are not UTF-8 (the generated corpus has some)
    lines = path.read_text(encoding="latin-1").splitlines()
    return len(lines[1].split("\t")) - 1 if len(lines) > 1 else 0


def test_text_bounds_are_the_database_columns() -> None:
    """The parser cuts or refuses text by the sizes the columns hold, so SQLite (which
    would store anything) and PostgreSQL (which refuses longer text) get the same rows."""
    from etbot import statsfile
    from etbot.models import Alias, Player, PlayerRound, Round, Server, SourceFile

    assert statsfile.MAX_NAME == Player.name.max_length == PlayerRound.name.max_length
    assert statsfile.MAX_NAME == Alias.name.max_length == Alias.name_lower.max_length
    assert statsfile.MAX_RAW_NAME == Player.raw_name.max_length == Alias.raw_name.max_length
    assert PlayerRound.raw_name.max_length == statsfile.MAX_RAW_NAME
    assert statsfile.MAX_FILE_NAME == Round.file_name.max_length == SourceFile.file_name.max_length
    assert statsfile.MAX_SERVER_NAME == Server.name.max_length == Server.clean_name.max_length
    assert statsfile.MAX_MAP_NAME == Round.map.max_length == PlayerRound.map.max_length
    assert Round.config.max_length == statsfile.MAX_CONFIG


def test_numbers_out_of_bounds_are_rejected_with_the_reason() -> None:
    from conftest import read_round, write_round

    path = a_round1_file()

    def reason(edit) -> str:  # type: ignore[no-untyped-def]
        header, players = read_round(path)
        edit(header, players)
        with pytest.raises(ParseError) as info:
            parse_round(write_round(header, players), path.name)
        return str(info.value)

    def weapon(h: list, ps: list) -> None:
        ps[0].ints[2] = "200001"  # shots of the first weapon

    def minutes(h: list, ps: list) -> None:
        ps[0].tabs[22] = "1440.1"  # time played

    def spree(h: list, ps: list) -> None:
        ps[0].tabs[10] = "-1"  # killing spree

    def play_time(h: list, ps: list) -> None:
        h[8:] = ["-5"]

    def map_name(h: list, ps: list) -> None:
        h[1] = "m" * 129

    assert "(line 2): " in reason(weapon)
    assert "shots is 200001, out of range (0 to 200,000)" in reason(weapon)
    assert "time_played_min is 1440.1, out of range (0 to 1,440)" in reason(minutes)
    assert "killing_spree is negative (-1)" in reason(spree)
    assert "play time (ms) is negative (-5)" in reason(play_time)
    assert "header map name is longer than 128 characters" in reason(map_name)

"""Tests for the synthetic history generator (etbot.synth).

The checks here are deliberately self-contained (they do not use the project's parser)
so that the generator is validated against FORMAT.md on its own; one extra test runs the
real parser over every generated file once it exists.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from etbot.synth import HistorySummary, generate_history

SMALL = {"players": 60, "years": 0.3, "seed": 7, "end": date(2024, 6, 30)}
NAME_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}-\d{6})-([A-Za-z0-9_]+)-round-([12])\.txt$")
GUID_RE = re.compile(r"^[0-9A-F]{8}$")
MSS_RE = re.compile(r"^\d{1,2}:[0-5]\d$")
COLOUR_RE = re.compile(r"\^[^^]")
LAYOUTS = {38, 37, 36, 33}
CUM_TAB = (0, 1, 2, 3, 4, 5, 6, 7, 22)


@dataclass
class Player:
    guid: str
    name: str
    rounds: int
    team: int
    weapons: dict[int, list[int]]
    tabs: list[str]

    def total(self, i: int) -> int:
        return sum(g[i] for g in self.weapons.values())


@dataclass
class Round:
    path: Path
    server: str
    end: datetime
    map: str
    round: int
    header: list[str]
    players: dict[str, Player]


def _secs(mss: str) -> int:
    m, s = mss.split(":")
    return int(m) * 60 + int(s)


def _parse(path: Path) -> Round:
    """A minimal independent reader that asserts the FORMAT.md structure."""
    m = NAME_RE.match(path.name)
    assert m, path.name
    end = datetime.strptime(m.group(1), "%Y-%m-%d-%H%M%S")
    data = path.read_bytes()
    assert data.endswith(b"\n") and not data.endswith(b"\n\n"), path
    assert b"\r" not in data
    lines = data.decode("utf-8", "replace").split("\n")[:-1]
    header = lines[0].split("\\")
    assert len(header) == 8, header
    assert header[1] == m.group(2)
    assert header[3] == m.group(3)
    assert header[4] in ("1", "2") and header[5] in ("1", "2")
    assert MSS_RE.match(header[6]) and MSS_RE.match(header[7]), header
    players: dict[str, Player] = {}
    layouts = set()
    assert len(lines) > 1, "header-only file"
    for line in lines[1:]:
        pre, tab, rest = line.partition("\t")
        assert tab and pre.endswith(" "), line
        parts = pre.split("\\")
        assert len(parts) == 5, line
        guid, name, rounds, team, weap = parts
        assert GUID_RE.match(guid) and guid not in players
        assert team in ("1", "2", "3")
        ints = [int(x) for x in weap.split(" ") if x != ""]
        mask, vals = ints[0], ints[1:]
        bits = [b for b in range(28) if mask >> b & 1]
        assert mask >> 28 == 0
        assert len(vals) == 5 * len(bits), line
        assert all(v >= 0 for v in vals)
        weapons = {b: vals[i * 5 : i * 5 + 5] for i, b in enumerate(bits)}
        assert all(any(g) for g in weapons.values())
        tabs = rest.split("\t")
        layouts.add(len(tabs))
        assert len(tabs) in LAYOUTS, len(tabs)
        p = Player(guid, name, int(rounds), int(team), weapons, tabs)
        kills = p.total(2)
        assert int(tabs[14]) <= kills, line
        assert tabs[21] == "0.0"
        if len(tabs) == 38 and int(team) != 3:
            assert int(tabs[20]) == p.total(1) or header[3] == "2"
        players[guid] = p
    assert len(layouts) == 1
    server = path.parent.name
    return Round(path, server, end, header[1], int(header[3]), header, players)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, HistorySummary]:
    out = tmp_path_factory.mktemp("synth")
    summary = generate_history(out, **SMALL)
    return out, summary


@pytest.fixture(scope="module")
def rounds(history: tuple[Path, HistorySummary]) -> list[Round]:
    out, _ = history
    return sorted((_parse(p) for p in out.rglob("*.txt")), key=lambda r: (r.server, r.end))


def _pairs(rounds: list[Round]) -> tuple[list[tuple[Round, Round]], list[Round]]:
    """FORMAT.md pairing: latest unpaired round 1 of the same map <= 45 minutes earlier."""
    pairs: list[tuple[Round, Round]] = []
    orphans: list[Round] = []
    open_r1: dict[tuple[str, str], list[Round]] = defaultdict(list)
    for rd in rounds:
        key = (rd.server, rd.map)
        if rd.round == 1:
            open_r1[key].append(rd)
            continue
        cands = [
            r1
            for r1 in open_r1[key]
            if r1.end < rd.end and rd.end - r1.end <= timedelta(minutes=45)
        ]
        if not cands:
            orphans.append(rd)
            continue
        r1 = cands[-1]
        open_r1[key].remove(r1)
        pairs.append((r1, rd))
    return pairs, orphans


def test_summary_and_files(history: tuple[Path, HistorySummary], rounds: list[Round]) -> None:
    out, s = history
    assert s.files == len(rounds) == s.rounds
    assert s.player_rounds == sum(len(r.players) for r in rounds)
    assert s.players == len({g for r in rounds for g in r.players})
    assert 40 <= s.players <= 60
    assert s.first == min(r.end for r in rounds) and s.last == max(r.end for r in rounds)
    assert sorted(p.name for p in out.iterdir()) == ["server-1", "server-2"]
    # Server name in the header differs per folder and is constant inside one.
    names = defaultdict(set)
    for r in rounds:
        names[r.server].add(r.header[0])
    assert all(len(v) == 1 for v in names.values())
    assert len({next(iter(v)) for v in names.values()}) == 2


def test_deterministic(history: tuple[Path, HistorySummary], tmp_path: Path) -> None:
    out, s = history
    again = generate_history(tmp_path, **SMALL)
    assert again == s
    a = {p.relative_to(out): p.read_bytes() for p in out.rglob("*.txt")}
    b = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*.txt")}
    assert a == b
    other = generate_history(tmp_path / "other", **{**SMALL, "seed": 8})
    assert other != s


def test_layouts_and_eras(rounds: list[Round]) -> None:
    layouts = [len(next(iter(r.players.values())).tabs) for r in rounds]
    assert layouts[-1] == 38
    assert layouts.count(38) > len(layouts) / 2
    assert {33, 36, 37} <= set(layouts)
    # Older layouts come first on each server.
    for server in {r.server for r in rounds}:
        seq = [len(next(iter(r.players.values())).tabs) for r in rounds if r.server == server]
        order = [33, 36, 37, 38]
        idx = [order.index(x) for x in seq]
        assert idx == sorted(idx)


def test_pairs_and_header_times(history: tuple[Path, HistorySummary], rounds: list[Round]) -> None:
    _, s = history
    pairs, orphans = _pairs(rounds)
    assert len(orphans) == s.orphans
    assert len(pairs) + len(orphans) == s.maps
    assert pairs
    crossing = 0
    for r1, r2 in pairs:
        h1, h2 = r1.header, r2.header
        assert h2[6] == h1[7]  # round 2 time limit = round 1 actual time
        assert h1[4] == h2[4]
        assert _secs(h1[7]) <= _secs(h1[6])
        if h1[5] == h1[4]:  # defence held: full time
            assert h1[7] == h1[6]
        if h2[7] != "0:00":
            assert _secs(h2[7]) <= _secs(h2[6])
            assert (h2[5] == h2[4]) == (h2[7] == h2[6])
        assert r2.end - r1.end >= timedelta(seconds=_secs(h2[7]))
        crossing += r1.end.date() != r2.end.date()
    # Sessions are long enough for some pairs to cross midnight.
    assert crossing >= 1


def test_round2_cumulative(history: tuple[Path, HistorySummary], rounds: list[Round]) -> None:
    _, s = history
    pairs, _ = _pairs(rounds)
    checked = resets = subs = 0
    for r1, r2 in pairs:
        for guid, p2 in r2.players.items():
            p1 = r1.players.get(guid)
            if p1 is None:
                subs += 1
                continue
            assert p2.team == 3 or p2.team != p1.team  # sides swap
            if p2.rounds == p1.rounds:  # reconnect reset: values are round-2-only
                resets += 1
                smaller = any(int(p2.tabs[i]) < int(p1.tabs[i]) for i in CUM_TAB[:-1])
                smaller = smaller or float(p2.tabs[22]) < float(p1.tabs[22])
                smaller = smaller or any(p2.total(i) < p1.total(i) for i in (0, 2, 3, 4))
                assert smaller
                continue
            assert p2.rounds == p1.rounds + 1
            checked += 1
            for i in CUM_TAB:
                assert float(p2.tabs[i]) >= float(p1.tabs[i]), (r2.path, guid, i)
            if len(p2.tabs) == 38:
                assert int(p2.tabs[20]) >= int(p1.tabs[20])
            for b, g1 in p1.weapons.items():
                g2 = p2.weapons.get(b)
                assert g2 is not None, (r2.path, guid, b)
                assert all(y >= x for x, y in zip(g1, g2, strict=True))
    assert checked > 1000
    assert resets == s.resets
    assert subs >= s.substitutes


def test_weekly_pattern(history: tuple[Path, HistorySummary], rounds: list[Round]) -> None:
    _, s = history
    for server, days in s.weekdays.items():
        ends = [r.end for r in rounds if r.server == server]
        starts = [ends[0]]
        for a, b in itertools.pairwise(ends):
            if b - a > timedelta(minutes=60):
                starts.append(b)
        on_days = sum(1 for t in starts if t.weekday() in days)
        assert on_days >= 0.75 * len(starts), (server, on_days, len(starts))
        evening = [t for t in starts if t.weekday() in days]
        assert all(20 <= t.hour <= 22 for t in evening)


def test_names_and_aliases(rounds: list[Round]) -> None:
    names: dict[str, set[str]] = defaultdict(set)
    for r in rounds:
        for p in r.players.values():
            names[p.guid].add(p.name)
    assert sum(1 for v in names.values() if len(v) > 1) >= 5
    all_names = {n for v in names.values() for n in v}
    assert sum(1 for n in all_names if COLOUR_RE.search(n)) >= 10
    assert all("\\" not in n and "\t" not in n for n in all_names)


def test_shared_names_in_larger_population(tmp_path: Path) -> None:
    generate_history(tmp_path, players=400, years=0.25, seed=3, servers=1)
    owners: dict[str, set[str]] = defaultdict(set)
    for path in tmp_path.glob("*.txt"):
        for line in path.read_bytes().decode("utf-8", "replace").split("\n")[1:]:
            if line:
                guid, name = line.split("\\")[:2]
                owners[COLOUR_RE.sub("", name)].add(guid)
    assert any(len(g) > 1 for g in owners.values())


def test_real_parser_accepts_everything(history: tuple[Path, HistorySummary]) -> None:
    statsfile = pytest.importorskip("etbot.statsfile")
    out, s = history
    count = 0
    for path in sorted(out.rglob("*.txt")):
        parsed = statsfile.parse_round(path.read_bytes(), path.name)
        assert len(parsed.players) == path.read_bytes().count(b"\n") - 1
        count += len(parsed.players)
    assert count == s.player_rounds

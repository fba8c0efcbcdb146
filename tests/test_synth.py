"""Tests for the synthetic history generator (etbot.synth).

The checks here are deliberately self-contained (they do not use the project's parser)
so that the generator is validated against FORMAT.md on its own; one extra test runs the
real parser over every generated file once it exists.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from etbot.synth import (
    TEST_CORPUS_SEED,
    CorpusManifest,
    HistorySummary,
    generate_history,
    generate_test_corpus,
)

SMALL: dict[str, Any] = {"players": 60, "years": 0.3, "seed": 7, "end": date(2024, 6, 30)}
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
    assert data.endswith(b"\n"), path
    assert not data.endswith(b"\n\n"), path
    assert b"\r" not in data
    lines = data.decode("utf-8", "replace").split("\n")[:-1]
    header = lines[0].split("\\")
    assert len(header) == 8, header
    assert header[1] == m.group(2)
    assert header[3] == m.group(3)
    assert header[4] in ("1", "2")
    assert header[5] in ("1", "2")
    assert MSS_RE.match(header[6]), header
    assert MSS_RE.match(header[7]), header
    players: dict[str, Player] = {}
    layouts = set()
    assert len(lines) > 1, "header-only file"
    for line in lines[1:]:
        pre, tab, rest = line.partition("\t")
        assert tab, line
        assert pre.endswith(" "), line
        parts = pre.split("\\")
        assert len(parts) == 5, line
        guid, name, rounds, team, weap = parts
        assert GUID_RE.match(guid)
        assert guid not in players
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
    assert s.first == min(r.end for r in rounds)
    assert s.last == max(r.end for r in rounds)
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


# --------------------------------------------------------------------------- test corpus
# The small corpus the suite falls back on without the real one (conftest). Each case it
# promises is found here again from the files alone, with the reader above, so the
# promise cannot rot silently; the manifest must name exactly what the files hold.


@pytest.fixture(scope="module")
def small(generated_corpus: tuple[Path, CorpusManifest]) -> tuple[Path, CorpusManifest]:
    return generated_corpus


@pytest.fixture(scope="module")
def small_rounds(small: tuple[Path, CorpusManifest]) -> list[Round]:
    folder, manifest = small
    paths = [p for p in folder.glob("*.txt") if p.name not in manifest.header_only]
    return sorted((_parse(p) for p in paths), key=lambda r: r.end)


def test_test_corpus_is_small_deterministic_and_one_server(
    small: tuple[Path, CorpusManifest], tmp_path: Path
) -> None:
    folder, manifest = small
    files = sorted(folder.iterdir())
    assert all(p.is_file() and p.suffix == ".txt" for p in files)  # one server, no folders
    assert 200 <= len(files) == manifest.files <= 400
    assert manifest.last < datetime(2025, 10, 31)  # "recent" periods are empty, as for real
    again = generate_test_corpus(tmp_path, TEST_CORPUS_SEED)
    assert again == manifest
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {
        p.name: p.read_bytes() for p in files
    }


def test_test_corpus_has_every_promised_case(
    small: tuple[Path, CorpusManifest], small_rounds: list[Round]
) -> None:
    folder, manifest = small
    rounds = small_rounds
    # All four layouts.
    layouts = Counter(len(next(iter(r.players.values())).tabs) for r in rounds)
    assert set(layouts) == LAYOUTS
    assert layouts == manifest.layouts
    # Header-only files: nothing but the header line.
    header_only = {p.name for p in folder.glob("*.txt") if p.read_bytes().count(b"\n") == 1}
    assert header_only
    assert header_only == set(manifest.header_only)
    # Round 1/round 2 pairs, orphans and a pair crossing midnight (FORMAT.md pairing).
    pairs, orphans = _pairs(rounds)
    pair_names = {(a.path.name, b.path.name) for a, b in pairs}
    assert len(pairs) > 50
    assert pair_names == set(manifest.pairs)
    assert len(orphans) >= 2
    assert {r.path.name for r in orphans} == set(manifest.orphans)
    midnight = {(a.path.name, b.path.name) for a, b in pairs if a.end.date() != b.end.date()}
    assert midnight
    assert midnight == set(manifest.midnight_pairs)
    # Per player in each pair: resets, substitutes, spectators.
    resets, subs, spectators = set(), set(), set()
    for r1, r2 in pairs:
        for guid, p2 in r2.players.items():
            key = (r2.path.name, guid)
            if p2.team == 3:
                spectators.add(key)
            p1 = r1.players.get(guid)
            if p1 is None:
                subs.add(key)
            elif p2.rounds == p1.rounds:  # the counter did not go up: a reconnect reset
                smaller = any(float(p2.tabs[i]) < float(p1.tabs[i]) for i in CUM_TAB)
                assert smaller or any(p2.total(i) < p1.total(i) for i in (0, 2, 3, 4))
                resets.add(key)
    assert resets
    assert resets == set(manifest.resets)
    assert subs
    assert subs == set(manifest.substitutes)
    assert spectators
    assert spectators == set(manifest.spectators)
    # Names: colour codes, GUIDs with several names, a name used by several GUIDs.
    raw_names: dict[str, set[str]] = defaultdict(set)
    non_utf8 = set()
    for path in folder.glob("*.txt"):
        for line in path.read_bytes().split(b"\n")[1:-1]:
            guid, raw = line.decode("utf-8", "surrogateescape").split("\\")[:2]
            raw_names[guid].add(raw)
            if not line.isascii():
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    non_utf8.add((path.name, guid))
    assert non_utf8
    assert non_utf8 == set(manifest.non_utf8)
    coloured = [n for v in raw_names.values() for n in v if COLOUR_RE.search(n)]
    assert len(coloured) >= 10
    assert len(coloured) == manifest.coloured_names
    clean = {g: {COLOUR_RE.sub("", raw).strip() for raw in v} for g, v in raw_names.items()}
    renamed = {g: tuple(sorted(v)) for g, v in clean.items() if len(v) > 1}
    assert len(renamed) >= 5
    assert renamed == manifest.renamed
    owners: dict[str, set[str]] = defaultdict(set)
    for guid, names in clean.items():
        for name in names:
            owners[name.lower()].add(guid)
    shared = {n: tuple(sorted(g)) for n, g in owners.items() if len(g) > 1}
    assert shared
    assert shared == manifest.shared_names


def test_test_corpus_imports_with_every_case(
    sqlite_db: object, small: tuple[Path, CorpusManifest]
) -> None:
    """The project's importer sees each case where the manifest says it is."""
    from etbot.ingest import Importer
    from etbot.models import Alias, MapResult, Player, PlayerRound, Round

    folder, manifest = small
    report = Importer().import_paths([folder])
    assert report.imported == manifest.files - len(manifest.header_only)
    assert report.rejected == [
        (name, "header only: the file has no player lines") for name in manifest.header_only
    ]
    assert report.orphans == len(manifest.orphans)
    assert report.paired == len(manifest.pairs)

    def flagged(condition: object) -> set[tuple[str, str]]:
        query = (
            PlayerRound.select(Round.file_name, Player.guid)
            .join(Round)
            .switch(PlayerRound)
            .join(Player)
            .where(condition)
        )
        return set(query.tuples())

    assert flagged(PlayerRound.reset) == set(manifest.resets)
    assert flagged(PlayerRound.only_round2) == set(manifest.substitutes)
    assert flagged(PlayerRound.team == 3) == set(manifest.spectators)
    assert {r.file_name for r in Round.select().where(Round.orphan)} == set(manifest.orphans)
    midnight = {
        (r.round1.file_name, r.file_name)
        for r in Round.select().where(Round.round1.is_null(False))
        if r.round1.ended_at.date() != r.ended_at.date()
    }
    assert midnight == set(manifest.midnight_pairs)
    draws = {
        (m.round1.file_name, m.round2.file_name)
        for m in MapResult.select().where(MapResult.outcome == "draw")
    }
    assert draws
    assert set(manifest.draws) <= draws
    # Aliases: every renamed GUID has several, the shared name has several owners, and
    # the bytes that are not UTF-8 were read as latin-1 (é), not dropped.
    for guid, names in manifest.renamed.items():
        aliases = Alias.select(Alias.name).join(Player).where(Player.guid == guid)
        assert len({a for (a,) in aliases.tuples()}) == len(names) > 1
    for name, guids in manifest.shared_names.items():
        owners = Alias.select(Player.guid).join(Player).where(Alias.name_lower == name)
        assert {g for (g,) in owners.tuples()} == set(guids)
    for file_name, guid in manifest.non_utf8:
        row = (
            PlayerRound.select(PlayerRound.name)
            .join(Round)
            .switch(PlayerRound)
            .join(Player)
            .where((Round.file_name == file_name) & (Player.guid == guid))
            .get()
        )
        assert "é" in row.name

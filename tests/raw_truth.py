"""Expected values for the query tests, recomputed from the raw files (a pytest plugin).

Where possible the query tests compare with values recomputed here from the raw files
with the parser (``etbot.statsfile``), independently of the ingest and of the SQL: a
database of the round 1 files only is imported for that (round 1 files hold plain
per-round values). Loaded by ``tests/conftest.py`` (``pytest_plugins``), so its fixtures
(``round1_db``, ``r1``, ``raw_round1``, ``full``) are available to every test module.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from peewee import Database

from conftest import _backends, corpus_files, import_files, make_database
from etbot.models import Player, database_proxy
from etbot.periods import Period, latest_round_time
from etbot.statsfile import ParsedRound, ParseError, parse_round

ALL = Period(None, None, "All time")


@dataclass
class Raw:
    """Per-player sums recomputed from parsed round 1 files."""

    rounds: int = 0
    kills: int = 0
    deaths: int = 0
    hits: int = 0
    shots: int = 0
    headshots: int = 0
    damage: int = 0
    time_s: int = 0
    revives: int = 0
    objectives: int = 0
    weapon_kills: Counter[str] = field(default_factory=Counter)
    maps: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))

    @property
    def kd(self) -> float:
        return self.kills / max(self.deaths, 1)

    @property
    def dpm(self) -> float:
        return self.damage * 60 / self.time_s if self.time_s else 0.0


def parsed_round1() -> list[ParsedRound]:
    out = []
    for path in corpus_files():
        if not path.name.endswith("round-1.txt"):
            continue
        try:
            out.append(parse_round(path.read_bytes(), path.name))
        except ParseError:
            continue  # the header-only file: rejected by the ingest too
    assert len(out) >= 50  # a corpus's worth of round 1 files
    return out


def raw_sums(rounds: list[ParsedRound], since: datetime | None = None) -> dict[str, Raw]:
    """Per GUID sums over the rounds, spectators left out (as every aggregate does)."""
    sums: dict[str, Raw] = defaultdict(Raw)
    for r in rounds:
        if since is not None and r.ended_at < since:
            continue
        for p in r.players:
            if p.is_bot or p.team == 3:
                continue
            s = sums[p.guid]
            t = p.tab
            played = round(float(t["time_played_min"] or 0) * 60)
            s.rounds += 1
            s.kills += p.kills
            s.deaths += p.deaths
            s.hits += p.hits
            s.shots += p.shots
            s.headshots += p.headshots
            s.damage += int(t["damage_given"] or 0)
            s.time_s += played
            s.revives += int(t["revives_given"] or 0)
            s.objectives += sum(
                int(t[k] or 0)
                for k in (
                    "dynamites_planted",
                    "dynamites_defused",
                    "objectives_stolen",
                    "objectives_returned",
                    "repairs",
                )
            )
            for w in p.weapons:
                s.weapon_kills[w.name] += w.kills
            m = s.maps[r.map]
            m[0] += 1
            m[1] += int(t["damage_given"] or 0)
            m[2] += played
    return sums


def guid_ids() -> dict[str, int]:
    return dict(Player.select(Player.guid, Player.id).tuples())


def now_of_db() -> datetime:
    now = latest_round_time()
    assert now is not None
    return now


def same_name_file(tmp_path: Path) -> Path:
    """A corpus round 1 file whose second player took the first player's name."""
    source = next(p for p in corpus_files() if p.name.endswith("round-1.txt"))
    lines = source.read_bytes().split(b"\n")
    first = lines[1].split(b"\\")
    second = lines[2].split(b"\\")
    assert first[0] != second[0]
    second[1] = first[1]
    lines[2] = b"\\".join(second)
    out = tmp_path / "2030-01-01-200000-te_escape2-round-1.txt"
    out.write_bytes(b"\n".join(lines))
    return out


def weekly_history(tmp_path: Path, sessions: list[datetime]) -> Path:
    """Copies of one corpus round 1 file, each a one-round session starting at the given time.

    The round ends its round time after the start (the file name holds the end). Each
    copy gets a different number of trailing newlines, so its content hash differs and
    the ingest does not take it for a duplicate.
    """
    source = next(p for p in corpus_files() if p.name.endswith("round-1.txt"))
    data = source.read_bytes()
    parsed = parse_round(data, source.name)
    assert parsed.round_time_s
    out = tmp_path / "history"
    out.mkdir()
    for i, start in enumerate(sessions):
        end = start + timedelta(seconds=parsed.round_time_s)
        name = f"{end:%Y-%m-%d-%H%M%S}-{parsed.map}-round-1.txt"
        (out / name).write_bytes(data + b"\n" * (i + 1))
    return out


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", params=_backends())
def round1_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """Only the corpus's round 1 files, imported once per module and backend."""
    files = [p for p in corpus_files() if p.name.endswith("round-1.txt")]
    database = make_database(request.param, tmp_path_factory.mktemp("round1"))
    import_files(files)
    yield database
    database.close()


@pytest.fixture
def r1(round1_db: Database) -> Database:
    database_proxy.initialize(round1_db)
    return round1_db


@pytest.fixture
def full(corpus: object) -> object:
    """The whole corpus, aggregates as the ingest maintained them (no rebuild here)."""
    return corpus


@pytest.fixture(scope="module")
def raw_round1() -> list[ParsedRound]:
    return parsed_round1()

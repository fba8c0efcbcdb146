"""Two ``etbot import`` processes at once on one database, SQLite and PostgreSQL.

Issue 12, items 4 and 5: on SQLite the second writer gave up with "database is locked"
(and two processes starting on a new database raced to migrate it); on PostgreSQL the
two imports deadlocked, reported concurrent duplicates as database errors and lost
updates of ``gaming_session.round_count``. Here two real processes import overlapping
folders of a generated history (a third of the files in both) into one database; both
must finish with a summary, every file must be imported exactly once, and the database
must hold exactly what one import of all the files gives.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from conftest import make_database
from etbot.db import drop_everything, open_database
from etbot.ingest import Importer
from etbot.models import (
    Alias,
    GamingSession,
    MapResult,
    Player,
    PlayerDay,
    PlayerRating,
    PlayerRound,
    Round,
    Server,
)
from etbot.synth import generate_history

SUMMARY = re.compile(
    r"^(\d+) imported, (\d+) duplicates, \d+ round 2s paired, \d+ orphans, (\d+) rejected",
    re.MULTILINE,
)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """About 530 generated round files (two servers, five weeks): enough for the two
    imports to meet on the same rows many times (measured: every run failed before)."""
    folder = tmp_path_factory.mktemp("history")
    generate_history(folder, players=80, years=0.05, seed=3)
    files = sorted(folder.rglob("*.txt"))
    assert len(files) > 400
    return files


def overlapping_folders(files: list[Path], root: Path) -> tuple[Path, Path, int]:
    """Folders ``a`` (the first two thirds of the files) and ``b`` (the last two thirds),
    as symbolic links; returns them and how many files both hold."""
    n = len(files)
    parts = {"a": files[: 2 * n // 3], "b": files[n // 3 :]}
    for name, part in parts.items():
        folder = root / name
        folder.mkdir()
        for f in part:
            (folder / f.name).symlink_to(f)
    return root / "a", root / "b", len(set(parts["a"]) & set(parts["b"]))


def import_at_once(url: str, folders: list[Path], cwd: Path) -> list[tuple[int, str, str]]:
    """Start ``etbot import`` on each folder at the same time; (exit code, out, err) each."""
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    procs = []
    for i, folder in enumerate(folders):
        out, err = cwd / f"import-{i}.out", cwd / f"import-{i}.err"
        with out.open("w") as fo, err.open("w") as fe:  # files: a full pipe would block
            procs.append(
                (
                    subprocess.Popen(  # noqa: S603 this interpreter running etbot
                        [sys.executable, "-m", "etbot", "import", "-q", str(folder)],
                        cwd=cwd,
                        env=env,
                        stdout=fo,
                        stderr=fe,
                    ),
                    out,
                    err,
                )
            )
    done = []
    for proc, out, err in procs:
        try:
            proc.wait(timeout=900)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        done.append((proc.returncode, out.read_text(), err.read_text()))
    return done


def dump() -> dict[str, Any]:
    """The database's content by natural keys (no ids, which depend on the order)."""
    guid = {p.id: p.guid for p in Player.select(Player.id, Player.guid)}
    rounds = {r.id: r for r in Round.select()}
    servers = {s.id: s.name for s in Server.select()}
    sessions = {s.id: s for s in GamingSession.select()}
    per_session = Counter(r.session_id for r in rounds.values())
    return {
        "rounds": sorted(
            (
                servers[r.server_id],
                r.file_name,
                rounds[r.round1_id].file_name if r.round1_id else None,
                r.orphan,
                sessions[r.session_id].started_at,
            )
            for r in rounds.values()
        ),
        "sessions": sorted(
            (servers[s.server_id], s.started_at, s.ended_at, s.round_count, per_session[s.id])
            for s in sessions.values()
        ),
        "player_rounds": sorted(
            (
                rounds[pr.round_id].file_name,
                guid[pr.player_id],
                *(pr.kills, pr.deaths, pr.hits, pr.damage_given, pr.time_played_s),
                *(pr.reset, pr.only_round2),
            )
            for pr in PlayerRound.select()
        ),
        "player_days": sorted(
            (guid[d.player_id], d.day, d.rounds, d.kills, d.damage_given, d.maps_won)
            for d in PlayerDay.select()
        ),
        "aliases": sorted((guid[a.player_id], a.name, a.rounds) for a in Alias.select()),
        "maps": sorted(
            (rounds[m.round2_id].file_name, m.outcome, m.winner_team) for m in MapResult.select()
        ),
        "ratings": sorted(
            (guid[r.player_id], r.mu, r.sigma, r.maps) for r in PlayerRating.select()
        ),
    }


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_imports_at_once_end_with_the_data_of_one(
    backend: str, history: list[Path], tmp_path: Path
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.db'}"  # new: the processes migrate it too
    else:
        database = make_database("postgres", tmp_path)  # skips without PostgreSQL
        url = os.environ["ETBOT_TEST_POSTGRES_URL"]
        drop_everything(database)  # empty: the processes migrate it too
        database.close()
    a, b, both = overlapping_folders(history, tmp_path)
    results = import_at_once(url, [a, b], tmp_path)
    counts = []
    for code, out, err in results:
        assert code == 0, err[-2000:]
        found = SUMMARY.search(out)
        assert found, (out, err[-2000:])
        counts.append(tuple(int(x) for x in found.groups()))
        assert "Traceback" not in err, err[-2000:]
    imported, duplicates, rejected = (sum(c[i] for c in counts) for i in range(3))
    assert rejected == 0, [out for _, out, _ in results]
    assert imported == len(history)  # each file exactly once…
    assert duplicates == both  # …and the other process's copy reported as a duplicate

    database = open_database(url, migrate_schema=False)
    try:
        concurrent = dump()
    finally:
        database.close()
    reference = open_database(f"sqlite:///{tmp_path / 'reference.db'}")
    try:
        assert Importer().import_paths(history).imported == len(history)
        expected = dump()
    finally:
        reference.close()
    for key, rows in expected.items():
        assert concurrent[key] == rows, key

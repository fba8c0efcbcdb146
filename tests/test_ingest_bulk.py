"""Bulk imports: files prepared in worker processes, batches written without savepoints.

A bulk import (``etbot import FOLDER``, the bot's start-up import) reads and parses files
in a process pool and writes each batch in fast mode (players and aliases of the whole
batch at once, no savepoint per file). These tests check it gives exactly the database
that a file-by-file import gives, and that a bad file is still reported with its name and
reason while the others are imported.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from peewee import Database, ForeignKeyField, Model

import etbot.ingest.prepare as prepare
from conftest import corpus_files
from etbot.db import drop_everything, migrate
from etbot.ingest import Importer, ImportReport
from etbot.ingest.results import FileResult
from etbot.models import (
    Alias,
    Announcement,
    GamingSession,
    MapResult,
    Player,
    PlayerDay,
    PlayerMapDay,
    PlayerMilestone,
    PlayerRating,
    PlayerRound,
    PlayerWeaponDay,
    RatingGame,
    RatingHistory,
    Round,
    SourceFile,
    WeaponRound,
)

#: Columns that hold the wall-clock time of the import itself (never equal twice).
CLOCK = {"imported_at", "recorded_at", "created_at", "updated_at", "posted_at"}
TABLES: list[type[Model]] = [
    SourceFile,
    Round,
    PlayerRound,
    WeaponRound,
    MapResult,
    GamingSession,
    Player,
    Alias,
    PlayerDay,
    PlayerWeaponDay,
    PlayerMapDay,
    RatingGame,
    RatingHistory,
    PlayerRating,
    PlayerMilestone,
    Announcement,
]


#: Tables whose ids are recomputed (derived rows are deleted and inserted again) or, on
#: PostgreSQL, taken from a sequence that upserts advance: compared without their ids.
NO_ID = {
    "Player",
    "Alias",
    "PlayerDay",
    "PlayerWeaponDay",
    "PlayerMapDay",
    "RatingGame",
    "RatingHistory",
    "PlayerRating",
    "PlayerMilestone",
    "Announcement",
}


def dump() -> dict[str, list[tuple[Any, ...]]]:
    """Every row the import writes, without the import's own clock; players by GUID."""
    guid = dict(Player.select(Player.id, Player.guid).tuples())
    out = {}
    for model in TABLES:
        fields = [
            f
            for f in model._meta.sorted_fields
            if f.name not in CLOCK and not (f.name == "id" and model.__name__ in NO_ID)
        ]
        players = [
            i
            for i, f in enumerate(fields)
            if isinstance(f, ForeignKeyField) and f.rel_model is Player
        ]
        rows = []
        for row in model.select(*fields).tuples():
            values = list(row)
            for i in players:
                values[i] = guid.get(values[i])
            if model is Announcement and values[0] == "milestone":  # "<player id>:stat:n"
                pid, _, rest = values[1].partition(":")
                values[1] = f"{guid.get(int(pid))}:{rest}"
            rows.append(tuple(values))
        out[model.__name__] = sorted(rows, key=repr)
    return out


def pooled(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Use the worker pool even for the small test corpus, in several small chunks (also
    if an earlier test left an idle thread behind, which would make it prepare in-process)."""
    monkeypatch.setattr(prepare, "POOL_MIN_FILES", 0)
    monkeypatch.setattr(prepare, "CHUNK", 7)
    monkeypatch.setattr(prepare, "can_fork", lambda: True)
    caplog.set_level(logging.DEBUG, logger=prepare.__name__)


def used_the_pool(caplog: pytest.LogCaptureFixture) -> bool:
    return any("worker processes" in r.getMessage() for r in caplog.records)


def fresh(db: Database) -> None:
    drop_everything(db)
    migrate(db)


def test_pool_and_fast_batches_give_the_database_of_a_file_by_file_import(
    db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder = tmp_path / "gamestats"
    folder.mkdir()
    for path in corpus_files():
        shutil.copy(path, folder / path.name)

    serial = Importer().import_paths([folder], workers=0, batch_size=1)
    expected = dump()
    fresh(db)
    pooled(monkeypatch, caplog)
    bulk = Importer().import_paths([folder], workers=2)  # one batch of every file
    got = dump()

    assert used_the_pool(caplog)
    assert bulk.imported == serial.imported > 100
    assert (bulk.paired, bulk.orphans, bulk.rejected) == (
        serial.paired,
        serial.orphans,
        serial.rejected,
    )
    assert got.keys() == expected.keys()
    for table in expected:
        assert got[table] == expected[table], table
    for table in ("PlayerRound", "RatingHistory", "PlayerDay", "Alias"):
        assert expected[table], table


def test_a_bad_file_in_a_pooled_batch_is_reported_and_the_rest_imported(
    db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder = tmp_path / "gamestats"
    folder.mkdir()
    good = corpus_files()[:40]
    for path in good:
        shutil.copy(path, folder / path.name)
    broken = "2024-05-01-210000-supply-round-1.txt"
    (folder / broken).write_bytes(b"not a stats file\n")
    huge = "2024-05-01-220000-supply-round-1.txt"
    (folder / huge).write_bytes(b"x" * (5 * 1024 * 1024))
    pooled(monkeypatch, caplog)

    report = Importer().import_paths([folder], workers=2)

    assert used_the_pool(caplog)
    reasons = dict(report.rejected)
    assert set(reasons) >= {broken, huge}
    assert "header" in reasons[broken]
    assert reasons[huge].startswith("cannot read: larger than any stats file")
    rejected_good = {name for name in reasons if name not in (broken, huge)}
    assert report.imported == len(good) - len(rejected_good)
    assert Round.select().count() == report.imported
    assert not SourceFile.select().where(SourceFile.file_name.in_([broken, huge])).exists()


def test_a_database_error_in_a_fast_batch_costs_only_that_file(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = sorted(corpus_files(), key=lambda p: p.name)[:30]
    victim = files[4].name
    original = Importer._store

    def failing(self: Importer, parsed: Any, content: bytes, digest: str) -> Any:
        result = original(self, parsed, content, digest)  # rows are written…
        if parsed.file_name == victim:
            raise RuntimeError("disk on fire")  # …then the database fails
        return result

    monkeypatch.setattr(Importer, "_store", failing)
    report = ImportReport()
    Importer().import_many([(p.name, p.read_bytes()) for p in files], report)

    reasons = dict(report.rejected)
    assert reasons.pop(victim) == "database error: disk on fire"
    assert not [r for r in reasons.values() if "database" in r]  # others: unparseable files
    assert report.imported == len(files) - 1 - len(reasons)
    assert not Round.select().where(Round.file_name == victim).exists()
    # the players and aliases written for the whole batch were rolled back with it and
    # written again file by file: every alias counts exactly the rounds stored
    counted = {
        (a.player_id, a.name): a.rounds
        for a in Alias.select(Alias.player, Alias.name, Alias.rounds)
    }
    stored = PlayerRound.select(PlayerRound.player, PlayerRound.name).tuples().iterator()
    rounds: dict[tuple[int, str], int] = {}
    for player_id, name in stored:
        rounds[player_id, name] = rounds.get((player_id, name), 0) + 1
    assert counted == rounds
    assert Player.select().count() == len({pid for pid, _ in rounds})


def test_the_workers_yield_the_cpu_to_the_importer_and_the_game_server(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    # Each worker reports its own CPU priority as the "reason" of the file it prepared.
    pooled(monkeypatch, caplog)

    def report_niceness(path: str) -> FileResult:
        return FileResult(Path(path).name, "rejected", str(os.nice(0)))

    monkeypatch.setattr(prepare, "read_and_prepare", report_niceness)
    paths = [tmp_path / f"{i}.txt" for i in range(30)]

    results = list(prepare.prepare_paths(paths, workers=2))

    assert used_the_pool(caplog)
    assert [r.file_name for r in results] == [p.name for p in paths]  # in order
    mine = os.nice(0)
    reasons = {r.reason for r in results if isinstance(r, FileResult)}
    assert reasons == {str(min(mine + prepare.WORKER_NICENESS, 19))}

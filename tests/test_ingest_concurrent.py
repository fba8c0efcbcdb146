"""Two ``etbot import`` processes at once on one database, SQLite and PostgreSQL.

Issue 12, items 4 and 5: on SQLite the second writer gave up with "database is locked"
(and two processes starting on a new database raced to migrate it); on PostgreSQL the
two imports deadlocked, reported concurrent duplicates as database errors and lost
updates of ``gaming_session.round_count``. Here two real processes import overlapping
folders of a generated history (a third of the files in both) into one database; both
must finish with a summary, every file must be imported exactly once, and the database
must hold exactly what one import of all the files gives.

Issue 13: two processes importing the SAME folder at once (every file offered to both,
in the same order, so they meet on every batch), and the comparison covers every table
the import writes, column by column (:func:`table_digests`), not only the columns a
reader would look at first.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from peewee import AutoField, ForeignKeyField, Model

from conftest import make_database
from etbot.db import drop_everything, open_database
from etbot.ingest import Importer
from etbot.models import (
    ALL_MODELS,
    Alias,
    Announcement,
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
        concurrent_tables = table_digests(ignore=ORDER_DEPENDENT)
    finally:
        database.close()
    reference = open_database(f"sqlite:///{tmp_path / 'reference.db'}")
    try:
        assert Importer().import_paths(history).imported == len(history)
        expected = dump()
        expected_tables = table_digests(ignore=ORDER_DEPENDENT)
    finally:
        reference.close()
    for key, rows in expected.items():
        assert concurrent[key] == rows, key
    assert_same_tables(concurrent_tables, expected_tables)


#: Columns that depend on the order files arrive in, which differs between one import of
#: all files and two of overlapping parts: a milestone is dated by the history present
#: when it is first crossed, and a stored milestone is never changed afterwards (see
#: etbot.achievements). Two imports of the same folder walk it in one order and are
#: compared on these columns too.
ORDER_DEPENDENT = {"player_milestone": {"reached_on"}}

#: Columns that say when or by whom a row was written, not what it holds.
VOLATILE = {"imported_at", "created_at", "recorded_at", "fetched_at", "claimed_at", "claimed_by"}


def _plain(value: Any) -> Any:
    """A value as comparable text-like data, equal across SQLite and PostgreSQL."""
    if isinstance(value, bytes | memoryview):
        return hashlib.sha256(bytes(value)).hexdigest()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return value.hex()  # bit-exact
    return value


def table_digests(
    ignore: dict[str, set[str]] | None = None,
) -> dict[str, tuple[int, str, list[tuple[Any, ...]]]]:
    """Every table's rows as (count, sha256, sorted rows), independent of row ids.

    A row is its columns in model order without its auto id and without the
    :data:`VOLATILE` columns; a foreign key is replaced by a short hash of the row it
    points to (computed the same way, recursively), so two databases that hold the same
    data under other ids give the same digests. A self-reference (a round 2's round 1)
    points to the target's row without its own self-references. Outbox keys hold row
    ids, so the outbox is compared by (kind, status) only. ``ignore``: more columns to
    leave out, per table name.
    """
    ignore = ignore or {}
    hashes: dict[tuple[type[Model], bool], dict[Any, str]] = {}

    def rows_of(model: type[Model], *, without_self: bool) -> dict[Any, tuple[Any, ...]]:
        fields = [
            f
            for f in model._meta.sorted_fields
            if not isinstance(f, AutoField)
            and f.name not in VOLATILE
            and f.name not in ignore.get(model._meta.table_name, set())
        ]
        if without_self:
            fields = [
                f for f in fields if not (isinstance(f, ForeignKeyField) and f.rel_model is model)
            ]
        targets = {
            f.name: ref_hashes(f.rel_model, self_ref=f.rel_model is model)
            for f in fields
            if isinstance(f, ForeignKeyField)
        }
        pk = model._meta.primary_key
        key_fields = pk.field_names if hasattr(pk, "field_names") else [pk.name]
        out: dict[Any, tuple[Any, ...]] = {}
        for row in model.select().dicts():
            values = []
            for f in fields:
                value = row[f.name]
                if f.name in targets and value is not None:
                    value = targets[f.name][value]
                values.append(_plain(value))
            out[tuple(row[k] for k in key_fields)] = tuple(values)
        return out

    def ref_hashes(model: type[Model], *, self_ref: bool) -> dict[Any, str]:
        cached = hashes.get((model, self_ref))
        if cached is None:
            rows = rows_of(model, without_self=self_ref)
            cached = {
                key[0]: hashlib.sha256(repr(row).encode()).hexdigest()[:20]
                for key, row in rows.items()
            }
            hashes[(model, self_ref)] = cached
        return cached

    result: dict[str, tuple[int, str, list[tuple[Any, ...]]]] = {}
    for model in ALL_MODELS:
        name = model._meta.table_name
        if model is Announcement:
            rows = sorted(
                Counter(
                    Announcement.select(Announcement.kind, Announcement.status).tuples()
                ).items()
            )
            flat: list[tuple[Any, ...]] = [(*k, n) for k, n in rows]
        else:
            flat = sorted(rows_of(model, without_self=False).values(), key=repr)
        digest = hashlib.sha256(repr(flat).encode()).hexdigest()
        result[name] = (len(flat), digest, flat)
    return result


def assert_same_tables(
    got: dict[str, tuple[int, str, list[tuple[Any, ...]]]],
    expected: dict[str, tuple[int, str, list[tuple[Any, ...]]]],
) -> None:
    """Same row count and digest in every table; else the first rows that differ."""
    assert got.keys() == expected.keys()
    for name, (count, digest, rows) in expected.items():
        if got[name][1] == digest:
            continue
        missing = [r for r in rows if r not in set(got[name][2])][:3]
        extra = [r for r in got[name][2] if r not in set(rows)][:3]
        raise AssertionError(
            f"{name}: {got[name][0]} rows, expected {count}; missing {missing}, unexpected {extra}"
        )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_imports_of_one_folder_at_once_end_with_the_data_of_one(
    backend: str, history: list[Path], tmp_path: Path
) -> None:
    """Issue 13: two ``etbot import`` processes started together on the same folder.

    Both walk the files in the same order, so every batch of one meets the same batch of
    the other: each file must be imported by exactly one of them (the other reports it
    as a duplicate), and every table must end as one import leaves it.
    """
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.db'}"
    else:
        database = make_database("postgres", tmp_path)  # skips without PostgreSQL
        url = os.environ["ETBOT_TEST_POSTGRES_URL"]
        drop_everything(database)  # empty: the processes migrate it too
        database.close()
    folder = tmp_path / "stats"
    folder.mkdir()
    for f in history:
        (folder / f.name).symlink_to(f)
    results = import_at_once(url, [folder, folder], tmp_path)
    counts = []
    for code, out, err in results:
        assert code == 0, err[-2000:]
        assert "Traceback" not in err, err[-2000:]
        found = SUMMARY.search(out)
        assert found, (out, err[-2000:])
        counts.append(tuple(int(x) for x in found.groups()))
    assert [c[2] for c in counts] == [0, 0]  # nothing rejected
    assert sum(c[0] for c in counts) == len(history)  # each file imported once…
    assert sum(c[1] for c in counts) == len(history)  # …and a duplicate for the other

    database = open_database(url, migrate_schema=False)
    try:
        concurrent = table_digests()
        concurrent_dump = dump()
    finally:
        database.close()
    reference = open_database(f"sqlite:///{tmp_path / 'reference.db'}")
    try:
        # One import of the same folder (the order matters for milestone dates).
        assert Importer().import_paths([folder]).imported == len(history)
        expected = table_digests()
        expected_dump = dump()
    finally:
        reference.close()
    for key, rows in expected_dump.items():  # readable differences first
        assert concurrent_dump[key] == rows, key
    assert_same_tables(concurrent, expected)
    # The comparison covered the tables an import fills (a digest of nothing proves nothing).
    filled = {name for name, (count, _, _) in expected.items() if count}
    assert {
        "round",
        "player_round",
        "weapon_round",
        "player_day",
        "player_map_day",
        "map_result",
        "player_rating",
        "rating_history",
    } <= filled

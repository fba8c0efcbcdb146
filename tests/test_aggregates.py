"""PlayerDay / PlayerWeaponDay stay equal to a recomputation from the rows."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from peewee import Database, Table

from conftest import corpus_files
from etbot import aggregates
from etbot.db import migrate
from etbot.ingest import Importer, ImportReport
from etbot.models import (
    MapResult,
    Player,
    PlayerDay,
    PlayerMapDay,
    PlayerRound,
    PlayerWeaponDay,
    Round,
    WeaponRound,
)

DAY_COLUMNS = [f.name for f in PlayerDay._meta.sorted_fields if f.name != "id"]
WEAPON_COLUMNS = [f.name for f in PlayerWeaponDay._meta.sorted_fields if f.name != "id"]
MAP_COLUMNS = [f.name for f in PlayerMapDay._meta.sorted_fields if f.name != "id"]
Snapshot = tuple[list[tuple[Any, ...]], ...]


def snapshot() -> Snapshot:
    days = sorted(
        PlayerDay.select(*[getattr(PlayerDay, c) for c in DAY_COLUMNS]).tuples(),
        key=lambda r: (r[0], r[1], r[2]),  # player, day, server
    )
    weapons = sorted(
        PlayerWeaponDay.select(*[getattr(PlayerWeaponDay, c) for c in WEAPON_COLUMNS]).tuples(),
        key=lambda r: (r[0], r[1], r[2], r[3]),  # player, day, server, weapon | map
    )
    maps = sorted(
        PlayerMapDay.select(*[getattr(PlayerMapDay, c) for c in MAP_COLUMNS]).tuples(),
        key=lambda r: (r[0], r[1], r[2], r[3]),  # player, day, server, weapon | map
    )
    return days, weapons, maps


def rebuilt() -> Snapshot:
    aggregates.rebuild_all()
    return snapshot()


def import_batches(batch: int = 25, *, reverse: bool = False) -> ImportReport:
    """Import the corpus in batches; newest first puts round 2s before their round 1."""
    files = sorted(corpus_files(), key=lambda p: p.name, reverse=reverse)
    total = ImportReport()
    importer = Importer()
    for i in range(0, len(files), batch):
        importer.import_many([(p.name, p.read_bytes()) for p in files[i : i + batch]], total)
    return total


def test_ingest_keeps_aggregates_equal_to_a_rebuild(db: Database) -> None:
    # Newest first: round 2s arrive as orphans and get paired (re-derived) later.
    report = import_batches(reverse=True)
    assert report.repaired_round_ids, "the order must force re-derived round 2s"
    maintained = snapshot()
    assert all(maintained)
    assert maintained == rebuilt()


def test_refresh_rounds_after_each_batch_is_enough(db: Database) -> None:
    files = sorted(corpus_files(), key=lambda p: p.name, reverse=True)
    importer = Importer()
    repaired = 0
    for i in range(0, len(files), 30):
        report = ImportReport()
        importer.import_many([(p.name, p.read_bytes()) for p in files[i : i + 30]], report)
        # What the ingest does at the end of a batch (idempotent if it already did).
        aggregates.refresh_rounds(report.new_round_ids + report.repaired_round_ids)
        repaired += len(report.repaired_round_ids)
    assert repaired
    assert snapshot() == rebuilt()


def test_aggregates_match_rows_without_orphans_and_spectators(db: Database) -> None:
    import_batches()
    aggregates.rebuild_all()
    expected: dict[tuple[int, date], dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    results = {
        m.round2_id: m.winner_team
        for m in MapResult.select().where(MapResult.winner_team.is_null(False))
    }
    assert results
    skipped = 0
    for row in PlayerRound.select():
        if row.orphan or row.team == 3:
            skipped += 1
            continue
        e = expected[(row.player_id, row.ended_at.date())]
        e["rounds"] += 1
        for name in aggregates.SUMMED:
            e[name] += getattr(row, name)
        e["objectives"] += (
            row.dynamites_planted
            + row.dynamites_defused
            + row.objectives_stolen
            + row.objectives_returned
            + (row.repairs or 0)
        )
        e["revives"] += row.revives_given or 0
        result = results.get(row.round_id)
        e["maps_won"] += result is not None and row.team == result
        e["maps_lost"] += result is not None and row.team != result
        e["first_at"] = min(e.get("first_at", datetime.max), row.ended_at)
        e["last_at"] = max(e.get("last_at", datetime.min), row.ended_at)
    assert skipped, "the corpus has orphan and spectator rows"
    got = {(d.player_id, d.day): d for d in PlayerDay.select()}
    assert got.keys() == expected.keys()
    for key, e in expected.items():
        for name, value in e.items():
            assert getattr(got[key], name) == value, (key, name)
    assert sum(d.maps_won for d in got.values()) > 0 < sum(d.maps_lost for d in got.values())


def test_map_aggregates_match_rows(db: Database) -> None:
    import_batches()
    aggregates.rebuild_all()
    expected: dict[tuple[int, date, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in PlayerRound.select():
        if not row.orphan and row.team != 3:
            e = expected[(row.player_id, row.ended_at.date(), row.map)]
            e[0] += 1
            e[1] += row.damage_given
            e[2] += row.time_played_s
    got = {
        (m.player_id, m.day, m.map): [m.rounds, m.damage_given, m.time_played_s]
        for m in PlayerMapDay.select()
    }
    assert got == dict(expected)


def test_weapon_aggregates_match_rows(db: Database) -> None:
    import_batches()
    aggregates.rebuild_all()
    counted = {
        (r.round_id, r.player_id): r.ended_at.date()
        for r in PlayerRound.select()
        if not r.orphan and r.team != 3
    }
    expected: dict[tuple[int, date, int], int] = defaultdict(int)
    for w in WeaponRound.select():
        day = counted.get((w.round_id, w.player_id))
        if day is not None:
            expected[(w.player_id, day, w.weapon)] += w.kills
    got = {(w.player_id, w.day, w.weapon): w.kills for w in PlayerWeaponDay.select()}
    assert got == dict(expected)


def test_refresh_repairs_stale_rows_and_removes_empty_keys(db: Database) -> None:
    import_batches(batch=300)
    good = rebuilt()
    some = list(PlayerDay.select().limit(5))
    keys = {(d.player_id, d.day) for d in some}
    PlayerDay.update(kills=PlayerDay.kills + 1000).where(
        PlayerDay.id.in_([d.id for d in some])
    ).execute()
    PlayerWeaponDay.delete().where(PlayerWeaponDay.player == some[0].player_id).execute()
    player = Player.select().first()
    ghost = (player.id, date(1999, 1, 1))  # a key without any round
    PlayerDay.insert(
        player=player.id,
        day=ghost[1],
        first_at=datetime(1999, 1, 1, 20),
        last_at=datetime(1999, 1, 1, 20),
        **{c: 1 for c in DAY_COLUMNS if c not in ("player", "day", "first_at", "last_at")},
    ).execute()
    assert snapshot() != good
    weapon_keys = {
        (w.player_id, w.day)
        for w in PlayerDay.select().where(PlayerDay.player == some[0].player_id)
    }
    assert aggregates.refresh(keys | weapon_keys | {ghost}) == len(keys | weapon_keys | {ghost})
    assert snapshot() == good
    assert aggregates.refresh(set()) == 0


def test_migration_backfills_existing_rows(db: Database) -> None:
    """0002/0003 create and fill the aggregates of an existing database, 0013 widens
    them, 0015 re-keys them per server and fills them again: the result is a rebuild."""
    import_batches(batch=300)
    expected = rebuilt()
    db.drop_tables([PlayerMapDay, PlayerWeaponDay, PlayerDay])
    again = [
        "0002_player_day",
        "0003_player_map_day",
        "0013_hardening",
        "0015_aggregates_per_server",
    ]
    history = Table("schema_migration").bind(db)
    history.delete().where(history.c.name.in_(again)).execute()
    assert migrate(db) == again
    assert snapshot() == expected


def test_day_totals_beyond_32_bits_are_stored(db: Database) -> None:
    """216 rounds of one player on one day, each with 9,999,999 damage (within the
    parser's bounds): the day's sum, 2,159,999,784, needs 64 bits (issue 12, item 2). On
    PostgreSQL the 32-bit player_day columns made the whole batch fail."""
    from conftest import read_round, write_round

    src = next(p for p in corpus_files() if p.name.endswith("-round-1.txt"))
    header, players = read_round(src)
    header[1] = "bigday"  # a map of its own: nothing pairs with these rounds
    player = players[0]
    player.tabs[0] = "9999999"
    files = []
    for i in range(216):
        minute = 6 * i
        name = f"2032-02-02-{minute // 60:02d}{minute % 60:02d}00-bigday-round-1.txt"
        header[2] = f"cfg{i}"  # each file its own content
        files.append((name, write_round(header, [player])))
    report = ImportReport()
    Importer().import_many(files, report)
    assert report.imported == 216, report.rejected
    (day,) = PlayerDay.select().where(PlayerDay.day == date(2032, 2, 2))
    assert day.damage_given == 216 * 9_999_999
    (by_map,) = PlayerMapDay.select().where(PlayerMapDay.day == date(2032, 2, 2))
    assert by_map.damage_given == 216 * 9_999_999
    assert snapshot() == rebuilt()


def test_two_servers_get_rows_of_their_own(db: Database) -> None:
    """Two game servers whose rounds interleave on the same evenings: one aggregate row
    per (player, day, server), each with that server's rounds only, kept equal to a
    rebuild by the batch-wise ingest (newest first, so round 2s get re-paired)."""
    from servers_helpers import two_server_files

    everything = two_server_files(corpus_files())
    importer = Importer()
    report = ImportReport()
    for i in range(len(everything), 0, -40):
        importer.import_many(everything[max(0, i - 40) : i], report)
    assert report.repaired_round_ids
    assert snapshot() == rebuilt()
    expected: dict[tuple[int, date, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    rows = (
        PlayerRound.select(PlayerRound, Round.id, Round.server)
        .join(Round)
        .where((PlayerRound.orphan == False) & (PlayerRound.team != 3))  # noqa: E712
    )
    for row in rows:
        e = expected[(row.player_id, row.ended_at.date(), row.round.server_id)]
        e[0] += 1
        e[1] += row.kills
        e[2] += row.damage_given
    got = {
        (d.player_id, d.day, d.server_id): [d.rounds, d.kills, d.damage_given]
        for d in PlayerDay.select()
    }
    assert got == dict(expected)
    assert len({k[2] for k in got}) == 2
    assert len(got) > len({k[:2] for k in got}), "some players play both servers on a day"
    by_map: dict[tuple[int, date, int], int] = defaultdict(int)
    for m in PlayerMapDay.select():
        by_map[(m.player_id, m.day, m.server_id)] += m.rounds
    assert dict(by_map) == {k: v[0] for k, v in expected.items()}
    server_of = {(r.round_id, r.player_id): (r.ended_at.date(), r.round.server_id) for r in rows}
    weapons: dict[tuple[int, date, int, int], int] = defaultdict(int)
    for w in WeaponRound.select():
        if (w.round_id, w.player_id) in server_of:
            day, server = server_of[(w.round_id, w.player_id)]
            weapons[(w.player_id, day, server, w.weapon)] += w.kills
    assert {
        (w.player_id, w.day, w.server_id, w.weapon): w.kills for w in PlayerWeaponDay.select()
    } == dict(weapons)


def test_a_refresh_gives_back_the_planner_settings_it_changed(pg_db: Database) -> None:
    """On PostgreSQL a refresh plans its statements its own way (see aggregates); what runs
    after it in the same import transaction (the rating and milestone hooks) must plan
    with the settings it had."""
    Importer().import_many([(p.name, p.read_bytes()) for p in corpus_files()[:20]])
    keys = aggregates.keys_for_rounds([r.id for r in Round.select(Round.id)])

    def settings() -> list[str]:
        return [
            pg_db.execute_sql("SELECT current_setting(%s)", (name,)).fetchone()[0]
            for name in ("enable_mergejoin", "enable_hashjoin", "jit")
        ]

    with pg_db.atomic():
        pg_db.execute_sql("SET LOCAL jit = off")  # as the importer's batch does
        expected = settings()
        assert aggregates.refresh(keys) == len(keys) > 0
        assert settings() == expected == ["on", "on", "off"]

"""Ingest on the corpus: pairing, differential, orphans, resets, aliases, sessions.

The corpus is the real one when present, else the generated one (conftest); tests named
``hand_checked`` (or taking ``real_corpus``) check values read off real files by hand.
"""

from __future__ import annotations

import itertools
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from peewee import fn

from conftest import (
    PlayerLine,
    corpus_files,
    corpus_info,
    evening,
    first_pair,
    import_files,
    read_round,
    write_round,
)
from etbot.ingest import Importer, ImportReport, pair_rounds
from etbot.models import (
    Alias,
    GamingSession,
    MapResult,
    Player,
    PlayerDay,
    PlayerRound,
    PlayerWeaponDay,
    Round,
    Server,
    SourceFile,
    WeaponRound,
)
from etbot.statsfile import parse_round


def row(file_name: str, guid: str) -> PlayerRound:
    return (
        PlayerRound.select()
        .join(Round)
        .switch(PlayerRound)
        .join(Player)
        .where((Round.file_name == file_name) & (Player.guid == guid))
        .get()
    )


def weapons(file_name: str, guid: str) -> dict[int, tuple[int, ...]]:
    q = (
        WeaponRound.select()
        .join(Round)
        .switch(WeaponRound)
        .join(Player)
        .where((Round.file_name == file_name) & (Player.guid == guid))
    )
    return {w.weapon: (w.hits, w.shots, w.kills, w.deaths, w.headshots) for w in q}


def test_corpus_summary(corpus) -> None:
    info = corpus_info()
    files = info.files
    assert corpus.imported == len(files) - len(info.header_only)
    assert corpus.rejected == [
        (name, "header only: the file has no player lines") for name in info.header_only
    ]
    assert all(name.endswith("round-2.txt") for name in info.header_only)
    round2 = sum(1 for p in files if p.name.endswith("round-2.txt")) - len(info.header_only)
    assert corpus.paired + corpus.orphans == round2
    assert MapResult.select().count() == corpus.paired
    assert Round.select().where(Round.orphan).count() == corpus.orphans
    assert corpus.orphans > 0


def test_round2_differential_37_layout_hand_checked(real_corpus) -> None:
    # Read off 2025-09-24-233255/233657 te_escape2 by hand (see FORMAT.md rules):
    # cumulative values minus round 1, knife shots went DOWN (2 < 4) and floor at 0.
    r2 = "2025-09-24-233657-te_escape2-round-2.txt"
    vid = row(r2, "D8423F90")
    assert (vid.reset, vid.only_round2, vid.orphan) == (False, False, False)
    assert (vid.kills, vid.deaths, vid.hits, vid.shots, vid.headshots) == (6, 5, 48, 109, 5)
    assert (vid.damage_given, vid.damage_received, vid.team_damage_given) == (934, 989, 18)
    assert (vid.gibs, vid.self_kills, vid.time_played_s) == (3, 0, 204)
    # round-2-only fields stored as written
    assert (vid.xp, vid.kill_assists, vid.headshot_kills, vid.times_revived) == (42, 2, 1, 1)
    assert vid.time_dead_s == 54
    # 37-field layout: no revives given, no reliable bullets fired
    assert vid.revives_given is None
    assert vid.bullets_fired is None
    assert vid.repairs == 0
    assert weapons(r2, "D8423F90") == {
        1: (0, 2, 0, 0, 0),
        3: (0, 2, 0, 0, 0),
        4: (6, 10, 1, 5, 0),
        5: (42, 95, 5, 0, 5),
    }


def test_round2_differential_38_layout_hand_checked(real_corpus) -> None:
    r2 = "2025-10-12-221603-te_escape2-round-2.txt"
    p = row(r2, "EDBB5DA9")
    assert (p.kills, p.deaths, p.hits, p.shots, p.headshots) == (2, 2, 23, 57, 2)
    assert (p.damage_given, p.damage_received, p.team_damage_given, p.team_damage_received) == (
        473,
        389,
        18,
        17,
    )
    assert (p.gibs, p.self_kills, p.time_played_s, p.time_dead_s) == (0, 2, 144, 126)
    assert p.bullets_fired == 57  # 38-field layout: cumulative, subtracted
    assert (p.xp, p.useless_kills, p.revives_given, p.denied_playtime) == (8, 1, 0, 3)
    assert p.team == 1
    assert row("2025-10-12-221244-te_escape2-round-1.txt", "EDBB5DA9").team == 2


def test_round1_is_stored_as_written(corpus) -> None:
    # Every round 1 file (on the real corpus this includes the hand-checked
    # 2025-09-24-233255 te_escape2 file), against one query for all stored round 1 rows.
    stored = {
        (file_name, guid): (kills, deaths, damage)
        for file_name, guid, kills, deaths, damage in PlayerRound.select(
            Round.file_name, Player.guid, PlayerRound.kills, PlayerRound.deaths,
            PlayerRound.damage_given,
        )
        .join(Round)
        .switch(PlayerRound)
        .join(Player)
        .where(Round.round_no == 1)
        .tuples()
    }  # fmt: skip
    expected = {}
    for path in corpus_files():
        if path.name.endswith("round-1.txt"):
            for p in parse_round(path.read_bytes(), path.name).players:
                expected[(path.name, p.guid)] = (p.kills, p.deaths, p.tab["damage_given"])
    assert len(expected) > 500
    assert stored == expected


def test_midnight_pair(corpus) -> None:
    round1, round2 = corpus_info().midnight_pair
    assert round1[:10] < round2[:10]  # the dates in the file names differ
    r2 = Round.get(Round.file_name == round2)
    assert r2.round1.file_name == round1
    assert not r2.orphan
    assert r2.time_limit_s == r2.round1.round_time_s  # header cross-check


def test_every_pair_satisfies_the_header_time_rule(corpus) -> None:
    pairs = Round.select().where(Round.round1.is_null(False))
    for r2 in pairs:
        r1 = r2.round1
        assert r1.map == r2.map
        assert timedelta(0) < r2.ended_at - r1.ended_at <= timedelta(minutes=45)
        assert r2.time_limit_s == r1.round_time_s, r2.file_name


def test_orphan_is_flagged_and_kept_as_written(real_corpus) -> None:
    name = "2025-10-26-200001-etl_sp_delivery-round-2.txt"
    orphan = Round.get(Round.file_name == name)
    assert orphan.orphan
    assert orphan.round1 is None
    p = row(name, "C74FB315")
    assert p.orphan
    assert (p.damage_given, p.time_played_s) == (154, 72)
    assert not MapResult.select().where(MapResult.round2 == orphan.id).exists()


def test_reconnect_reset_takes_round2_as_written(real_corpus) -> None:
    # Imb3cil's counters went down (damage received 2350 < 3266, rounds 1 -> 1).
    p = row("2025-10-26-203013-etl_sp_delivery-round-2.txt", "C74FB315")
    assert p.reset
    assert not p.only_round2
    assert (p.damage_given, p.damage_received, p.time_played_s) == (1449, 2350, 666)
    others = (
        PlayerRound.select()
        .join(Round)
        .where(Round.file_name == "2025-10-26-203013-etl_sp_delivery-round-2.txt")
        .where(PlayerRound.reset)
        .count()
    )
    assert others == 1


def test_substitute_only_in_round2(real_corpus) -> None:
    name = "2025-10-25-161002-supply-round-2.txt"
    sub = PlayerRound.select().join(Round).where(Round.file_name == name, PlayerRound.only_round2)
    assert [p.name for p in sub] == ["MaccabrosLicious"]


def _written(file_name: str, guid: str) -> tuple[object, ...]:
    """A player's values exactly as the file holds them (parser, no differential)."""
    path = corpus_info().folder / file_name
    p = next(p for p in parse_round(path.read_bytes(), file_name).players if p.guid == guid)
    return (p.kills, p.deaths, p.hits, p.tab["damage_given"], p.tab["damage_received"])


def _stored(p: PlayerRound) -> tuple[object, ...]:
    return (p.kills, p.deaths, p.hits, p.damage_given, p.damage_received)


def test_orphans_are_flagged_and_kept_as_written(corpus) -> None:
    orphans = {r.file_name for r in Round.select().where(Round.orphan)}
    assert set(corpus_info().orphans) <= orphans
    for name in orphans:
        orphan = Round.get(Round.file_name == name)
        assert orphan.round_no == 2
        assert orphan.round1 is None
        assert not MapResult.select().where(MapResult.round2 == orphan.id).exists()
        rows = list(PlayerRound.select().join(Player).where(PlayerRound.round == orphan.id))
        assert rows
        assert all(p.orphan and not p.reset for p in rows)
        for p in rows:
            assert _stored(p) == _written(name, p.player.guid)


def test_reconnect_resets_take_round2_as_written(corpus) -> None:
    resets = {
        (r.round.file_name, r.player.guid)
        for r in PlayerRound.select(PlayerRound, Round, Player)
        .join(Round)
        .switch(PlayerRound)
        .join(Player)
        .where(PlayerRound.reset)
    }
    expected = set(corpus_info().resets)
    # The generator lists every reset it wrote; the real corpus has the one found by hand.
    assert resets == expected
    for name, guid in resets:
        p = row(name, guid)
        assert not p.only_round2
        assert not p.orphan
        assert _stored(p) == _written(name, guid)


def test_substitutes_only_in_round2(corpus) -> None:
    subs = {
        (r.round.file_name, r.player.guid)
        for r in PlayerRound.select(PlayerRound, Round, Player)
        .join(Round)
        .switch(PlayerRound)
        .join(Player)
        .where(PlayerRound.only_round2)
    }
    assert set(corpus_info().substitutes) <= subs
    for name, guid in subs:
        p = row(name, guid)
        assert not p.reset
        assert not p.orphan
        assert _stored(p) == _written(name, guid)
        r1 = Round.get(Round.file_name == name).round1
        assert (
            not PlayerRound.select()
            .where((PlayerRound.round == r1.id) & (PlayerRound.player == p.player_id))
            .exists()
        )


def test_map_results_follow_stopwatch_rules(corpus) -> None:
    for result in MapResult.select():
        r1, r2 = result.round1, result.round2
        if r2.winner != r2.defender:
            assert result.outcome == "beat_time"
            assert result.winner_team == r2.winner
        elif r1.winner != r1.defender:
            assert result.outcome == "held"
            assert result.winner_team == r2.defender
        else:
            assert result.outcome == "draw"
            assert result.winner_team is None
    outcomes = {r.outcome for r in MapResult.select()}
    assert {"beat_time", "held"} <= outcomes


def test_aliases_cover_every_name_and_count_rounds(corpus) -> None:
    for player in Player.select():
        names = {
            n
            for (n,) in PlayerRound.select(PlayerRound.name)
            .where(PlayerRound.player == player)
            .tuples()
        }
        aliases = {a.name: a for a in player.aliases}
        assert set(aliases) == names
        for name, alias in aliases.items():
            count = (
                PlayerRound.select()
                .where((PlayerRound.player == player) & (PlayerRound.name == name))
                .count()
            )
            assert alias.rounds == count
            assert alias.name_lower == name.lower()
        latest = max(player.aliases, key=lambda a: a.last_seen)
        assert player.name == latest.name
    assert Player.select().join(Alias).group_by(Player.id).having(fn.COUNT(Alias.id) > 1).exists()


def test_sessions_follow_the_60_minute_gap_rule(corpus) -> None:
    for server in Server.select():
        rounds = list(Round.select().where(Round.server == server).order_by(Round.ended_at))
        for a, b in itertools.pairwise(rounds):
            same = a.session_id == b.session_id
            assert same == (b.ended_at - a.ended_at <= timedelta(minutes=60)), (
                a.file_name,
                b.file_name,
            )
    for s in GamingSession.select():
        rounds = Round.select().where(Round.session == s)
        assert s.round_count == rounds.count()
        assert s.started_at == min(r.ended_at for r in rounds)


def dump() -> dict[str, Any]:
    """Database content with generated ids replaced by natural keys."""
    rounds = {r.id: r.file_name for r in Round.select(Round.id, Round.file_name)}
    guids = {p.id: p.guid for p in Player.select(Player.id, Player.guid)}
    sessions = {s.id: (s.started_at, s.ended_at, s.round_count) for s in GamingSession.select()}
    skip = {"id", "round", "player", "round1", "round2", "session", "source", "server"}

    def plain(obj: Any) -> tuple[Any, ...]:
        return tuple(
            (k, v) for k, v in sorted(obj.__data__.items()) if k not in skip and k != "imported_at"
        )

    return {
        "rounds": sorted(
            (r.file_name, rounds.get(r.round1_id), sessions[r.session_id], plain(r))
            for r in Round.select()
        ),
        "player_rounds": sorted(
            (rounds[p.round_id], guids[p.player_id], plain(p)) for p in PlayerRound.select()
        ),
        "weapons": sorted(
            (rounds[w.round_id], guids[w.player_id], plain(w)) for w in WeaponRound.select()
        ),
        "players": sorted(plain(p) for p in Player.select()),
        "aliases": sorted((guids[a.player_id], plain(a)) for a in Alias.select()),
        "sessions": sorted(sessions.values()),
        "results": sorted(
            (rounds[m.round1_id], rounds[m.round2_id], plain(m)) for m in MapResult.select()
        ),
        "files": sorted(s.sha256 for s in SourceFile.select(SourceFile.sha256)),
        "player_days": sorted((guids[d.player_id], plain(d)) for d in PlayerDay.select()),
    }


def test_shuffled_import_gives_the_same_database(db) -> None:
    files = corpus_files()
    import_files(files)
    sorted_dump = dump()
    assert sorted_dump["player_days"]
    for model in (PlayerDay, PlayerWeaponDay, WeaponRound, PlayerRound, MapResult, Round):
        model.delete().execute()
    GamingSession.delete().execute()
    SourceFile.delete().execute()
    Alias.delete().execute()
    Player.delete().execute()
    # Reverse order first: every round 2 arrives before its round 1.
    import_files(list(reversed(files)))
    assert dump() == sorted_dump
    for model in (PlayerDay, PlayerWeaponDay, WeaponRound, PlayerRound, MapResult, Round):
        model.delete().execute()
    GamingSession.delete().execute()
    SourceFile.delete().execute()
    Alias.delete().execute()
    Player.delete().execute()
    report = import_files(files, shuffle_seed=7)
    assert report.imported == len(files) - len(corpus_info().header_only)
    assert dump() == sorted_dump


def test_reimport_is_idempotent(db) -> None:
    files = corpus_files()[:40]
    first = import_files(files)
    before = dump()
    again = import_files(files)
    assert again.imported == 0
    assert again.duplicates == first.imported
    assert dump() == before


def test_same_file_twice_in_one_batch_and_copies_under_other_names(db, tmp_path: Path) -> None:
    src = first_pair(corpus_files())[0]
    copy = tmp_path / "copy" / src.name
    renamed = tmp_path / "renamed" / f"2030-01-01-200000-{src.name[18:]}"
    for target in (copy, renamed):
        target.parent.mkdir()
        shutil.copy(src, target)
    report = Importer().import_paths([src, copy, renamed])
    assert (report.imported, report.duplicates) == (1, 2)
    assert Round.select().count() == 1


def test_database_error_rolls_back_the_whole_file(db, monkeypatch: pytest.MonkeyPatch) -> None:
    files = evening(corpus_files())
    victim = files[1].name
    original = Importer._write_rows

    def failing(self, round_id, parsed, player_ids, round1_id):  # type: ignore[no-untyped-def]
        original(self, round_id, parsed, player_ids, round1_id)  # rows are written…
        if parsed.file_name == victim:
            raise RuntimeError("disk on fire")  # …then the database fails

    monkeypatch.setattr(Importer, "_write_rows", failing)
    report = import_files(files)
    assert report.rejected == [(victim, "database error: disk on fire")]
    assert report.imported == len(files) - 1
    # nothing of the failed file remains: no source, round, rows or aliases counted
    assert not SourceFile.select().where(SourceFile.file_name == victim).exists()
    assert not Round.select().where(Round.file_name == victim).exists()
    assert PlayerRound.select().count() == sum(
        len(parse_round(p.read_bytes(), p.name).players) for p in files if p.name != victim
    )
    monkeypatch.undo()
    again = import_files(files)
    assert again.imported == 1  # the failed file imports cleanly later


def test_pair_rounds_prefers_latest_unpaired_round1() -> None:
    from datetime import datetime

    from etbot.ingest.pairing import RoundRef

    t = datetime(2025, 1, 1, 23, 30)
    rounds = [
        RoundRef("a1", t, "a1", 1),
        RoundRef("b1", t + timedelta(minutes=10), "b1", 1),
        RoundRef("x2", t + timedelta(minutes=20), "x2", 2),
        RoundRef("y2", t + timedelta(minutes=30), "y2", 2),
        RoundRef("z2", t + timedelta(minutes=90), "z2", 2),
    ]
    assert pair_rounds(rounds) == {"x2": "b1", "y2": "a1"}
    assert pair_rounds(list(reversed(rounds))) == {"x2": "b1", "y2": "a1"}


def test_database_locked_retries_the_whole_batch(sqlite_db, monkeypatch) -> None:
    from peewee import OperationalError

    files = evening(corpus_files())
    original = Importer._store
    calls = {"n": 0}

    def locked_once(self, parsed, data, digest):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:  # the third file meets a writer that held the lock too long
            raise OperationalError("database is locked")
        return original(self, parsed, data, digest)

    monkeypatch.setattr(Importer, "_store", locked_once)
    monkeypatch.setattr("etbot.db.time.sleep", lambda _s: None)
    report = import_files(files)
    assert report.rejected == []
    assert report.imported == len(files)
    assert calls["n"] == len(files) + 3  # first attempt stopped at file 3, then all again
    assert Round.select().count() == len(files)


# --------------------------------------------------------------------------- bad input
# Issue 12, items 2 and 12: crafted numbers never reach the database, and SQLite and
# PostgreSQL decide the same about every bad file, with a clear reason.


def _crafted(src: Path, file_name: str, edit: Any) -> tuple[str, bytes]:
    """``src`` as (file name, bytes) after ``edit(header, players)`` changed its parts."""
    header, players = read_round(src)
    edit(header, players)
    return file_name, write_round(header, players)


def test_huge_counters_are_rejected_and_the_batch_keeps_every_good_file(db) -> None:
    """Two files of one day give one real player 2^62 hits: before the fix their per-day sum
    overflowed outside the files' savepoints and the whole batch was lost (SQLite), or they
    were 'database errors' (PostgreSQL)."""
    files = evening(corpus_files())
    src = next(p for p in files if p.name.endswith("-round-1.txt"))
    day = src.name[:10]

    def huge(tag: str) -> Any:
        def edit(header: list[str], players: list[PlayerLine]) -> None:
            header[2] = f"crafted-{tag}"  # other content, so not a duplicate
            players[0].ints[1] = str(2**62)  # hits of the first weapon

        return edit

    crafted = [
        _crafted(src, f"{day}-235001-{src.name[18:]}", huge("a")),
        _crafted(src, f"{day}-235501-{src.name[18:]}", huge("b")),
    ]
    batch = [(p.name, p.read_bytes()) for p in files] + crafted
    report = ImportReport()
    Importer().import_many(batch, report)
    assert report.imported == len(files)
    assert [name for name, _ in report.rejected] == [name for name, _ in crafted]
    for _name, reason in report.rejected:
        assert reason.startswith("line 2: "), reason
        assert f"hits is {2**62}, out of range" in reason
    victim = Player.get(Player.guid == read_round(src)[1][0].guid.upper())
    day_row = PlayerDay.get((PlayerDay.player == victim) & (PlayerDay.day == src.name[:10]))
    counted = PlayerRound.select(fn.SUM(PlayerRound.hits)).where(
        (PlayerRound.player == victim)
        & (PlayerRound.ended_at.between(f"{day} 00:00:00", f"{day} 23:59:59"))
        & ~PlayerRound.orphan
        & (PlayerRound.team != 3)
    )
    assert day_row.hits == counted.scalar()
    assert day_row.hits < 2**31


def test_sqlite_and_postgresql_decide_the_same_about_bad_input(db) -> None:
    src = first_pair(corpus_files())[0]
    day = "2031-01-0"

    def long_name(header: list[str], players: list[PlayerLine]) -> None:
        players[0].name = "^1" + "x" * 300

    def crowd(header: list[str], players: list[PlayerLine]) -> None:
        model = players[0]
        players[:] = [
            PlayerLine(f"{i:08X}", f"p{i}", model.rounds, model.team, model.ints, model.tabs)
            for i in range(10_000)
        ]

    def negative(header: list[str], players: list[PlayerLine]) -> None:
        players[0].ints[3] = "-3"  # kills of the first weapon

    def huge_damage(header: list[str], players: list[PlayerLine]) -> None:
        players[0].tabs[0] = "99999999999"

    def huge_rounds(header: list[str], players: list[PlayerLine]) -> None:
        players[0].rounds = "99999999999"

    def huge_time_limit(header: list[str], players: list[PlayerLine]) -> None:
        header[6] = "99999999:00"

    tail = src.name[17:]
    files = [
        _crafted(src, f"{day}1-200000{tail}", long_name),
        _crafted(src, f"{day}2-200000{tail}", crowd),
        _crafted(src, f"{day}3-200000{tail}", negative),
        _crafted(src, f"{day}4-200000{tail}", huge_damage),
        _crafted(src, f"{day}5-200000{tail}", huge_rounds),
        _crafted(src, f"{day}6-200000{tail}", huge_time_limit),
        (f"9999-12-31-235959{tail}", src.read_bytes()),
        (f"0001-01-01-000001{tail}", src.read_bytes()),
    ]
    report = ImportReport()
    Importer().import_many(files, report)
    reasons = dict(report.rejected)
    assert report.imported == 1
    assert sorted(reasons) == sorted(name for name, _ in files[1:])
    assert not any("database error" in reason for reason in reasons.values()), reasons
    assert "10000 player lines" in reasons[files[1][0]]
    assert "is negative (-3)" in reasons[files[2][0]]
    assert "damage_given is 99999999999, out of range" in reasons[files[3][0]]
    assert "rounds counter is 99999999999, out of range" in reasons[files[4][0]]
    assert "time limit" in reasons[files[5][0]]
    assert "out of range" in reasons[files[5][0]]
    assert "date 9999-12-31 is out of range" in reasons[files[6][0]]
    assert "date 0001-01-01 is out of range" in reasons[files[7][0]]
    # The long name is cut by one rule on both backends: 128 characters without colour
    # codes (the column), the raw name to 255.
    (row,) = PlayerRound.select().join(Round).where(Round.file_name == files[0][0]).limit(1)
    stored = PlayerRound.select().where(PlayerRound.name.startswith("xxx")).get()
    assert row.round_id == stored.round_id
    assert stored.name == "x" * 128
    assert stored.raw_name == ("^1" + "x" * 300)[:255]
    assert Player.get_by_id(stored.player_id).name == "x" * 128
    assert Alias.get(Alias.player == stored.player_id).name == "x" * 128


def test_an_aggregate_error_rejects_only_its_file(db, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever goes wrong while summing a file's per-day aggregates (here the database
    refuses one player's sums) costs that file only: the batch is imported again with the
    aggregates refreshed per file, and the other files and later batches go on (issue 12,
    item 2: the error used to roll back the whole batch, outside the files' savepoints)."""
    from peewee import DataError

    from etbot import aggregates

    files = evening(corpus_files())
    src = next(p for p in files if p.name.endswith("-round-1.txt"))

    def stranger(header: list[str], players: list[PlayerLine]) -> None:
        header[2] = "crafted"
        players[0].guid = "FA11FA11"

    crafted = _crafted(src, src.name[:11] + "235001" + src.name[17:], stranger)
    refresh = aggregates.refresh

    def refuses_the_stranger(keys: Any) -> int:
        keys = set(keys)
        stranger = Player.get_or_none(Player.guid == "FA11FA11")
        if stranger is not None and any(pid == stranger.id for pid, _day in keys):
            raise DataError("integer out of range")
        return refresh(keys)

    monkeypatch.setattr(aggregates, "refresh", refuses_the_stranger)
    batch = [(p.name, p.read_bytes()) for p in files[:3]] + [crafted]
    batch += [(p.name, p.read_bytes()) for p in files[3:]]
    report = ImportReport()
    Importer().import_many(batch, report)
    assert report.imported == len(files)
    assert report.rejected == [
        (crafted[0], "database error while summing the per-day aggregates: integer out of range")
    ]
    assert not Player.select().where(Player.guid == "FA11FA11").exists()
    monkeypatch.undo()

    def rows() -> list[list[tuple[Any, ...]]]:  # without the ids, which a rebuild renumbers
        return [sorted(t[1:] for t in m.select().tuples()) for m in (PlayerDay, PlayerWeaponDay)]

    maintained = rows()
    aggregates.rebuild_all()
    assert maintained == rows()
    again = ImportReport()
    Importer().import_many([crafted], again)  # nothing wrong with the file itself
    assert again.imported == 1


def test_a_unique_key_race_on_the_content_is_a_duplicate(
    db, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the same content arrives from another writer between our check and our insert
    (here: the check never sees it), the unique key on the SHA-256 answers, and the file is
    reported as a duplicate, not as 'database error: duplicate key' (issue 12, item 5)."""
    from etbot.ingest.statements import Statements

    original = Statements.__init__

    def blind(self: Statements, param: str) -> None:
        original(self, param)
        self.source_exists = self.source_exists.replace(" LIMIT 1", " AND 1 = 0 LIMIT 1")

    monkeypatch.setattr(Statements, "__init__", blind)
    src = first_pair(corpus_files())[0]
    report = ImportReport()
    Importer().import_many([(src.name, src.read_bytes())] * 2, report)
    assert (report.imported, report.duplicates, report.rejected) == (1, 1, [])


# --------------------------------------------------------------------------- slow writers
# Issue 12, item 11: a file imported while its writer paused (the first players only) is
# replaced by the complete file when that arrives, and everything derived from it follows.


def _ratings() -> list[tuple[Any, ...]]:
    from etbot.models import PlayerRating

    guids = {p.id: p.guid for p in Player.select(Player.id, Player.guid)}
    return sorted((guids[r.player_id], r.mu, r.sigma, r.maps) for r in PlayerRating.select())


def _start_afresh(database: Any) -> None:
    from etbot.db import drop_everything, migrate

    drop_everything(database)
    migrate(database)


@pytest.mark.parametrize("grown_round", [1, 2])
def test_a_round_file_that_grows_after_import_replaces_the_partial_one(
    db, grown_round: int
) -> None:
    files = evening(corpus_files())
    pair = first_pair(files)
    grown = pair[grown_round - 1]
    header, players = read_round(grown)
    assert len(players) >= 4
    partial = write_round(header, players[: len(players) // 2])  # the writer paused here
    first = ImportReport()
    Importer().import_many([(p.name, p.read_bytes()) for p in files if p != grown], first)
    Importer().import_many([(grown.name, partial)], first)
    assert first.imported == len(files)

    report = ImportReport()
    Importer().import_many([(grown.name, grown.read_bytes())], report)
    assert report.rejected == []
    assert (report.imported, report.replaced) == (0, 1)
    assert "1 replaced" in report.summary()
    replaced, ratings = dump(), _ratings()
    assert ratings

    # Exactly what importing the complete files gives, derived data included.
    _start_afresh(db)
    import_files(files)
    assert dump() == replaced
    assert _ratings() == ratings


def test_a_file_with_the_same_name_that_did_not_just_grow_is_still_refused(db) -> None:
    src = first_pair(corpus_files())[0]
    import_files([src])
    before = dump()
    header, players = read_round(src)
    fewer = write_round(header, players[1:])  # a player line is gone
    line = next(p for p in players if any(v not in ("0", p.ints[0]) for v in p.ints[1:]))
    at = next(i for i, v in enumerate(line.ints) if i and v != "0")
    line.ints[at] = str(int(line.ints[at]) - 1)
    lower = write_round(header, players)  # a counter went down
    for content in (fewer, lower):
        report = ImportReport()
        Importer().import_many([(src.name, content)], report)
        assert len(report.rejected) == 1
        assert "a different file with the same name" in report.rejected[0][1]
        assert dump() == before

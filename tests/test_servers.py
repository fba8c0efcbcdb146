"""Several game servers feeding one community (issue 13): sessions never merge servers, the
servers for the ``server`` option, and every domain answer for one server.

The history is the corpus on server A plus server B's copy of most of it, ten minutes
later (tests/servers_helpers.py), so the two servers' rounds interleave on the same
evenings. Expected numbers are recomputed here from the round rows of each server, and
the per-server answers must add up to the answer about every server.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from peewee import Database

from conftest import corpus_files, make_database
from etbot import activity, leaderboard, seasons, sessions, summary
from etbot.cache import cache_key
from etbot.errors import BadOption, NoData
from etbot.ingest import Importer, ImportReport
from etbot.models import GamingSession, MapResult, PlayerRound, Round, Server, database_proxy
from etbot.periods import Period
from etbot.servers import (
    SERVER_PREFIX,
    ServerRef,
    UnknownServer,
    active_servers,
    autocomplete_servers,
    resolve_server,
)
from etbot.statdefs import player_values
from etbot.statsfile import clean_name
from servers_helpers import B_SUFFIX, import_two_servers, two_server_files

ALL = Period(None, None, "All time")
#: Sums over rows: the value on every server is the sum of the values per server.
ADDITIVE = ("kills", "deaths", "damage", "revives", "objectives", "gibs", "xp", "time_played")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def two_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Database, ImportReport]]:
    """The two-server history imported once per module and backend (read-only)."""
    database = make_database(request.param, tmp_path_factory.mktemp("two-servers"))
    report = import_two_servers(corpus_files())
    yield database, report
    database.close()


@pytest.fixture
def two(two_db: tuple[Database, ImportReport]) -> tuple[ServerRef, ServerRef]:
    """Rebind the module's database; (server A, server B)."""
    database, _ = two_db
    database_proxy.initialize(database)
    [b] = [s for s in Server.select() if s.name.endswith(B_SUFFIX)]
    [a] = [s for s in Server.select() if s.id != b.id]
    return ServerRef(a.id, a.clean_name), ServerRef(b.id, b.clean_name)


def rows_of(server: int | None, period: Period = ALL) -> list[PlayerRound]:
    """Counted PlayerRound rows (no orphans, no spectators) of one server, or all."""
    query = (
        PlayerRound.select(PlayerRound, Round.id, Round.server)
        .join(Round)
        .where((PlayerRound.orphan == False) & (PlayerRound.team != 3))  # noqa: E712
    )
    if server is not None:
        query = query.where(Round.server == server)
    if period.start is not None:
        query = query.where(PlayerRound.ended_at >= period.start)
    if period.end is not None:
        query = query.where(PlayerRound.ended_at < period.end)
    return list(query)


def recomputed(server: int | None, period: Period = ALL) -> dict[int, dict[str, int]]:
    """Per player: rounds and kills/damage/time played, from the rows."""
    out: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows_of(server, period):
        mine = out[row.player_id]
        mine["rounds"] += 1
        mine["kills"] += row.kills
        mine["damage"] += row.damage_given
        mine["time_played"] += row.time_played_s
    return {pid: dict(v) for pid, v in out.items()}


# --------------------------------------------------------------------------- sessions


def check_sessions_per_server() -> None:
    """Every session holds rounds of one server only, and each server's rounds follow the
    60-minute rule on their own (a gap is measured between rounds of one server)."""
    for session in GamingSession.select():
        servers = {r.server_id for r in Round.select().where(Round.session == session)}
        assert servers == {session.server_id}
    for server in Server.select():
        rounds = list(Round.select().where(Round.server == server).order_by(Round.ended_at))
        for a, b in itertools.pairwise(rounds):
            same = a.session_id == b.session_id
            assert same == (b.ended_at - a.ended_at <= timedelta(minutes=60)), (a.id, b.id)


def session_set() -> set[tuple[str, datetime, datetime, int]]:
    return {
        (s.server.name, s.started_at, s.ended_at, s.round_count)
        for s in GamingSession.select(GamingSession, Server).join(Server)
    }


def test_sessions_never_merge_rounds_of_two_servers(two: tuple[ServerRef, ServerRef]) -> None:
    a, b = two
    check_sessions_per_server()
    # The servers' evenings really overlap in time: a rule across servers would have
    # merged these sessions.
    spans = {
        s.id: [
            (g.started_at, g.ended_at)
            for g in GamingSession.select().where(GamingSession.server == s.id)
        ]
        for s in two
    }
    assert any(
        x0 <= y1 and y0 <= x1 for (x0, x1), (y0, y1) in itertools.product(spans[a.id], spans[b.id])
    ), "server B's sessions overlap server A's"


def test_sessions_do_not_depend_on_arrival_order(db: Database, tmp_path: Path) -> None:
    """Newest first, in small batches (round 2s before their round 1s, B before A):
    the same sessions, each of one server."""
    files = two_server_files(corpus_files())
    importer = Importer()
    for i in range(len(files), 0, -25):
        importer.import_many(files[max(0, i - 25) : i])
    check_sessions_per_server()
    backwards = session_set()
    (tmp_path / "forwards").mkdir()
    other = make_database("sqlite", tmp_path / "forwards")
    try:
        import_two_servers(corpus_files())
        assert session_set() == backwards
    finally:
        other.close()
        database_proxy.initialize(db)


# --------------------------------------------------------------------------- the servers


def test_servers_with_rounds_newest_first(two: tuple[ServerRef, ServerRef]) -> None:
    newest = {
        s.id: max(r.ended_at for r in Round.select().where(Round.server == s.id))
        for s in Server.select()
    }
    listed = active_servers()
    assert {s.id for s in listed} == set(newest) == {two[0].id, two[1].id}
    assert [s.id for s in listed] == sorted(newest, key=lambda sid: newest[sid], reverse=True)
    for server in listed:
        assert server.name == clean_name(server.raw_name)
        assert "^" not in server.name


def test_autocomplete_matches_names_without_colour_codes(two: tuple[ServerRef, ServerRef]) -> None:
    a, b = two
    assert b.name.startswith(a.name)  # B is "A #2"
    everyone = [s.id for s in active_servers()]
    assert [s.id for s in autocomplete_servers("")] == everyone
    # What was typed: case and colour codes do not matter, as for player names.
    prefix = a.name[:4]
    for typed in (prefix, prefix.upper(), f"^1{prefix[:2]}^7{prefix[2:]}"):
        assert [s.id for s in autocomplete_servers(typed)] == everyone, typed
    assert [s.id for s in autocomplete_servers("#2")] == [b.id]  # inside the name
    assert autocomplete_servers("no such server") == []
    assert autocomplete_servers("", limit=1) == autocomplete_servers("")[:1]


def test_resolve_server(two: tuple[ServerRef, ServerRef]) -> None:
    a, b = two
    assert resolve_server(f"{SERVER_PREFIX}{b.id}") == b
    assert resolve_server(a.name.upper()) == a
    raw_b = Server.get_by_id(b.id).name
    assert "^" in raw_b
    assert resolve_server(raw_b) == b  # typed with its colour codes
    with pytest.raises(UnknownServer) as unknown:
        resolve_server("nowhere")
    assert unknown.value.fields["name"] == "nowhere"
    with pytest.raises(UnknownServer):
        resolve_server(f"{SERVER_PREFIX}99999999")
    for bad in ("", "   ", f"{SERVER_PREFIX}x1", "a\x00b", "x" * 101):
        with pytest.raises(BadOption):
            resolve_server(bad)


# --------------------------------------------------------------------------- statistics


def test_player_values_add_up_and_count_only_their_server(
    two: tuple[ServerRef, ServerRef],
) -> None:
    a, b = two
    first = Round.select(Round.ended_at).order_by(Round.ended_at).first().ended_at
    # Day-aligned (served by the per-day aggregates) and not (served by the rows).
    for period in (ALL, Period(first + timedelta(days=30, hours=21), None, "since")):
        keys = [*ADDITIVE, "kd", "dpm"]
        every = player_values(keys, period)
        per = {s.id: player_values(keys, period, server=s.id) for s in two}
        for server in two:
            expected = recomputed(server.id, period)
            got = per[server.id]
            assert set(got) == set(expected)
            for pid, values in got.items():
                assert values["rounds"] == expected[pid]["rounds"]
                assert values["kills"] == expected[pid]["kills"]
                assert values["damage"] == expected[pid]["damage"]
                assert values["time_played"] == expected[pid]["time_played"]
        assert set(every) == set(per[a.id]) | set(per[b.id])
        for pid, values in every.items():
            for key in ("rounds", *ADDITIVE):
                parts = sum(per[s.id].get(pid, {}).get(key, 0.0) for s in two)
                assert values[key] == pytest.approx(parts), (pid, key)
        assert set(per[a.id]) != set(per[b.id]) or per[a.id] != per[b.id]


def test_leaderboard_of_one_server(two: tuple[ServerRef, ServerRef]) -> None:
    a, b = two
    for server in two:
        expected = recomputed(server.id)
        page = leaderboard.leaderboard("kills", ALL, min_rounds=1, limit=100, server=server.id)
        assert page.total == len(expected)
        kills = sorted((v["kills"] for v in expected.values()), reverse=True)
        assert [r.value for r in page.rows] == kills[:100]
        for row in page.rows:
            assert row.rounds == expected[row.player_id]["rounds"]
    every = leaderboard.leaderboard("rounds", ALL, min_rounds=1, limit=100)
    on_a = leaderboard.leaderboard("rounds", ALL, min_rounds=1, limit=100, server=a.id)
    on_b = leaderboard.leaderboard("rounds", ALL, min_rounds=1, limit=100, server=b.id)
    by_a = {r.player_id: r.value for r in on_a.rows}
    by_b = {r.player_id: r.value for r in on_b.rows}
    top = every.rows[0]
    assert top.value == by_a.get(top.player_id, 0) + by_b.get(top.player_id, 0)
    # One server's answer is not the other's: B plays fewer maps.
    assert sum(by_b.values()) < sum(by_a.values())


def test_cached_answers_are_keyed_by_server() -> None:
    period = ALL
    everyone = cache_key(leaderboard.leaderboard, ("dpm", period), {})
    assert everyone == cache_key(leaderboard.leaderboard, ("dpm", period), {"server": None})
    assert everyone != cache_key(leaderboard.leaderboard, ("dpm", period), {"server": 1})
    for query, args in (
        (summary.player_summary, (1, period)),
        (activity.activity, (None, 4)),
        (sessions.recent_sessions, (5,)),
    ):
        assert cache_key(query, args, {}) != cache_key(query, args, {"server": 1})


def test_player_card_of_one_server(two: tuple[ServerRef, ServerRef]) -> None:
    a, b = two
    on_a, on_b = recomputed(a.id), recomputed(b.id)
    both = sorted(set(on_a) & set(on_b), key=lambda p: -on_a[p]["rounds"] - on_b[p]["rounds"])
    pid = both[0]
    every = summary.player_summary(pid, ALL)
    cards = {s.id: summary.player_summary(pid, ALL, s.id) for s in two}
    assert every.server is None
    assert cards[a.id].server == a.name
    assert cards[b.id].server == b.name
    for server, expected in ((a, on_a), (b, on_b)):
        card = cards[server.id]
        assert card.rounds == expected[pid]["rounds"]
        assert card.kills == expected[pid]["kills"]
        assert card.damage == expected[pid]["damage"]
        assert card.community_size == sum(1 for v in expected.values() if v["rounds"] >= 10)
    for field in ("rounds", "kills", "deaths", "revives", "objectives", "damage", "xp"):
        assert getattr(every, field) == sum(getattr(c, field) for c in cards.values()), field
    assert every.maps_won == sum(c.maps_won for c in cards.values())
    assert every.maps_lost == sum(c.maps_lost for c in cards.values())
    # Maps won on a server: its own stopwatch results only.
    won_on_b = (
        PlayerRound.select()
        .join(MapResult, on=(MapResult.round2 == PlayerRound.round))
        .switch(PlayerRound)
        .join(Round)
        .where(
            (PlayerRound.player == pid)
            & (Round.server == b.id)
            & (PlayerRound.team == MapResult.winner_team)
        )
        .count()
    )
    assert cards[b.id].maps_won == won_on_b
    # A moment the player played on A and not on B: a clear "no rounds on B", naming it.
    moments = (
        Period(r.ended_at - timedelta(minutes=1), r.ended_at + timedelta(seconds=1), "then")
        for r in rows_of(a.id)
        if r.player_id == pid
    )
    then = next(m for m in moments if pid not in recomputed(b.id, m))
    assert summary.player_summary(pid, then, a.id).rounds >= 1
    with pytest.raises(NoData) as missing:
        summary.player_summary(pid, then, b.id)
    assert missing.value.fields["server"] == b.name
    with pytest.raises(UnknownServer):
        summary.player_summary(pid, ALL, 99999999)


def test_activity_of_one_server(two: tuple[ServerRef, ServerRef]) -> None:
    a, b = two
    now = datetime(2030, 1, 1)
    weeks = 520
    grids = {s.id: activity.activity(None, weeks, now, s.id) for s in two}
    every = activity.activity(None, weeks, now)
    for d, h in itertools.product(range(7), range(24)):
        assert every[d][h] == grids[a.id][d][h] + grids[b.id][d][h]
    for server in two:
        rounds = Round.select().where((Round.server == server.id) & (Round.orphan == False))  # noqa: E712
        expected = [[0] * 24 for _ in range(7)]
        for r in rounds:
            expected[r.ended_at.weekday()][r.ended_at.hour] += 1
        assert grids[server.id] == expected
    pid = max(recomputed(b.id).items(), key=lambda kv: kv[1]["rounds"])[0]
    mine = [activity.activity(pid, weeks, now, s.id) for s in two]
    assert sum(map(sum, activity.activity(pid, weeks, now))) == sum(
        sum(map(sum, grid)) for grid in mine
    )
    assert sum(map(sum, mine[1])) == recomputed(b.id)[pid]["rounds"]


def test_recent_sessions_and_pattern_of_one_server(two: tuple[ServerRef, ServerRef]) -> None:
    a, b = two
    every = sessions.recent_sessions(sessions.MAX_RECENT)
    per = {s.id: sessions.recent_sessions(sessions.MAX_RECENT, s.id) for s in two}
    for server in two:
        assert {s.server for s in per[server.id]} == {server.name}
        ids = {s.session_id for s in per[server.id]}
        stored = {g.id for g in GamingSession.select().where(GamingSession.server == server.id)}
        assert ids <= stored
    # The newest sessions of everyone are the newest of the two servers' lists together.
    merged = sorted(per[a.id] + per[b.id], key=lambda s: (s.started_at, s.session_id), reverse=True)
    newest = [s.session_id for s in merged[: len(every)]]
    assert [s.session_id for s in every] == newest
    last = Round.select(Round.ended_at).order_by(Round.ended_at.desc()).first().ended_at
    patterns = {s.id: sessions.weekly_pattern("UTC", last, 52, s.id) for s in two}
    pattern = sessions.weekly_pattern("UTC", last, 52)
    assert pattern.sessions == sum(p.sessions for p in patterns.values()) > 0
    assert pattern.by_weekday == [
        x + y for x, y in zip(*(p.by_weekday for p in patterns.values()), strict=True)
    ]


def test_season_standings_of_one_server(two: tuple[ServerRef, ServerRef]) -> None:
    _a, b = two
    now = datetime(2030, 1, 1)
    every = seasons.seasons_with_data(now)
    season = every[0]
    page = seasons.season_page(season.key, "rounds", 1, 100, 0, now, b.id)
    assert page.server == b.name
    assert all(seasons.has_rounds(s, b.id) for s in page.choices)
    expected = recomputed(b.id, season.period)
    assert page.players == len(expected)
    assert page.page.total == len(expected)
    assert page.page.rows
    for row in page.page.rows:
        assert row.value == expected[row.player_id]["rounds"]
    whole = seasons.season_page(season.key, "rounds", 1, 100, 0, now)
    assert whole.server is None
    assert whole.players == len(recomputed(None, season.period))
    assert whole.choices == every


def test_server_lookups_are_cached_like_player_lookups() -> None:
    """The lists only change with an import (which clears the cache); resolving what a
    user typed runs every time, like :func:`etbot.players.resolve_player`."""
    from etbot import servers
    from etbot.cache import is_cached_query

    assert is_cached_query(servers.active_servers)
    assert is_cached_query(servers.autocomplete_servers)
    assert not is_cached_query(servers.resolve_server)


def test_migration_0015_keys_an_existing_two_server_history_by_server(db: Database) -> None:
    """A database of the layout before 0015 (one aggregate row per player and day,
    whatever the server) gets one row per player, day and server, equal to a rebuild."""
    from peewee import Table
    from playhouse.migrations import Runner

    from etbot import aggregates
    from etbot.db import MIGRATIONS_DIR, migrate
    from etbot.models import PlayerDay, PlayerMapDay, PlayerWeaponDay

    import_two_servers(corpus_files())

    def dump() -> list[list[tuple[object, ...]]]:
        return [
            sorted(
                (tuple(str(v) for v in row[1:]) for row in model.select().tuples()),
            )
            for model in (PlayerDay, PlayerWeaponDay, PlayerMapDay)
        ]

    aggregates.rebuild_all()
    expected = dump()
    assert len({(d.player_id, d.day) for d in PlayerDay.select()}) < PlayerDay.select().count()
    db.drop_tables([PlayerMapDay, PlayerWeaponDay, PlayerDay])
    again = ["0002_player_day", "0003_player_map_day", "0013_hardening"]
    history = Table("schema_migration").bind(db)
    history.delete().where(history.c.name.in_([*again, "0015_aggregates_per_server"])).execute()
    # The old layout, filled by the old migrations: one row per (player, day).
    runner = Runner(db, directory=str(MIGRATIONS_DIR), table_name="schema_migration")
    assert runner.up(target="0013_hardening") == again
    old_columns = {c.name for c in db.get_columns("player_day")}
    assert "server_id" not in old_columns
    assert migrate(db) == ["0015_aggregates_per_server"]
    assert dump() == expected

"""Seasons (etbot.seasons) on SQLite and PostgreSQL: quarter boundaries in server time,
custom seasons, renames, standings equal to a direct computation from the rounds of each
quarter, awards, and closing each ended season exactly once (first start, downtime,
several processes, late files)."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from peewee import Database

from conftest import corpus_files, corpus_info, first_pair
from etbot import announce, seasons
from etbot.errors import BadOption
from etbot.ingest import Importer
from etbot.leaderboard import leaderboard
from etbot.models import (
    Announcement,
    PlayerRound,
    SeasonAward,
    SeasonClose,
    SeasonDef,
    database_proxy,
)
from etbot.periods import Period
from etbot.seasons import SeasonAdminError, quarter_key
from etbot.statsfile import parse_round

BERLIN = ZoneInfo("Europe/Berlin")
#: A moment after every quarter of either corpus has ended (naive server time).
LATER = datetime(2026, 6, 1, 12, 0)
#: Stats compared with the direct computation.
STATS_CHECKED = ("dpm", "kd", "rounds", "objectives", "revives", "kills", "accuracy")


# --------------------------------------------------------------------------- helpers


def template_round1() -> tuple[bytes, str]:
    """A corpus round 1 file (content, map) to copy to chosen times."""
    round1, _ = first_pair(corpus_files())
    data = round1.read_bytes()
    return data, parse_round(data, round1.name).map


def write_round(folder: Path, ended: datetime, tag: int) -> Path:
    """A copy of :func:`template_round1` that ended at ``ended`` (server time); ``tag``
    trailing newlines keep its content hash unique."""
    data, map_name = template_round1()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{ended:%Y-%m-%d-%H%M%S}-{map_name}-round-1.txt"
    path.write_bytes(data + b"\n" * tag)
    return path


def counted_players(data: bytes, name: str) -> int:
    parsed = parse_round(data, name)
    return sum(1 for p in parsed.players if not p.is_bot and p.team != 3)


def import_all(paths: list[Path]) -> None:
    report = Importer().import_paths(paths)
    assert not report.rejected, report.rejected


def corpus_quarters() -> list[str]:
    """The quarters of the corpus's files, from their names (server time), newest first."""
    skip = set(corpus_info().header_only)
    keys = {
        quarter_key(datetime.strptime(p.name[:17], "%Y-%m-%d-%H%M%S"))
        for p in corpus_files()
        if p.name not in skip
    }
    return sorted(keys, reverse=True)


@pytest.fixture
def clean_seasons(corpus: object) -> Iterator[object]:
    """The module's corpus database, with no season state before and after the test."""

    def wipe() -> None:
        for model in (SeasonAward, SeasonClose, SeasonDef, Announcement):
            model.delete().execute()

    wipe()
    yield corpus
    wipe()


# --------------------------------------------------------------------------- the calendar


def test_quarter_boundaries_in_server_time(db: Database, tmp_path: Path) -> None:
    # The server's clock is Berlin's: file names hold Berlin wall-clock times.
    last_q3 = write_round(tmp_path, datetime(2025, 9, 30, 23, 59, 59), 1)
    first_q4 = write_round(tmp_path, datetime(2025, 10, 1, 0, 0, 0), 2)
    import_all([last_q3, first_q4])
    players = counted_players(last_q3.read_bytes(), last_q3.name)
    assert players >= 2

    # 22:30 UTC on 30 September is 00:30 in Berlin: Q4 has begun there, not in UTC.
    instant = datetime(2025, 9, 30, 22, 30, tzinfo=UTC)
    berlin_now = instant.astimezone(BERLIN)
    current = seasons.current_season(berlin_now)
    assert current is not None
    assert current.key == "2025-Q4"
    in_utc = seasons.current_season(instant)
    assert in_utc is not None
    assert in_utc.key == "2025-Q3"

    q3 = seasons.season_page("2025-Q3", "rounds", 1, 100, 0, berlin_now)
    q4 = seasons.season_page("2025-Q4", "rounds", 1, 100, 0, berlin_now)
    for page in (q3, q4):  # each round is in exactly one quarter
        assert page.page.total == players
        assert {r.rounds for r in page.page.rows} == {1}
    assert (q3.season.last_day, q4.season.first_day) == (date(2025, 9, 30), date(2025, 10, 1))
    assert [s.key for s in seasons.seasons_with_data(berlin_now)] == ["2025-Q4", "2025-Q3"]
    # While Q4 has data it is the default; Q3 is over (ended at midnight, Berlin).
    assert seasons.default_season(berlin_now).key == "2025-Q4"
    assert q3.ended
    assert not q4.ended


def test_default_season_is_the_newest_with_data_while_the_current_one_has_none(
    db: Database, tmp_path: Path
) -> None:
    import_all([write_round(tmp_path, datetime(2025, 5, 5, 21, 0), 1)])
    now = datetime(2025, 8, 1, 12, 0)
    current = seasons.current_season(now)
    assert current is not None
    assert current.key == "2025-Q3"
    assert seasons.default_season(now).key == "2025-Q2"
    assert seasons.find_season("", now).key == "2025-Q2"
    assert seasons.find_season("current", now).key == "2025-Q2"
    assert seasons.find_season("2025 q2", now).key == "2025-Q2"  # names, any case
    with pytest.raises(BadOption, match="no season called"):
        seasons.find_season("2019 Q1", now)


def test_custom_season_replaces_the_quarters_it_overlaps(db: Database, tmp_path: Path) -> None:
    files = [
        write_round(tmp_path, datetime(2025, 1, 10, 21, 0), 1),  # Q1, before the cup
        write_round(tmp_path, datetime(2025, 1, 20, 21, 0), 2),  # in the cup
        write_round(tmp_path, datetime(2025, 2, 28, 23, 59, 59), 3),  # its last second
        write_round(tmp_path, datetime(2025, 3, 1, 0, 0), 4),  # after it
        write_round(tmp_path, datetime(2025, 4, 20, 21, 0), 5),  # Q2
    ]
    import_all(files)
    now = datetime(2025, 5, 1, 12, 0)
    cup = seasons.add_season("Winter Cup", date(2025, 1, 15), date(2025, 2, 28), now)
    assert cup.key == "c20250115-20250228"
    assert [s.key for s in seasons.timeline(now)] == [cup.key, "2025-Q2"]
    page = seasons.season_page(cup.key, "rounds", 1, 100, 0, now)
    assert {r.rounds for r in page.page.rows} == {2}  # exactly the two rounds inside it
    assert page.season.name == "Winter Cup"
    assert seasons.find_season("winter cup", now) == cup

    with pytest.raises(SeasonAdminError, match="overlap") as overlap:
        seasons.add_season("Spring", date(2025, 2, 1), date(2025, 3, 31), now)
    assert overlap.value.fields["other"] == "Winter Cup"
    with pytest.raises(SeasonAdminError, match="called"):  # names tell seasons apart
        seasons.add_season("2025 Q2", date(2025, 3, 1), date(2025, 3, 31), now)
    with pytest.raises(SeasonAdminError, match="before the first"):
        seasons.add_season("Backwards", date(2025, 3, 31), date(2025, 3, 1), now)

    # The days right after it: allowed, adjacent is not overlapping.
    march = seasons.add_season("March", date(2025, 3, 1), date(2025, 3, 31), now)
    assert [s.key for s in seasons.timeline(now)] == [cup.key, march.key, "2025-Q2"]
    assert seasons.season_page(march.key, "rounds", 1, 100, 0, now).page.total > 0

    removed = seasons.remove_season("Winter Cup", now)
    assert removed.key == cup.key
    assert [s.key for s in seasons.timeline(now)] == [march.key, "2025-Q2"]
    seasons.remove_season(march.key, now)
    assert [s.key for s in seasons.timeline(now)] == ["2025-Q1", "2025-Q2"]
    with pytest.raises(SeasonAdminError, match="quarter"):
        seasons.remove_season("2025-Q1", now)


def test_rename(db: Database, tmp_path: Path) -> None:
    import_all(
        [
            write_round(tmp_path, datetime(2025, 2, 1, 21, 0), 1),
            write_round(tmp_path, datetime(2025, 5, 1, 21, 0), 2),
        ]
    )
    now = datetime(2025, 6, 1, 12, 0)
    renamed = seasons.rename_season("2025 Q1", "  Season   One ", now, changed_by=42)
    assert (renamed.key, renamed.name) == ("2025-Q1", "Season One")
    assert seasons.find_season("season one", now).key == "2025-Q1"
    assert seasons.season_page("2025-Q1", "dpm", 1, 10, 0, now).season.name == "Season One"
    assert SeasonDef.get(SeasonDef.key == "2025-Q1").changed_by == 42
    # renaming again replaces the name
    seasons.rename_season("Season One", "Season 1", now)
    assert [s.name for s in seasons.timeline(now)] == ["Season 1", "2025 Q2"]
    for bad, message in [
        ("2025 q2", "called"),  # another season's name
        ("2025-Q2", "called"),  # another season's key
        ("current", "reserved"),
        ("x" * 65, "1–64"),
        ("a\u0000b", "control"),
        ("   ", "1–64"),
    ]:
        with pytest.raises(SeasonAdminError, match=message):
            seasons.rename_season("2025-Q1", bad, now)
    with pytest.raises(BadOption):
        seasons.rename_season("no such season", "Name", now)
    assert seasons.season_name("2025-Q1", now) == "Season 1"


@pytest.mark.parametrize(
    ("value", "ok"),
    [("2025-01-31", True), ("2025-02-30", False), ("31.01.2025", False), ("1999-12-31", False)],
)
def test_days_are_validated(value: str, ok: bool) -> None:
    if ok:
        assert seasons.parse_day(value, "The first day") == date.fromisoformat(value)
    else:
        with pytest.raises(BadOption, match="The first day must be a date"):
            seasons.parse_day(value, "The first day")


# --------------------------------------------------------------------------- standings


def direct_standings(
    stat: str, start: datetime, end: datetime, min_rounds: int
) -> list[tuple[int, float, int]]:
    """(player id, value, rounds) best first, recomputed in Python from the PlayerRound
    rows of ``[start, end)`` (no orphans, no spectators), like the statdefs say."""
    sums: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    rows = PlayerRound.select().where(
        (PlayerRound.ended_at >= start)
        & (PlayerRound.ended_at < end)
        & (PlayerRound.orphan == False)  # noqa: E712
        & (PlayerRound.team != 3)
    )
    for r in rows:
        s = sums[r.player_id]
        s["rounds"] += 1
        s["kills"] += r.kills
        s["deaths"] += r.deaths
        s["damage"] += r.damage_given
        s["time"] += r.time_played_s
        s["hits"] += r.hits
        s["shots"] += r.shots
        s["revives"] += r.revives_given or 0
        s["objectives"] += (
            r.dynamites_planted
            + r.dynamites_defused
            + r.objectives_stolen
            + r.objectives_returned
            + (r.repairs or 0)
        )

    def value(s: dict[str, float]) -> float:
        if stat == "kd":
            return s["kills"] / max(s["deaths"], 1)
        if stat == "dpm":
            return s["damage"] * 60 / s["time"] if s["time"] else 0.0
        if stat == "accuracy":
            return s["hits"] * 100 / s["shots"] if s["shots"] else 0.0
        return s[stat]

    out = [
        (pid, value(s), int(s["rounds"])) for pid, s in sums.items() if s["rounds"] >= min_rounds
    ]
    return sorted(out, key=lambda x: (-x[1], -x[2], x[0]))


def test_quarters_of_the_corpus_are_the_seasons_with_data(corpus: object) -> None:
    assert [s.key for s in seasons.seasons_with_data(LATER)] == corpus_quarters()


@pytest.mark.parametrize("min_rounds", [1, 10])
def test_standings_of_each_quarter_equal_a_direct_computation(
    corpus: object, min_rounds: int
) -> None:
    quarters = seasons.seasons_with_data(LATER)
    assert len(quarters) >= 5
    compared = 0
    for season in quarters:
        for stat in STATS_CHECKED:
            expected = direct_standings(stat, season.start, season.end, min_rounds)
            first = seasons.season_page(season.key, stat, min_rounds, 100, 0, LATER)
            assert first.page.total == len(expected)
            got = [(r.player_id, r.value, r.rounds) for r in first.page.rows]
            assert [g[0] for g in got] == [e[0] for e in expected], (season.key, stat)
            for (_, value, rounds), (_, want, want_rounds) in zip(got, expected, strict=True):
                assert value == pytest.approx(want)
                assert rounds == want_rounds
            compared += len(expected)
            # pages: the second page of 5 continues the first
            if len(expected) > 5:
                second = seasons.season_page(season.key, stat, min_rounds, 5, 5, LATER)
                assert [r.player_id for r in second.page.rows] == [e[0] for e in expected[5:10]]
    assert compared > 0


def test_a_season_is_its_period_in_the_leaderboard(corpus: object) -> None:
    season = seasons.seasons_with_data(LATER)[0]
    page = seasons.season_page(season.key, "kd", 1, 10, 0, LATER)
    same = leaderboard("kd", Period(season.start, season.end, "x"), min_rounds=1, limit=10)
    assert page.page.rows == same.rows


# --------------------------------------------------------------------------- awards


def test_awards_equal_a_direct_computation(corpus: object) -> None:
    timeline = seasons.timeline(LATER)
    awarded = 0
    for index, season in enumerate(timeline):
        previous = timeline[index - 1] if index else None
        got = {a.category: a for a in seasons.compute_awards(season, previous)}
        for category in ("dpm", "kd", "objectives", "revives", "rounds"):
            best = direct_standings(category, season.start, season.end, 10)
            best = [b for b in best if b[1] > 0]
            if not best:
                assert category not in got
                continue
            assert got[category].player_id == best[0][0], (season.key, category)
            assert got[category].value == pytest.approx(best[0][1])
            awarded += 1
        if previous is None:
            assert "improved" not in got
            continue
        after = {p: (v, r) for p, v, r in direct_standings("dpm", season.start, season.end, 10)}
        before = {p: v for p, v, _ in direct_standings("dpm", previous.start, previous.end, 10)}
        gains = sorted(
            ((after[p][0] - before[p], after[p][1], -p, p) for p in after.keys() & before.keys()),
            reverse=True,
        )
        if not gains or gains[0][0] <= 0:
            assert "improved" not in got
        else:
            improved = got["improved"]
            assert improved.player_id == gains[0][3]
            assert improved.value == pytest.approx(gains[0][0])
            assert improved.baseline == pytest.approx(before[improved.player_id])
            awarded += 1
    assert awarded >= 5


# --------------------------------------------------------------------------- closing seasons


def recap_status() -> dict[str, str]:
    rows = Announcement.select(Announcement.key, Announcement.status).where(
        Announcement.kind == seasons.RECAP_KIND
    )
    return dict(rows.tuples())


def test_first_start_records_past_seasons_silently(clean_seasons: object) -> None:
    now = datetime(2025, 10, 5, 12, 0)  # Q3 ended four days ago: history already
    closed = seasons.close_ended_seasons(now)
    ended = [s.key for s in seasons.timeline(now) if s.end + seasons.CLOSE_DELAY <= now]
    assert [c.key for c in closed] == ended
    assert "2025-Q3" in ended
    assert not any(c.announced for c in closed)
    assert set(recap_status().values()) == {"silent"}
    assert set(recap_status()) == set(ended)
    # The awards are stored all the same (trophies, /season), exactly what was computed.
    q3 = seasons.season_by_key("2025-Q3", now)
    q2 = seasons.season_by_key("2025-Q2", now)
    expected = {(a.category, a.player_id) for a in seasons.compute_awards(q3, q2)}
    assert expected
    assert {(a.category, a.player_id) for a in seasons.season_awards("2025-Q3")} == expected
    assert seasons.close_ended_seasons(now + timedelta(days=1)) == []  # exactly once
    winner = seasons.season_awards("2025-Q3")[0]
    trophies = seasons.player_trophies(winner.player_id, now)
    assert ("2025-Q3", winner.category) in [(t.season_key, t.category) for t in trophies]


def test_first_start_still_announces_a_season_that_just_ended(clean_seasons: object) -> None:
    now = datetime(2025, 10, 2, 20, 0)  # Q3 ended yesterday
    closed = {c.key: c for c in seasons.close_ended_seasons(now)}
    assert closed["2025-Q3"].announced
    status = recap_status()
    assert status.pop("2025-Q3") == "pending"
    assert set(status.values()) == {"silent"}  # everything older is history
    recap = seasons.recap("2025-Q3", now)
    assert recap is not None
    assert recap.name == "2025 Q3"
    assert [a.category for a in recap.awards] == [
        a.category for a in seasons.season_awards("2025-Q3")
    ]
    assert recap.players == seasons.season_page("2025-Q3", "dpm", 1, 1, 0, now).players


def test_a_season_is_closed_an_hour_after_its_end(clean_seasons: object) -> None:
    seasons.close_ended_seasons(datetime(2025, 9, 1))  # the first start: history
    assert seasons.close_ended_seasons(datetime(2025, 10, 1, 0, 30)) == []
    [q3] = seasons.close_ended_seasons(datetime(2025, 10, 1, 1, 0))
    assert q3.key == "2025-Q3"
    assert q3.announced  # ended after the first start: it is news


def test_a_season_that_ended_while_the_bot_was_down_is_announced_once(
    clean_seasons: object,
) -> None:
    first = seasons.close_ended_seasons(datetime(2025, 8, 15, 12, 0))
    assert not any(c.announced for c in first)
    later = datetime(2025, 11, 20, 18, 0)  # down for three months
    [q3] = seasons.close_ended_seasons(later)
    assert (q3.key, q3.announced) == ("2025-Q3", True)
    assert recap_status()["2025-Q3"] == "pending"
    assert seasons.close_ended_seasons(later + timedelta(hours=2)) == []
    assert announce.enqueue(seasons.RECAP_KIND, "2025-Q3") is False


def test_several_processes_close_each_season_once(clean_seasons: object) -> None:
    now = datetime(2025, 10, 2, 20, 0)
    database = database_proxy.obj
    results: list[list[seasons.ClosedSeason]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def worker() -> None:
        try:
            start.wait()
            database.connect(reuse_if_open=True)
            results.append(seasons.close_ended_seasons(now))
        except BaseException as exc:  # noqa: BLE001 reported by the test below
            errors.append(exc)
        finally:
            database.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    keys = [c.key for result in results for c in result]
    assert sorted(keys) == sorted(set(keys))  # each season closed by exactly one of them
    ended = [s.key for s in seasons.timeline(now) if s.end + seasons.CLOSE_DELAY <= now]
    assert sorted(keys) == sorted(ended)
    assert SeasonAward.select().where(SeasonAward.season_key == "2025-Q3").count() == len(
        seasons.season_awards("2025-Q3")
    )
    assert list(recap_status().values()).count("pending") == 1


def test_a_late_file_changes_the_standings_but_not_the_awards(db: Database, tmp_path: Path) -> None:
    q3_files = [p for p in corpus_files() if "2025-07-01" <= p.name[:10] <= "2025-09-30"]
    import_all(q3_files)
    now = datetime(2025, 10, 5, 12, 0)
    seasons.close_ended_seasons(now)
    awards = seasons.season_awards("2025-Q3")
    assert awards
    before = seasons.season_page("2025-Q3", "rounds", 1, 100, 0, now).page
    # A file of a round played on 30 September arrives a week late.
    import_all([write_round(tmp_path, datetime(2025, 9, 30, 22, 0), 1)])
    after = seasons.season_page("2025-Q3", "rounds", 1, 100, 0, now).page
    assert sum(r.value for r in after.rows) > sum(r.value for r in before.rows)
    assert seasons.season_awards("2025-Q3") == awards  # a snapshot taken at the close
    assert seasons.close_ended_seasons(now + timedelta(days=1)) == []


def test_removing_a_closed_custom_season_removes_its_awards(db: Database) -> None:
    import_all([p for p in corpus_files() if "2025-07-01" <= p.name[:10] <= "2025-09-30"])
    now = datetime(2025, 10, 5, 12, 0)
    cup = seasons.add_season("Summer", date(2025, 7, 1), date(2025, 9, 30), now)
    seasons.close_ended_seasons(datetime(2025, 9, 1))  # the first start
    [closed] = seasons.close_ended_seasons(now)
    assert (closed.key, closed.announced) == (cup.key, True)
    assert seasons.season_awards(cup.key)
    seasons.remove_season(cup.key, now)
    assert seasons.season_awards(cup.key) == []
    assert not SeasonClose.select().where(SeasonClose.season_key == cup.key).exists()
    # The same range again is the same season: awarded again, but never announced twice.
    seasons.add_season("Summer", date(2025, 7, 1), date(2025, 9, 30), now)
    [again] = [c for c in seasons.close_ended_seasons(now) if c.key == cup.key]
    assert again.awards > 0
    assert not again.announced

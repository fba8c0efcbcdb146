"""Stats queries on the corpus, real or generated (SQLite and PostgreSQL).

Where possible the expected values are recomputed here from the raw files with the
parser (``etbot.statsfile``), independently of the ingest and of the SQL: a database of
the round 1 files only is imported for that (round 1 files hold plain per-round values).
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from peewee import Database, fn

from conftest import _backends, corpus_files, import_files, make_database
from etbot import stats as S
from etbot.ingest import Importer
from etbot.models import Alias, MapResult, Player, PlayerRound, Round, database_proxy
from etbot.statsfile import ParsedRound, ParseError, parse_round

# --------------------------------------------------------------------------- raw truth


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
    assert len(out) > 100
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


def guid_ids() -> dict[str, int]:
    return dict(Player.select(Player.guid, Player.id).tuples())


def now_of_db() -> datetime:
    now = S.latest_round_time()
    assert now is not None
    return now


ALL = S.Period(None, None, "All time")

# --------------------------------------------------------------------------- periods and options


def test_parse_period_is_day_aligned_and_rejects_unknown_values() -> None:
    now = datetime(2025, 3, 10, 18, 30)
    assert S.parse_period(None, now) == S.Period(None, None, "All time")
    week = S.parse_period("7d", now)
    assert week.start == datetime(2025, 3, 4) and week.end is None and week.day_aligned
    assert S.parse_period("30d", now).start == datetime(2025, 2, 9)
    for key in S.PERIODS:
        assert S.parse_period(key, now).label == S.PERIODS[key]
    with pytest.raises(S.BadOption):
        S.parse_period("fortnight", now)


def test_unknown_stat_is_a_friendly_error(full: object) -> None:
    with pytest.raises(S.BadOption, match="kd"):
        S.leaderboard("elo", ALL)
    with pytest.raises(S.UserError):
        S.trend(1, "nope", 30)


# --------------------------------------------------------------------------- summary


def test_summary_matches_raw_round1_files(r1: Database, raw_round1: list[ParsedRound]) -> None:
    raw = raw_sums(raw_round1)
    ids = guid_ids()
    assert set(raw) <= set(ids)
    for guid, expected in raw.items():
        got = S.player_summary(ids[guid], ALL)
        assert got.guid == guid
        assert got.rounds == expected.rounds
        assert (got.kills, got.deaths) == (expected.kills, expected.deaths)
        assert got.kd == pytest.approx(expected.kd)
        assert got.dpm == pytest.approx(expected.dpm)
        assert got.time_played_s == expected.time_s
        assert got.revives == expected.revives
        assert got.objectives == expected.objectives
        if expected.shots:
            assert got.accuracy == pytest.approx(expected.hits * 100 / expected.shots)
        if expected.hits:
            assert got.headshot_pct == pytest.approx(expected.headshots * 100 / expected.hits)
        best_weapon = max(expected.weapon_kills.items(), key=lambda kv: (kv[1], -len(kv[0])))
        if best_weapon[1]:
            assert got.favourite_weapon_kills == best_weapon[1]
            assert expected.weapon_kills[got.favourite_weapon or ""] == best_weapon[1]
        eligible = {m: v for m, v in expected.maps.items() if v[0] >= 3 and v[2]}
        if eligible:
            best = max(v[1] * 60 / v[2] for v in eligible.values())
            assert got.best_map in eligible
            assert got.best_map_dpm == pytest.approx(best)
        else:
            assert got.best_map is None


def test_summary_of_a_recent_period_counts_only_its_rounds(
    r1: Database, raw_round1: list[ParsedRound]
) -> None:
    now = now_of_db()
    period = S.parse_period("90d", now)
    assert period.start is not None
    raw = raw_sums(raw_round1, since=period.start)
    everything = raw_sums(raw_round1)
    ids = guid_ids()
    checked = 0
    for guid, expected in raw.items():
        got = S.player_summary(ids[guid], period)
        assert got.rounds == expected.rounds
        assert got.kills == expected.kills
        checked += got.rounds != everything[guid].rounds
    assert checked, "the period should cut off some rounds of someone"
    gone = [g for g in everything if g not in raw]
    assert gone, "some player should have no rounds in the last 90 days"
    with pytest.raises(S.NoData):
        S.player_summary(ids[gone[0]], period)


def test_summary_excludes_orphan_rounds_and_spectators(full: object) -> None:
    counted = (PlayerRound.orphan == False) & (PlayerRound.team != 3)  # noqa: E712
    special = (PlayerRound.orphan == True) | (PlayerRound.team == 3)  # noqa: E712
    players = {pid for (pid,) in PlayerRound.select(PlayerRound.player).where(special).tuples()}
    assert players, "the corpus has orphans and spectators"
    differs = 0
    for pid in players:
        rows = list(PlayerRound.select().where((PlayerRound.player == pid) & counted))
        everything = list(PlayerRound.select().where(PlayerRound.player == pid))
        if not rows:  # only orphan or spectator rows: nothing to show
            with pytest.raises(S.NoData):
                S.player_summary(pid, ALL)
            differs += 1
            continue
        summary = S.player_summary(pid, ALL)
        assert summary.rounds == len(rows)
        assert summary.kills == sum(r.kills for r in rows)
        assert summary.deaths == sum(r.deaths for r in rows)
        differs += summary.kills != sum(r.kills for r in everything)
    assert differs, "orphan rows carry kills, so leaving them out must change a total"


def test_summary_rank_aliases_and_map_results(full: object) -> None:
    board = S.leaderboard("dpm", ALL, min_rounds=S.COMMUNITY_MIN_ROUNDS, limit=100)
    ranked = {row.player_id: row.rank for row in board.rows}
    active = S.player_values(["kd"], ALL)
    for pid in active:
        summary = S.player_summary(pid, ALL)
        assert summary.rank == ranked.get(pid)
        assert summary.community_size == board.total
        aliases = list(
            Alias.select().where(Alias.player == pid).order_by(Alias.rounds.desc(), Alias.name)
        )
        assert summary.aliases == [a.name for a in aliases[:5]]
        # Maps won/lost: the player's round 2 team against the map winner (draws excluded).
        won = lost = 0
        for result in MapResult.select().where(MapResult.winner_team.is_null(False)):
            row = PlayerRound.get_or_none(
                (PlayerRound.round == result.round2_id) & (PlayerRound.player == pid)
            )
            if row is None or row.team not in (1, 2):
                continue
            if row.team == result.winner_team:
                won += 1
            else:
                lost += 1
        assert (summary.maps_won, summary.maps_lost) == (won, lost)
    assert any(S.player_summary(pid, ALL).rank is None for pid in active)


def test_unknown_player_id(full: object) -> None:
    with pytest.raises(S.UnknownPlayer):
        S.player_summary(10_000_000, ALL)


# --------------------------------------------------------------------------- leaderboard


def test_leaderboard_order_and_min_rounds_threshold(
    r1: Database, raw_round1: list[ParsedRound]
) -> None:
    raw = raw_sums(raw_round1)
    ids = guid_ids()
    min_rounds = 20
    eligible = {g: s for g, s in raw.items() if s.rounds >= min_rounds}
    assert 3 <= len(eligible) < len(raw), "threshold must exclude someone"
    expected = sorted(eligible, key=lambda g: -eligible[g].kd)
    page = S.leaderboard("kd", ALL, min_rounds=min_rounds, limit=100)
    assert page.total == len(eligible)
    assert [r.player_id for r in page.rows] == [ids[g] for g in expected]
    for row, guid in zip(page.rows, expected, strict=True):
        assert row.value == pytest.approx(eligible[guid].kd)
        assert row.rounds == eligible[guid].rounds
    # Lower is better for deaths.
    deaths = S.leaderboard("deaths", ALL, min_rounds=min_rounds, limit=100)
    assert [r.value for r in deaths.rows] == sorted(r.value for r in deaths.rows)


@pytest.mark.parametrize("stat", sorted(S.STATS))
def test_leaderboard_ranks_pages_and_ties(full: object, stat: str) -> None:
    everything = S.leaderboard(stat, ALL, min_rounds=1, limit=100)
    assert everything.total == len(everything.rows) > 10
    better = S.STATS[stat].higher_is_better
    values = [r.value for r in everything.rows]
    assert values == sorted(values, reverse=better)
    for row in everything.rows:
        strictly_better = sum(1 for v in values if (v > row.value if better else v < row.value))
        assert row.rank == strictly_better + 1
    pages = [S.leaderboard(stat, ALL, min_rounds=1, limit=7, offset=o) for o in range(0, 70, 7)]
    assert [r for p in pages for r in p.rows] == everything.rows
    again = S.leaderboard(stat, ALL, min_rounds=1, limit=100)
    assert again == everything


def test_leaderboard_ties_share_a_rank(full: object) -> None:
    board = S.leaderboard("rounds", ALL, min_rounds=1, limit=100)
    counts = Counter(r.value for r in board.rows)
    tied = [v for v, n in counts.items() if n > 1]
    assert tied, "several players with the same number of rounds exist in the corpus"
    for value in tied:
        rows = [r for r in board.rows if r.value == value]
        assert len({r.rank for r in rows}) == 1
        assert [r.player_id for r in rows] == sorted(r.player_id for r in rows)


def test_total_kills_leave_out_orphans(full: object) -> None:
    board = S.leaderboard("kills", ALL, min_rounds=1, limit=100)
    expected = (
        PlayerRound.select(fn.SUM(PlayerRound.kills))
        .where((PlayerRound.orphan == False) & (PlayerRound.team != 3))  # noqa: E712
        .scalar()
    )
    orphan_kills = (
        PlayerRound.select(fn.SUM(PlayerRound.kills))
        .where(PlayerRound.orphan == True)  # noqa: E712
        .scalar()
    )
    assert orphan_kills > 0
    assert sum(r.value for r in board.rows) == expected


def test_day_aggregates_and_raw_rows_agree(full: object) -> None:
    """PlayerDay (day-aligned periods) and PlayerRound (any period) give the same values."""
    not_aligned = S.Period(datetime(2000, 1, 1, 0, 0, 1), None, "custom")
    assert not not_aligned.day_aligned
    keys = list(S.STATS)
    a = S.player_values(keys, ALL)
    b = S.player_values(keys, not_aligned)
    assert a.keys() == b.keys()
    for pid in a:
        for k in [*keys, "rounds"]:
            assert a[pid][k] == pytest.approx(b[pid][k]), (pid, k)
    for pid in a:
        aligned = S.player_summary(pid, ALL)
        raw_rows = S.player_summary(pid, not_aligned)
        assert aligned == dataclasses.replace(raw_rows, period=aligned.period)
    now = now_of_db()
    month = S.parse_period("30d", now)
    assert month.start is not None
    shifted = S.Period(month.start + timedelta(microseconds=1), None, "custom")
    # No round ends exactly at midnight in the corpus, so the shift changes nothing.
    assert S.player_values(keys, month).keys() == S.player_values(keys, shifted).keys()


# --------------------------------------------------------------------------- players


def test_autocomplete_prefix_then_substring_case_insensitive(full: object) -> None:
    aliases = list(Alias.select().order_by(Alias.rounds.desc()))
    target = next(a for a in aliases if len(a.name_lower) >= 5 and a.name_lower.isascii())
    guid = Player.get_by_id(target.player_id).guid
    prefix = target.name[:3].swapcase()
    choices = S.autocomplete_players(prefix)
    assert 0 < len(choices) <= 25
    assert f"guid:{guid}" in [c.value for c in choices]
    needle = prefix.lower()
    starts = [c.label.lower().startswith(needle) for c in choices]
    # Prefix matches first: once a substring-only entry appears no prefix match follows.
    assert starts == sorted(starts, reverse=True)
    for c in choices:
        assert needle in c.label.lower()
        assert len(c.label) <= 100 and len(c.value) <= 100
        assert S.resolve_player(c.value).guid == c.value[5:]
    middle = target.name_lower[1:4].upper()
    assert f"guid:{guid}" in [c.value for c in S.autocomplete_players(middle)]


def test_autocomplete_lists_every_alias_of_a_player(full: object) -> None:
    pid, n = (
        Alias.select(Alias.player, fn.COUNT(Alias.id))
        .group_by(Alias.player)
        .order_by(fn.COUNT(Alias.id).desc())
        .tuples()
        .first()
    )
    assert n >= 3
    player = Player.get_by_id(pid)
    for alias in Alias.select().where(Alias.player == pid):
        labels = [
            c.label for c in S.autocomplete_players(alias.name) if c.value.endswith(player.guid)
        ]
        assert any(label.split(" (aka ")[0] == alias.name for label in labels), alias.name
        if alias.name_lower != player.name.lower():
            assert f"{alias.name} (aka {player.name})" in labels


def test_autocomplete_limits_and_empty_text(full: object) -> None:
    assert len(S.autocomplete_players("")) == 25
    # Empty text: most active players first, one entry each.
    values = [c.value for c in S.autocomplete_players("")]
    assert len(set(values)) == len(values)
    top = Alias.select().order_by(Alias.rounds.desc(), Alias.name_lower, Alias.player).first()
    assert values[0] == f"guid:{Player.get_by_id(top.player_id).guid}"
    with_e = {(a.player_id, a.name_lower) for a in Alias.select() if "e" in a.name_lower}
    assert len(with_e) > 5
    assert len(S.autocomplete_players("e")) == min(25, len(with_e))
    assert len(S.autocomplete_players("a")) <= 25
    assert S.autocomplete_players("zzzzqqq") == []
    assert len(S.autocomplete_players("e", limit=5)) == 5
    # Wildcards are literal text, not patterns.
    assert S.autocomplete_players("%") == S.autocomplete_players("%%%") == []
    assert S.autocomplete_players("_") == [c for c in S.autocomplete_players("_") if "_" in c.label]


def test_resolve_player_by_guid_and_name(full: object) -> None:
    player = Player.select().order_by(Player.id).first()
    assert S.resolve_player(f"guid:{player.guid}").id == player.id
    assert S.resolve_player(player.guid.lower()).id == player.id
    alias = Alias.select().where(Alias.player == player.id).first()
    assert S.resolve_player(alias.name.upper()).id == player.id
    assert S.resolve_player(f"  {alias.name}  ").id == player.id
    with pytest.raises(S.UnknownPlayer, match="pick one from the list"):
        S.resolve_player("nobody-has-this-name")
    with pytest.raises(S.UnknownPlayer):
        S.resolve_player("guid:DEADBEEF")
    for bad in ("", "   ", "x" * 101, "a\x00b", "a\ud800b", "guid:not-hex!"):
        with pytest.raises(S.BadOption):
            S.resolve_player(bad)


def test_user_text_in_messages_is_defused(full: object) -> None:
    with pytest.raises(S.UnknownPlayer) as err:
        S.resolve_player("@everyone `x`")
    assert "@everyone" not in str(err.value) and "`" not in str(err.value)


def _same_name_file(tmp_path: Path) -> Path:
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


def test_shared_name_is_ambiguous(db: Database, tmp_path: Path) -> None:
    report = Importer().import_paths([_same_name_file(tmp_path)])
    assert report.imported == 1
    parsed = parse_round(_same_name_file(tmp_path).read_bytes(), "2030-01-01-200000-x-round-1.txt")
    shared = parsed.players[0].name
    with pytest.raises(S.AmbiguousPlayer) as err:
        S.resolve_player(shared.swapcase())
    guids = {c.guid for c in err.value.candidates}
    assert guids == {parsed.players[0].guid, parsed.players[1].guid}
    # Autocomplete offers both, each resolving to its own player.
    values = {c.value for c in S.autocomplete_players(shared)}
    assert {f"guid:{g}" for g in guids} <= values
    assert {S.resolve_player(v).guid for v in values} >= guids


def test_link_discord(db: Database, tmp_path: Path) -> None:
    Importer().import_paths([_same_name_file(tmp_path)])
    a, b = [p.id for p in Player.select().order_by(Player.id)][:2]
    assert S.player_for_discord(111) is None
    S.link_discord(111, a)
    assert S.player_for_discord(111).id == a  # type: ignore[union-attr]
    S.link_discord(111, b)  # relinking moves the member's link
    assert S.player_for_discord(111).id == b  # type: ignore[union-attr]
    assert Player.get_by_id(a).discord_id is None
    with pytest.raises(S.AlreadyLinked):
        S.link_discord(222, b)
    assert S.player_for_discord(111).id == b  # type: ignore[union-attr]
    S.link_discord(222, b, force=True)
    assert S.player_for_discord(222).id == b  # type: ignore[union-attr]
    assert S.player_for_discord(111) is None
    with pytest.raises(S.UnknownPlayer):
        S.link_discord(333, 10_000_000)


# --------------------------------------------------------------------------- trend and compare


def test_trend_points_are_sessions_with_recomputed_values(full: object) -> None:
    pid = S.leaderboard("rounds", ALL, limit=1).rows[0].player_id
    now = now_of_db()
    data = S.trend(pid, "kd", 365, now=now)
    assert data.fit.n == len(data.points) >= 6
    starts = [p.started_at for p in data.points]
    assert starts == sorted(starts)
    since = now - timedelta(days=365)
    rows = list(
        PlayerRound.select(PlayerRound, Round.session)
        .join(Round)
        .where(
            (PlayerRound.player == pid)
            & (PlayerRound.orphan == False)  # noqa: E712
            & (PlayerRound.team != 3)
            & (PlayerRound.ended_at >= since)
        )
    )
    by_session: dict[int, list[PlayerRound]] = defaultdict(list)
    for row in rows:
        by_session[row.round.session_id].append(row)
    assert {p.session_id for p in data.points} == set(by_session)
    for point in data.points:
        mine = by_session[point.session_id]
        assert point.rounds == len(mine)
        kills = sum(r.kills for r in mine)
        deaths = sum(r.deaths for r in mine)
        assert point.value == pytest.approx(kills / max(deaths, 1))
    short = S.trend(pid, "dpm", 30, now=now)
    assert len(short.points) < len(data.points)
    assert S.trend(pid, "deaths", 365, now=now).fit.higher_is_better is False
    with pytest.raises(S.NoData):
        S.trend(pid, "kd", 30, now=datetime(2000, 1, 1))
    with pytest.raises(S.BadOption):
        S.trend(pid, "kd", 0)


def test_compare_percentiles_against_community(full: object) -> None:
    community = S.player_values(["kd", "dpm"], ALL, min_rounds=S.COMMUNITY_MIN_ROUNDS)
    best_dpm = max(community, key=lambda p: community[p]["dpm"])
    worst_kd = min(community, key=lambda p: community[p]["kd"])
    data = S.compare([best_dpm, worst_kd], ALL)
    assert data.axes == ["K/D", "DPM", "Accuracy", "Objectives", "Revives", "Assists"]
    assert data.community_size == len(community)
    first, second = data.players
    n = len(community)
    assert first.percentiles[1] == pytest.approx(100 * (n - 0.5) / n)
    assert second.percentiles[0] == pytest.approx(100 * 0.5 / n)
    for player in data.players:
        summary = S.player_summary(player.player.id, ALL)
        assert player.raw[0] == pytest.approx(summary.kd)
        assert player.raw[1] == pytest.approx(summary.dpm)
        assert player.raw[2] == pytest.approx(summary.accuracy)
        assert player.raw[3] == pytest.approx(summary.objectives * 600 / summary.time_played_s)
        assert all(0 <= p <= 100 for p in player.percentiles)
    with pytest.raises(S.BadOption):
        S.compare([], ALL)
    with pytest.raises(S.BadOption):
        S.compare(list(community)[:6], ALL)


# --------------------------------------------------------------------------- activity


def test_activity_heatmap_matches_file_times(r1: Database, raw_round1: list[ParsedRound]) -> None:
    now = now_of_db()
    grid = S.activity(None, 520, now=now)
    assert len(grid) == 7 and all(len(row) == 24 for row in grid)
    expected = Counter((r.ended_at.weekday(), r.ended_at.hour) for r in raw_round1)
    assert {(d, h): n for d in range(7) for h in range(24) if (n := grid[d][h])} == expected
    guid, raw = max(raw_sums(raw_round1).items(), key=lambda kv: kv[1].rounds)
    pid = guid_ids()[guid]
    mine = S.activity(pid, 520, now=now)
    assert sum(map(sum, mine)) == raw.rounds
    four_weeks = S.activity(None, 4, now=now)
    recent = [r for r in raw_round1 if now - timedelta(weeks=4) < r.ended_at <= now]
    assert sum(map(sum, four_weeks)) == len(recent) < len(raw_round1)


def test_activity_totals_equal_round_counts(full: object) -> None:
    grid = S.activity(None, 520)
    assert sum(map(sum, grid)) == Round.select().where(Round.orphan == False).count()  # noqa: E712
    for row in S.leaderboard("rounds", ALL, min_rounds=1, limit=100).rows:
        assert sum(map(sum, S.activity(row.player_id, 520))) == row.value


# --------------------------------------------------------------------------- sessions


def test_recent_sessions(full: object) -> None:
    sessions = S.recent_sessions(3)
    assert len(sessions) == 3
    assert sessions[0].started_at > sessions[1].started_at > sessions[2].started_at
    for s in sessions:
        rounds = list(Round.select().where(Round.session == s.session_id).order_by(Round.ended_at))
        assert s.round_count == len(rounds)
        assert s.ended_at == rounds[-1].ended_at
        assert s.started_at < rounds[0].ended_at
        maps = [r.map for i, r in enumerate(rounds) if i == 0 or rounds[i - 1].map != r.map]
        assert s.maps == maps
        kills: Counter[int] = Counter()
        for row in PlayerRound.select().where(
            PlayerRound.round.in_([r.id for r in rounds])
            & (PlayerRound.orphan == False)  # noqa: E712
            & (PlayerRound.team != 3)
        ):
            kills[row.player_id] += row.kills
        assert s.player_count == len(kills)
        assert s.top_fragger_kills == max(kills.values())
        assert s.top_fragger in {
            Player.get_by_id(p).name for p, k in kills.items() if k == s.top_fragger_kills
        }


def _weekly_history(tmp_path: Path, sessions: list[datetime]) -> Path:
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


def test_weekly_pattern_predicts_the_next_session(db: Database, tmp_path: Path) -> None:
    # Twelve weeks: Tuesdays around 20:30 and Thursdays around 21:00 (one Thursday
    # missed), Wednesdays in 7 weeks, plus a one-off Saturday afternoon.
    monday = datetime(2025, 1, 6)
    starts = []
    for week in range(12):
        base = monday + timedelta(weeks=week)
        starts.append(base + timedelta(days=1, hours=20, minutes=25 + week % 3 * 5))
        if week != 5:
            starts.append(base + timedelta(days=3, hours=21, minutes=week % 2 * 10))
        if week % 2 == 0 or week == 11:  # Wednesdays in 7 of 12 weeks: under 2/3
            starts.append(base + timedelta(days=2, hours=19))
    starts.append(monday + timedelta(weeks=4, days=5, hours=15))
    folder = _weekly_history(tmp_path, starts)
    report = Importer().import_paths([folder])
    assert report.imported == len(starts), report.rejected
    now = monday + timedelta(weeks=12, hours=12)  # a Monday noon, server time
    pattern = S.weekly_pattern("Europe/Berlin", now)
    assert [(s.weekday, s.hour) for s in pattern.slots] == [(1, 20), (3, 21)]
    assert pattern.sessions == len(starts)
    tuesday = sorted(s for s in starts if s.weekday() == 1)
    minutes = sorted(s.hour * 60 + s.minute for s in tuesday)[(len(tuesday) - 1) // 2]
    assert pattern.slots[0].minute == minutes % 60 - minutes % 15
    next_tuesday = now.date() + timedelta(days=1)
    expected_local = datetime(2025, 1, 1, 20, pattern.slots[0].minute).replace(
        year=next_tuesday.year, month=next_tuesday.month, day=next_tuesday.day
    )
    assert pattern.next_session is not None
    assert pattern.next_session.utcoffset() == timedelta(0)  # an aware UTC datetime
    berlin = pattern.next_session.astimezone(ZoneInfo("Europe/Berlin"))
    assert berlin.replace(tzinfo=None) == expected_local
    # Aware "now" works too, and right after Tuesday's slot the next one is Thursday.
    aware = datetime(2025, 3, 25, 21, 0, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
    later = S.weekly_pattern("Europe/Berlin", aware)
    assert later.next_session == datetime(2025, 3, 27, 21, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def test_weekly_pattern_none_without_a_regular_day(db: Database, tmp_path: Path) -> None:
    # One session a week, on a different weekday each week: no weekday repeats enough.
    monday = datetime(2025, 1, 6)
    starts = [monday + timedelta(weeks=w, days=w % 7, hours=20) for w in range(12)]
    folder = _weekly_history(tmp_path, starts)
    Importer().import_paths([folder])
    pattern = S.weekly_pattern("UTC", monday + timedelta(weeks=12))
    assert pattern.slots == [] and pattern.next_session is None
    assert pattern.sessions == len(starts)
    with pytest.raises(S.BadOption):
        S.weekly_pattern("Mars/Olympus", monday)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(st.characters(exclude_categories=[]), max_size=120))
def test_any_typed_text_is_handled(full: object, text: str) -> None:
    """Autocomplete never fails on user input; resolving gives a player or a UserError."""
    choices = S.autocomplete_players(text)
    assert len(choices) <= 25
    assert all(len(c.label) <= 100 and len(c.value) <= 100 for c in choices)
    try:
        ref = S.resolve_player(text)
    except S.UserError as exc:
        assert str(exc)
    else:
        assert Player.get_by_id(ref.id).guid == ref.guid


def test_autocomplete_empty_text_offers_recent_regulars(
    full: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(S, "RECENT_PLAYERS", 5)
    recent = list(Player.select().order_by(Player.last_seen.desc(), Player.id.desc()).limit(5))
    choices = S.autocomplete_players("")
    assert {c.value for c in choices} <= {f"guid:{p.guid}" for p in recent}
    assert 1 <= len(choices) <= 5

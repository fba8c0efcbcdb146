"""Read-only statistics queries behind the bot's commands.

Plain synchronous functions over the bound peewee database (the bot runs them off the
event loop). Every user-facing problem raises a :class:`UserError` subclass whose message
is friendly and safe to show in Discord as is.

Rules shared by every query here:

* Aggregates leave out orphan round 2s (``PlayerRound.orphan``) and spectator rows
  (team 3). Round 2 rows already hold round-2-only values.
* Per-player values of a set of rows come from ONE expression builder
  (:func:`stat_sql` over the sums of :func:`_sums`), used for PlayerRound rows and for the
  pre-aggregated :class:`~etbot.models.PlayerDay` rows alike, so a leaderboard, a summary,
  a trend point and a comparison always agree.
* Periods (:func:`parse_period`) start at a server-local midnight, so they can be served
  from PlayerDay exactly; a hand-made :class:`Period` that does not is served from
  PlayerRound.
* Times are naive server-local datetimes (as in the stats file names); only
  :func:`weekly_pattern` turns one into a real instant, with the server's IANA zone.
"""

from __future__ import annotations

import logging
import math
import re
import statistics
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from peewee import SQL, Case, ColumnBase, Model, NodeList, fn

from etbot.aggregates import counted, is_postgres, objectives_expr, revives_expr
from etbot.db import as_datetime
from etbot.models import (
    Alias,
    GamingSession,
    MapResult,
    Player,
    PlayerDay,
    PlayerMapDay,
    PlayerRound,
    PlayerWeaponDay,
    Round,
    Server,
    WeaponRound,
    database_proxy,
)
from etbot.statsfile import clean_name, weapon_name
from etbot.trend import TrendFit, days_since, fit_trend

log = logging.getLogger(__name__)

#: Players need this many rounds in a period to be ranked or to count as "community".
COMMUNITY_MIN_ROUNDS = 10
#: A map needs this many rounds of the player to be their best map.
BEST_MAP_MIN_ROUNDS = 3
AUTOCOMPLETE_LIMIT = 25
#: Empty autocomplete text offers the most active of this many most recently seen players.
RECENT_PLAYERS = 200
DISCORD_CHOICE_MAX = 100

# --------------------------------------------------------------------------- errors


class UserError(Exception):
    """A problem the user can fix; the message is friendly and safe to show."""


class UnknownPlayer(UserError):
    """No player matches what was typed."""


class AmbiguousPlayer(UserError):
    """Several players have used the typed name; ``candidates`` lists them."""

    def __init__(self, message: str, candidates: list[PlayerRef]) -> None:
        super().__init__(message)
        self.candidates = candidates


class NoData(UserError):
    """The query is valid but there is nothing to show (e.g. no rounds in the period)."""


class BadOption(UserError):
    """An option value is not one of the allowed ones."""


class AlreadyLinked(UserError):
    """The GUID is linked to another Discord member."""


def _show(text: str, limit: int = 40) -> str:
    """User text made safe to echo in a message: no mentions, markdown or control chars."""
    cleaned = "".join(
        ch for ch in text if unicodedata.category(ch)[0] != "C" and ch not in "`*_~|>\\"
    )
    cleaned = cleaned.replace("@", "@\u200b").strip()
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "…"
    return f"“{cleaned}”"


# --------------------------------------------------------------------------- periods

PERIODS: dict[str, str] = {
    "all": "All time",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "365d": "Last 365 days",
}
_PERIOD_DAYS = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}


@dataclass(frozen=True)
class Period:
    """A half-open range ``[start, end)`` of server-local round end times (None = open)."""

    start: datetime | None
    end: datetime | None
    label: str

    @property
    def day_aligned(self) -> bool:
        """True when both bounds are midnights (or open): PlayerDay answers it exactly."""
        return all(b is None or b.time() == time() for b in (self.start, self.end))


def parse_period(value: str | None, now: datetime) -> Period:
    """Turn a period option (a key of :data:`PERIODS`; None = all) into a :class:`Period`.

    "Last N days" means today (server-local date of ``now``) and the N - 1 days before.
    """
    key = (value or "all").strip().lower()
    if key not in PERIODS:
        choices = ", ".join(PERIODS)
        raise BadOption(f"Unknown period {_show(key)}; choose one of: {choices}.")
    if key == "all":
        return Period(None, None, PERIODS[key])
    first_day = _local_naive(now).date() - timedelta(days=_PERIOD_DAYS[key] - 1)
    return Period(datetime.combine(first_day, time()), None, PERIODS[key])


def _local_naive(value: datetime) -> datetime:
    # Aware datetimes are taken as already converted by the caller: drop the zone.
    return value.replace(tzinfo=None) if value.tzinfo is not None else value


def latest_round_time() -> datetime | None:
    """End time of the newest round in the database (the default "now" of queries)."""
    value = Round.select(fn.MAX(Round.ended_at)).scalar()
    return None if value is None else as_datetime(value)


# --------------------------------------------------------------------------- stat definitions


def _num(x: float) -> str:
    return f"{x:,.0f}"


def _two(x: float) -> str:
    return f"{x:.2f}"


def _one(x: float) -> str:
    return f"{x:.1f}"


def _pct(x: float) -> str:
    return f"{x:.1f}%"


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


@dataclass(frozen=True)
class StatDef:
    """A statistic users can rank, trend and show."""

    key: str
    label: str
    higher_is_better: bool
    fmt: Callable[[float], str]


STATS: dict[str, StatDef] = {
    s.key: s
    for s in (
        StatDef("kd", "K/D", True, _two),
        StatDef("dpm", "DPM", True, _one),
        StatDef("kills", "Kills", True, _num),
        StatDef("deaths", "Deaths", False, _num),
        StatDef("damage", "Damage given", True, _num),
        StatDef("accuracy", "Accuracy", True, _pct),
        StatDef("headshot_pct", "Headshot %", True, _pct),
        StatDef("revives", "Revives", True, _num),
        StatDef("objectives", "Objectives", True, _num),
        StatDef("assists", "Kill assists", True, _num),
        StatDef("gibs", "Gibs", True, _num),
        StatDef("xp", "XP", True, _num),
        StatDef("time_played", "Time played", True, _duration),
        StatDef("rounds", "Rounds", True, _num),
    )
}

#: Counters every source provides as SQL sums (``rounds`` is the row count).
_COUNTERS = (
    "kills",
    "deaths",
    "hits",
    "shots",
    "headshots",
    "damage_given",
    "gibs",
    "xp",
    "kill_assists",
    "time_played_s",
)


#: Counters of PlayerMapDay (enough for DPM and the round count).
_MAP_COUNTERS = ("rounds", "damage_given", "time_played_s")


def _sums(model: type[Model]) -> dict[str, ColumnBase]:
    """SQL sums of every counter over the grouped rows of PlayerRound or PlayerDay."""
    sums: dict[str, ColumnBase] = {name: fn.SUM(getattr(model, name)) for name in _COUNTERS}
    if model is PlayerRound:
        sums["objectives"] = fn.SUM(objectives_expr())
        sums["revives"] = fn.SUM(revives_expr())
        sums["rounds"] = fn.COUNT(PlayerRound.id)
    elif model is PlayerDay:
        sums["objectives"] = fn.SUM(PlayerDay.objectives)
        sums["revives"] = fn.SUM(PlayerDay.revives)
        sums["rounds"] = fn.SUM(PlayerDay.rounds)
    else:  # pragma: no cover - programming error
        raise TypeError(f"no stat sums for {model!r}")
    return sums


def _real(expr: ColumnBase) -> ColumnBase:
    return expr.cast("DOUBLE PRECISION")


def _ratio(num: ColumnBase, den: ColumnBase, scale: float = 1.0) -> ColumnBase:
    """num * scale / den as a float, NULL (shown as 0) when den is 0."""
    return _real(num) * scale / fn.NULLIF(den, 0)


def stat_sql(key: str, sums: dict[str, ColumnBase]) -> ColumnBase:
    """THE definition of every statistic, as SQL over the sums of a group of rows.

    Besides the keys of :data:`STATS` it knows the per-10-minute rates used by
    :func:`compare` (``objectives_10m``, ``revives_10m``, ``assists_10m``).
    """
    if key == "kd":
        deaths = sums["deaths"]
        return _real(sums["kills"]) / Case(None, [(deaths > 1, deaths)], 1)
    if key == "dpm":
        return _ratio(sums["damage_given"], sums["time_played_s"], 60.0)
    if key == "accuracy":
        return _ratio(sums["hits"], sums["shots"], 100.0)
    if key == "headshot_pct":
        return _ratio(sums["headshots"], sums["hits"], 100.0)
    if key.endswith("_10m"):
        counter = {"objectives": "objectives", "revives": "revives", "assists": "kill_assists"}
        return _ratio(sums[counter[key[:-4]]], sums["time_played_s"], 600.0)
    plain = {
        "kills": "kills",
        "deaths": "deaths",
        "damage": "damage_given",
        "revives": "revives",
        "objectives": "objectives",
        "assists": "kill_assists",
        "gibs": "gibs",
        "xp": "xp",
        "time_played": "time_played_s",
        "rounds": "rounds",
    }
    if key in plain:
        return sums[plain[key]]
    raise BadOption(f"Unknown statistic {_show(key)}; choose one of: {', '.join(STATS)}.")


def _stat_def(key: str) -> StatDef:
    try:
        return STATS[key]
    except KeyError:
        raise BadOption(
            f"Unknown statistic {_show(key)}; choose one of: {', '.join(STATS)}."
        ) from None


def _as_float(value: Any) -> float:
    return 0.0 if value is None else float(value)


def _round_period(period: Period) -> ColumnBase:
    cond: ColumnBase = counted()
    if period.start is not None:
        cond &= PlayerRound.ended_at >= period.start
    if period.end is not None:
        cond &= PlayerRound.ended_at < period.end
    return cond


def _day_period(
    model: type[PlayerDay] | type[PlayerWeaponDay] | type[PlayerMapDay], period: Period
) -> ColumnBase:
    cond: ColumnBase = SQL("1 = 1")
    if period.start is not None:
        cond &= model.day >= period.start.date()
    if period.end is not None:
        cond &= model.day < period.end.date()
    return cond


def player_values(
    keys: Sequence[str],
    period: Period,
    *,
    player_ids: Sequence[int] | None = None,
    min_rounds: int = 0,
) -> dict[int, dict[str, float]]:
    """Values of the given stats per player over the period (plus ``"rounds"``).

    Served from PlayerDay when the period is day-aligned, else from PlayerRound; both go
    through :func:`stat_sql`, so they agree.
    """
    model: type[PlayerDay] | type[PlayerRound]
    if period.day_aligned:
        model, where = PlayerDay, _day_period(PlayerDay, period)
    else:
        model, where = PlayerRound, _round_period(period)
    sums = _sums(model)
    player_col = model.player
    if player_ids is not None:
        where &= player_col.in_(list(player_ids))
    columns = [player_col, sums["rounds"]] + [stat_sql(k, sums) for k in keys]
    query = model.select(*columns).where(where).group_by(player_col)
    if min_rounds > 0:
        query = query.having(sums["rounds"] >= min_rounds)
    out: dict[int, dict[str, float]] = {}
    for row in query.tuples():
        values = {k: _as_float(v) for k, v in zip(keys, row[2:], strict=True)}
        values["rounds"] = _as_float(row[1])
        out[row[0]] = values
    return out


# --------------------------------------------------------------------------- players


@dataclass(frozen=True)
class PlayerRef:
    """A resolved player."""

    id: int
    guid: str
    name: str


@dataclass(frozen=True)
class PlayerChoice:
    """One autocomplete entry (Discord limits both strings to 100 characters)."""

    label: str
    value: str


_HEX = re.compile(r"[0-9A-Fa-f]{8,32}")
#: Unicode categories that cannot be part of a player name: controls, lone surrogates.
_BAD = ("Cc", "Cs")


def _ref(player: Player) -> PlayerRef:
    return PlayerRef(player.id, player.guid, player.name)


def get_player(player_id: int) -> PlayerRef:
    """The player with this id, or :class:`UnknownPlayer`."""
    player = Player.get_or_none(Player.id == player_id)
    if player is None:
        raise UnknownPlayer("That player is not in the database (any more).")
    return _ref(player)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like(column: ColumnBase, pattern: str) -> ColumnBase:
    return NodeList((column, SQL("LIKE"), pattern, SQL("ESCAPE '\\'")))


def _prefix_condition(text: str) -> ColumnBase:
    """Index-friendly ``name_lower`` starts with ``text``."""
    if is_postgres():
        # Uses the text_pattern_ops index of migration 0002 whatever the collation.
        return _like(Alias.name_lower, _like_escape(text) + "%")
    # SQLite compares text bytewise (BINARY): a range on the plain index, exact for UTF-8.
    return (Alias.name_lower >= text) & (Alias.name_lower < text + "\U0010ffff")


def _choice(alias_name: str, current: str, guid: str) -> PlayerChoice:
    value = f"guid:{guid}"[:DISCORD_CHOICE_MAX]
    if alias_name.lower() == current.lower():
        label = alias_name
    else:
        suffix = f" (aka {current})"
        if len(suffix) > DISCORD_CHOICE_MAX // 2:
            suffix = suffix[: DISCORD_CHOICE_MAX // 2 - 2] + "…)"
        room = DISCORD_CHOICE_MAX - len(suffix)
        name = alias_name if len(alias_name) <= room else alias_name[: room - 1] + "…"
        label = name + suffix
    label = label.strip() or guid
    return PlayerChoice(label[:DISCORD_CHOICE_MAX], value)


def autocomplete_players(text: str, limit: int = AUTOCOMPLETE_LIMIT) -> list[PlayerChoice]:
    """Player choices for what was typed so far (at most 25).

    Every alias counts: case-insensitive prefix matches first, then substring matches,
    each most-used alias first; one entry per player and alias. Empty text gives the
    most active of the recently seen players (one entry each). Values are
    ``guid:XXXXXXXX`` (they resolve unambiguously).
    """
    limit = max(0, min(limit, AUTOCOMPLETE_LIMIT))
    # Control characters and lone surrogates are never in a name (PostgreSQL rejects NUL).
    printable = "".join(ch for ch in (text or "") if unicodedata.category(ch) not in _BAD)
    needle = clean_name(printable).strip().lower()[:DISCORD_CHOICE_MAX]
    if limit == 0:
        return []
    columns = (Alias.player, Alias.name, Alias.name_lower, Player.name, Player.guid)
    base = Alias.select(*columns).join(Player)
    order = (Alias.rounds.desc(), Alias.name_lower, Alias.player)
    if not needle:
        # Most active among the recently seen players: both steps use an index
        # (player.last_seen, alias (player, name)) instead of sorting every alias.
        recent = (
            Player.select(Player.id)
            .order_by(Player.last_seen.desc(), Player.id.desc())
            .limit(RECENT_PLAYERS)
        )
        rows = list(base.where(Alias.player.in_(recent)).order_by(*order).limit(limit * 8).tuples())
        seen_players: set[int] = set()
        picked = []
        for row in rows:
            if row[0] not in seen_players:
                seen_players.add(row[0])
                picked.append(row)
        rows = picked
    else:
        prefix = _prefix_condition(needle)
        # Fetch a few extra: "Foo" and "foo" of one player collapse into one entry.
        rows = list(base.where(prefix).order_by(*order).limit(limit * 2).tuples())
        if len(rows) < limit * 2:
            contains = _like(Alias.name_lower, "%" + _like_escape(needle) + "%")
            rows += list(base.where(contains & ~prefix).order_by(*order).limit(limit * 2).tuples())
    choices: list[PlayerChoice] = []
    seen: set[tuple[int, str]] = set()
    for player_id, alias_name, alias_lower, current, guid in rows:
        if (player_id, alias_lower) in seen:
            continue
        seen.add((player_id, alias_lower))
        choices.append(_choice(alias_name, current, guid))
        if len(choices) >= limit:
            break
    return choices


def resolve_player(value: str) -> PlayerRef:
    """Turn an option value into a player.

    Accepts an autocomplete value (``guid:XXXXXXXX``), a raw GUID, or a typed name, which
    must be exactly (case-insensitively, colour codes ignored) a name one player used.
    """
    text = (value or "").strip()
    if not text:
        raise BadOption("Type a player name and pick one from the list.")
    if len(text) > DISCORD_CHOICE_MAX or any(unicodedata.category(c) in _BAD for c in text):
        raise BadOption("That is not a valid player name; pick one from the list.")
    if text[:5].lower() == "guid:":
        guid = text[5:].strip()
        if not _HEX.fullmatch(guid):
            raise BadOption("That is not a valid player GUID; pick a player from the list.")
        player = Player.get_or_none(Player.guid == guid.upper())
        if player is None:
            raise UnknownPlayer(f"No player with GUID {_show(guid)}; pick one from the list.")
        return _ref(player)
    if _HEX.fullmatch(text):
        player = Player.get_or_none(Player.guid == text.upper())
        if player is not None:
            return _ref(player)
    name = clean_name(text).strip().lower()
    rows = list(
        Alias.select(Alias.player, fn.MAX(Alias.rounds))
        .where(Alias.name_lower == name)
        .group_by(Alias.player)
        .order_by(fn.MAX(Alias.rounds).desc(), Alias.player)
        .tuples()
    )
    if not rows:
        raise UnknownPlayer(f"No player called {_show(text)}; pick one from the list.")
    if len(rows) == 1:
        return get_player(rows[0][0])
    players = {p.id: p for p in Player.select().where(Player.id.in_([r[0] for r in rows]))}
    candidates = [_ref(players[pid]) for pid, _ in rows if pid in players]
    listed = ", ".join(f"{c.name} ({c.guid})" for c in candidates[:5])
    more = f" and {len(candidates) - 5} more" if len(candidates) > 5 else ""
    raise AmbiguousPlayer(
        f"{len(candidates)} players have used the name {_show(text)}: {listed}{more}. "
        "Pick one from the list.",
        candidates,
    )


def player_for_discord(discord_id: int) -> PlayerRef | None:
    """The player linked to this Discord member, if any."""
    player = Player.get_or_none(Player.discord_id == discord_id)
    return _ref(player) if player is not None else None


def link_discord(discord_id: int, player_id: int, *, force: bool = False) -> None:
    """Link a Discord member to one player (GUID).

    A member has at most one link: linking again moves it. A GUID already linked to
    another member raises :class:`AlreadyLinked` unless ``force`` (admins), which moves
    the GUID to this member.
    """
    with database_proxy.atomic():
        player = Player.get_or_none(Player.id == player_id)
        if player is None:
            raise UnknownPlayer("That player is not in the database (any more).")
        if player.discord_id == discord_id:
            return
        if player.discord_id is not None and not force:
            raise AlreadyLinked(
                f"{player.name} is already linked to another Discord member; "
                "ask an admin if that is wrong."
            )
        # Clear the member's old link first: discord_id is unique.
        Player.update(discord_id=None).where(Player.discord_id == discord_id).execute()
        Player.update(discord_id=discord_id).where(Player.id == player_id).execute()
    log.info("linked discord member %s to player %s (force=%s)", discord_id, player_id, force)


def unlink_discord(discord_id: int) -> bool:
    """Remove a member's link; True if there was one."""
    return bool(Player.update(discord_id=None).where(Player.discord_id == discord_id).execute())


# --------------------------------------------------------------------------- leaderboard


@dataclass(frozen=True)
class LeaderRow:
    rank: int
    player_id: int
    name: str
    value: float
    rounds: int


@dataclass(frozen=True)
class LeaderboardPage:
    rows: list[LeaderRow]
    total: int  # players qualifying (>= min_rounds in the period)


def _ranked(stat: StatDef, period: Period, min_rounds: int) -> list[tuple[int, int, float, int]]:
    """Every qualifying player as (rank, player id, value, rounds), best first.

    Equal values share a rank (1, 2, 2, 4); among them more rounds, then the lower
    player id, come first, so the order never depends on the database.
    """
    values = player_values([stat.key], period, min_rounds=max(min_rounds, 1))
    sign = -1.0 if stat.higher_is_better else 1.0
    order = sorted(values.items(), key=lambda kv: (sign * kv[1][stat.key], -kv[1]["rounds"], kv[0]))
    ranked: list[tuple[int, int, float, int]] = []
    previous: float | None = None
    rank = 0
    for position, (pid, vals) in enumerate(order, start=1):
        value = vals[stat.key]
        if value != previous:
            rank, previous = position, value
        ranked.append((rank, pid, value, int(vals["rounds"])))
    return ranked


def leaderboard(
    stat: str,
    period: Period,
    min_rounds: int = COMMUNITY_MIN_ROUNDS,
    limit: int = 10,
    offset: int = 0,
) -> LeaderboardPage:
    """One page of the ranking of players by ``stat`` over ``period``."""
    definition = _stat_def(stat)
    if not 1 <= limit <= 100 or offset < 0 or min_rounds < 0:
        raise BadOption("Page size must be 1–100 and the page must not be negative.")
    ranked = _ranked(definition, period, min_rounds)
    page = ranked[offset : offset + limit]
    names = dict(
        Player.select(Player.id, Player.name)
        .where(Player.id.in_([r[1] for r in page] or [0]))
        .tuples()
    )
    rows = [LeaderRow(rank, pid, names.get(pid, "?"), value, n) for rank, pid, value, n in page]
    return LeaderboardPage(rows, len(ranked))


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class PlayerSummary:
    player_id: int
    name: str
    guid: str
    period: str
    rounds: int
    kills: int
    deaths: int
    kd: float
    dpm: float
    accuracy: float
    headshot_pct: float
    revives: int
    objectives: int
    assists: int
    gibs: int
    xp: int
    damage: int
    time_played_s: int
    favourite_weapon: str | None
    favourite_weapon_kills: int
    best_map: str | None
    best_map_dpm: float | None
    #: Rank by DPM among players with >= 10 rounds in the period (None below that).
    rank: int | None
    community_size: int
    aliases: list[str]
    first_seen: datetime
    last_seen: datetime
    maps_won: int
    maps_lost: int


def _favourite_weapon(player_id: int, period: Period) -> tuple[str | None, int]:
    if period.day_aligned:
        where = (PlayerWeaponDay.player == player_id) & _day_period(PlayerWeaponDay, period)
        kills = fn.SUM(PlayerWeaponDay.kills)
        query = PlayerWeaponDay.select(PlayerWeaponDay.weapon, kills).where(where)
        query = query.group_by(PlayerWeaponDay.weapon).order_by(
            kills.desc(), PlayerWeaponDay.weapon
        )
    else:
        kills = fn.SUM(WeaponRound.kills)
        query = (
            WeaponRound.select(WeaponRound.weapon, kills)
            .join(
                PlayerRound,
                on=(PlayerRound.round == WeaponRound.round)
                & (PlayerRound.player == WeaponRound.player),
            )
            .where((WeaponRound.player == player_id) & _round_period(period))
            .group_by(WeaponRound.weapon)
            .order_by(kills.desc(), WeaponRound.weapon)
        )
    row = query.limit(1).tuples().first()
    if row is None or not row[1]:
        return None, 0
    return weapon_name(int(row[0])), int(row[1])


def _best_map(player_id: int, period: Period) -> tuple[str | None, float | None]:
    """The map with the highest DPM among those with >= 3 rounds of the player."""
    model: type[PlayerMapDay] | type[PlayerRound]
    if period.day_aligned:
        model = PlayerMapDay
        where = (PlayerMapDay.player == player_id) & _day_period(PlayerMapDay, period)
        sums = {name: fn.SUM(getattr(PlayerMapDay, name)) for name in _MAP_COUNTERS}
    else:
        model = PlayerRound
        where = (PlayerRound.player == player_id) & _round_period(period)
        sums = _sums(PlayerRound)
    dpm = fn.COALESCE(stat_sql("dpm", sums), 0)  # NULL would sort first in PostgreSQL
    row = (
        model.select(model.map, dpm)
        .where(where)
        .group_by(model.map)
        .having(sums["rounds"] >= BEST_MAP_MIN_ROUNDS)
        .order_by(dpm.desc(), model.map)
        .limit(1)
        .tuples()
        .first()
    )
    if row is None:
        return None, None
    return row[0], _as_float(row[1])


def _map_results(player_id: int, period: Period) -> tuple[int, int]:
    """(maps won, maps lost): the player's round 2 team against the map's winner."""
    if period.day_aligned:
        row = (
            PlayerDay.select(fn.SUM(PlayerDay.maps_won), fn.SUM(PlayerDay.maps_lost))
            .where((PlayerDay.player == player_id) & _day_period(PlayerDay, period))
            .tuples()
            .first()
        )
        return (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)
    won = PlayerRound.team == MapResult.winner_team
    query = (
        PlayerRound.select(
            fn.SUM(Case(None, [(won, 1)], 0)),
            fn.SUM(Case(None, [(won, 0)], 1)),
        )
        .join(MapResult, on=(MapResult.round2 == PlayerRound.round))
        .where(
            (PlayerRound.player == player_id)
            & _round_period(period)
            & MapResult.winner_team.is_null(False)
        )
    )
    row = query.tuples().first()
    return (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)


_SUMMARY_STATS = (
    "kills",
    "deaths",
    "kd",
    "dpm",
    "accuracy",
    "headshot_pct",
    "revives",
    "objectives",
    "assists",
    "gibs",
    "xp",
    "damage",
    "time_played",
)


def player_summary(player_id: int, period: Period) -> PlayerSummary:
    """Everything the ``/stats`` card shows about one player over one period."""
    player = Player.get_or_none(Player.id == player_id)
    if player is None:
        raise UnknownPlayer("That player is not in the database (any more).")
    values = player_values(_SUMMARY_STATS, period, player_ids=[player_id]).get(player_id)
    if not values or not values["rounds"]:
        raise NoData(f"{player.name} has no rounds in this period ({period.label.lower()}).")
    weapon, weapon_kills = _favourite_weapon(player_id, period)
    best_map, best_dpm = _best_map(player_id, period)
    ranked = _ranked(STATS["dpm"], period, COMMUNITY_MIN_ROUNDS)
    rank = next((r[0] for r in ranked if r[1] == player_id), None)
    aliases = [
        a.name
        for a in Alias.select(Alias.name)
        .where(Alias.player == player_id)
        .order_by(Alias.rounds.desc(), Alias.name)
        .limit(5)
    ]
    won, lost = _map_results(player_id, period)
    return PlayerSummary(
        player_id=player.id,
        name=player.name,
        guid=player.guid,
        period=period.label,
        rounds=int(values["rounds"]),
        kills=int(values["kills"]),
        deaths=int(values["deaths"]),
        kd=values["kd"],
        dpm=values["dpm"],
        accuracy=values["accuracy"],
        headshot_pct=values["headshot_pct"],
        revives=int(values["revives"]),
        objectives=int(values["objectives"]),
        assists=int(values["assists"]),
        gibs=int(values["gibs"]),
        xp=int(values["xp"]),
        damage=int(values["damage"]),
        time_played_s=int(values["time_played"]),
        favourite_weapon=weapon,
        favourite_weapon_kills=weapon_kills,
        best_map=best_map,
        best_map_dpm=best_dpm,
        rank=rank,
        community_size=len(ranked),
        aliases=aliases,
        first_seen=player.first_seen,
        last_seen=player.last_seen,
        maps_won=won,
        maps_lost=lost,
    )


# --------------------------------------------------------------------------- trend


@dataclass(frozen=True)
class TrendPoint:
    session_id: int
    started_at: datetime
    day: date
    value: float
    rounds: int


@dataclass(frozen=True)
class TrendData:
    player: PlayerRef
    stat: str
    label: str
    days: int
    points: list[TrendPoint]
    fit: TrendFit


def trend(player_id: int, stat: str, days: int, now: datetime | None = None) -> TrendData:
    """The stat per gaming session the player played in the last ``days`` days.

    ``now`` defaults to the newest round in the database (or the current time). ``fit``
    is :func:`etbot.trend.fit_trend` over days since the first session shown.
    """
    definition = _stat_def(stat)
    if not 1 <= days <= 3660:
        raise BadOption("The number of days must be between 1 and 3660.")
    ref = get_player(player_id)
    now = _local_naive(now) if now is not None else (latest_round_time() or datetime.now())
    sums = _sums(PlayerRound)
    query = (
        PlayerRound.select(
            Round.session, GamingSession.started_at, sums["rounds"], stat_sql(stat, sums)
        )
        .join(Round, on=(PlayerRound.round == Round.id))
        .join(GamingSession, on=(Round.session == GamingSession.id))
        .where(
            (PlayerRound.player == player_id)
            & counted()
            & (PlayerRound.ended_at >= now - timedelta(days=days))
            & (PlayerRound.ended_at <= now)
        )
        .group_by(Round.session, GamingSession.started_at)
        .order_by(GamingSession.started_at)
    )
    points = [
        TrendPoint(sid, started, started.date(), _as_float(value), int(n))
        for sid, started, n, value in query.tuples()
    ]
    if not points:
        raise NoData(f"{ref.name} played no sessions in the last {days} days.")
    xs = days_since([p.started_at for p in points])
    fit = fit_trend(xs, [p.value for p in points], higher_is_better=definition.higher_is_better)
    return TrendData(ref, definition.key, definition.label, days, points, fit)


# --------------------------------------------------------------------------- compare

COMPARE_AXES = ["K/D", "DPM", "Accuracy", "Objectives", "Revives", "Assists"]
#: Units of the raw numbers behind each axis (for the table under the radar chart).
COMPARE_UNITS = ["K/D", "DPM", "Accuracy %", "Obj. /10 min", "Revives /10 min", "Assists /10 min"]
_COMPARE_KEYS = ["kd", "dpm", "accuracy", "objectives_10m", "revives_10m", "assists_10m"]
MAX_COMPARE = 5


@dataclass(frozen=True)
class ComparedPlayer:
    player: PlayerRef
    rounds: int
    #: Percentile (0..100) of each axis among the community, in :data:`COMPARE_AXES` order.
    percentiles: list[float]
    #: Raw values of each axis (units in :data:`COMPARE_UNITS`).
    raw: list[float]


@dataclass(frozen=True)
class CompareData:
    axes: list[str]
    units: list[str]
    players: list[ComparedPlayer]
    #: Players with >= 10 rounds in the period, the reference of the percentiles.
    community_size: int
    period: str


def percentile(value: float, population: Sequence[float]) -> float:
    """Mid-rank percentile: share of the population below ``value`` (ties count half)."""
    if not population:
        return 0.0
    below = sum(1 for v in population if v < value)
    equal = sum(1 for v in population if v == value)
    return 100.0 * (below + 0.5 * equal) / len(population)


def compare(player_ids: list[int], period: Period) -> CompareData:
    """Players side by side: per-axis percentiles against the community, and raw values.

    Objectives, revives and assists are per 10 minutes played, so players are compared
    on what they do while playing rather than how much they play.
    """
    ids = list(dict.fromkeys(player_ids))
    if not 1 <= len(ids) <= MAX_COMPARE:
        raise BadOption(f"Compare 1 to {MAX_COMPARE} different players.")
    refs = [get_player(pid) for pid in ids]
    community = player_values(_COMPARE_KEYS, period, min_rounds=COMMUNITY_MIN_ROUNDS)
    if not community:
        raise NoData(
            f"No player has {COMMUNITY_MIN_ROUNDS} rounds in this period "
            f"({period.label.lower()}); pick a longer one."
        )
    mine = player_values(_COMPARE_KEYS, period, player_ids=ids)
    populations = {k: sorted(v[k] for v in community.values()) for k in _COMPARE_KEYS}
    players = []
    for ref in refs:
        values = mine.get(ref.id)
        if not values or not values["rounds"]:
            raise NoData(f"{ref.name} has no rounds in this period ({period.label.lower()}).")
        raw = [values[k] for k in _COMPARE_KEYS]
        pcts = [percentile(values[k], populations[k]) for k in _COMPARE_KEYS]
        players.append(ComparedPlayer(ref, int(values["rounds"]), pcts, raw))
    return CompareData(
        list(COMPARE_AXES), list(COMPARE_UNITS), players, len(community), period.label
    )


# --------------------------------------------------------------------------- activity


def activity(player_id: int | None, weeks: int, now: datetime | None = None) -> list[list[int]]:
    """Rounds played per weekday (Monday first) and hour, in server local time.

    Rounds of one player (their counted rows) or, with ``player_id=None``, of the whole
    server (every non-orphan round), over the ``weeks`` weeks before ``now`` (default: the
    newest round). Returns 7 lists of 24 counts.
    """
    if not 1 <= weeks <= 520:
        raise BadOption("The number of weeks must be between 1 and 520.")
    now = _local_naive(now) if now is not None else (latest_round_time() or datetime.now())
    since = now - timedelta(weeks=weeks)
    if player_id is None:
        column: Any = Round.ended_at
        where = (Round.orphan == False) & (Round.ended_at > since) & (Round.ended_at <= now)  # noqa: E712
        model: Any = Round
    else:
        get_player(player_id)
        column = PlayerRound.ended_at
        where = (
            (PlayerRound.player == player_id)
            & counted()
            & (PlayerRound.ended_at > since)
            & (PlayerRound.ended_at <= now)
        )
        model = PlayerRound
    if is_postgres():
        weekday = fn.date_part("isodow", column)  # Monday 1 .. Sunday 7
        hour = fn.date_part("hour", column)
        monday_first = {d: d - 1 for d in range(1, 8)}
    else:
        weekday = fn.CAST(NodeList((fn.strftime("%w", column), SQL("AS INTEGER"))))
        hour = fn.CAST(NodeList((fn.strftime("%H", column), SQL("AS INTEGER"))))
        monday_first = {d: (d + 6) % 7 for d in range(7)}  # %w: Sunday 0 .. Saturday 6
    grid = [[0] * 24 for _ in range(7)]
    query = model.select(weekday, hour, fn.COUNT(SQL("*"))).where(where).group_by(weekday, hour)
    for wd, hr, n in query.tuples():
        grid[monday_first[int(wd)]][int(hr)] += int(n)
    return grid


# --------------------------------------------------------------------------- sessions


@dataclass(frozen=True)
class SessionInfo:
    session_id: int
    server: str
    #: Estimated start: end of the first round minus its length (server local time).
    started_at: datetime
    ended_at: datetime
    duration: timedelta
    maps: list[str]  # in play order, one entry per map played (round 1 + 2 collapse)
    player_count: int
    top_fragger: str | None
    top_fragger_kills: int
    round_count: int


def _round_start(ended_at: datetime, round_time_s: int | None, time_limit_s: int) -> datetime:
    seconds = round_time_s if round_time_s else time_limit_s
    return ended_at - timedelta(seconds=seconds or 0)


def recent_sessions(limit: int = 5) -> list[SessionInfo]:
    """The latest gaming sessions (all servers), newest first."""
    if not 1 <= limit <= 25:
        raise BadOption("Show between 1 and 25 sessions.")
    sessions = list(
        GamingSession.select(GamingSession, Server.clean_name)
        .join(Server)
        .order_by(GamingSession.started_at.desc(), GamingSession.id.desc())
        .limit(limit)
    )
    if not sessions:
        raise NoData("No gaming sessions recorded yet.")
    ids = [s.id for s in sessions]
    rounds_by: dict[int, list[tuple[datetime, str, int | None, int]]] = defaultdict(list)
    for sid, ended, mapname, rtime, tlimit in (
        Round.select(
            Round.session, Round.ended_at, Round.map, Round.round_time_s, Round.time_limit_s
        )
        .where(Round.session.in_(ids))
        .order_by(Round.ended_at, Round.id)
        .tuples()
    ):
        rounds_by[sid].append((ended, mapname, rtime, tlimit))
    kills = fn.SUM(PlayerRound.kills)
    per_player: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for sid, pid, k in (
        PlayerRound.select(Round.session, PlayerRound.player, kills)
        .join(Round, on=(PlayerRound.round == Round.id))
        .where(Round.session.in_(ids) & counted())
        .group_by(Round.session, PlayerRound.player)
        .tuples()
    ):
        per_player[sid].append((pid, int(k or 0)))
    tops = {sid: min(rows, key=lambda r: (-r[1], r[0])) for sid, rows in per_player.items()}
    names = dict(
        Player.select(Player.id, Player.name)
        .where(Player.id.in_([t[0] for t in tops.values()] or [0]))
        .tuples()
    )
    out = []
    for s in sessions:
        rounds = rounds_by.get(s.id, [])
        maps: list[str] = []
        for _ended, mapname, _rt, _tl in rounds:
            if not maps or maps[-1] != mapname:
                maps.append(mapname)
        start = _round_start(*_first(rounds)) if rounds else s.started_at
        top = tops.get(s.id)
        out.append(
            SessionInfo(
                session_id=s.id,
                server=s.server.clean_name,
                started_at=start,
                ended_at=s.ended_at,
                duration=s.ended_at - start,
                maps=maps,
                player_count=len(per_player.get(s.id, [])),
                top_fragger=names.get(top[0]) if top else None,
                top_fragger_kills=top[1] if top else 0,
                round_count=len(rounds),
            )
        )
    return out


def _first(rounds: list[tuple[datetime, str, int | None, int]]) -> tuple[datetime, int | None, int]:
    ended, _map, rtime, tlimit = rounds[0]
    return ended, rtime, tlimit


@dataclass(frozen=True)
class PatternSlot:
    """A usual session start: weekday (Monday 0) and server-local time of day."""

    weekday: int
    hour: int
    minute: int
    #: In how many of the observed weeks a session started on this weekday.
    weeks_seen: int


@dataclass(frozen=True)
class WeeklyPattern:
    slots: list[PatternSlot]
    weeks_observed: int
    sessions: int
    #: Next expected session start as an aware UTC datetime; None without a clear pattern.
    next_session: datetime | None
    timezone: str = "UTC"
    #: Sessions per weekday in the window (Monday first), for a chart.
    by_weekday: list[int] = field(default_factory=lambda: [0] * 7)


PATTERN_WEEKS = 12
#: A weekday is "usual" when a session started on it in at least this share of weeks.
PATTERN_MIN_WEEK_SHARE = 2 / 3
PATTERN_MIN_SESSIONS = 3


def _session_starts(since: datetime, until: datetime) -> list[datetime]:
    """Estimated start of each session that started in ``[since, until]`` (local time)."""
    firsts: dict[int, tuple[datetime, int | None, int]] = {}
    for sid, ended, rtime, tlimit in (
        Round.select(Round.session, Round.ended_at, Round.round_time_s, Round.time_limit_s)
        .join(GamingSession, on=(Round.session == GamingSession.id))
        .where((GamingSession.started_at >= since) & (GamingSession.started_at <= until))
        .order_by(Round.ended_at, Round.id)
        .tuples()
    ):
        if sid not in firsts:
            firsts[sid] = (ended, rtime, tlimit)
    return sorted(_round_start(*v) for v in firsts.values())


def weekly_pattern(tz: str, now: datetime, weeks: int = PATTERN_WEEKS) -> WeeklyPattern:
    """When do sessions usually start, and when is the next one expected?

    Looks at the sessions of the last ``weeks`` weeks (all servers). A weekday is usual
    when sessions started on it in at least two thirds of the observed weeks (and at least
    three times); its usual time is the median start time of those sessions, rounded
    down to a quarter hour. ``now`` is server-local (naive) or aware (converted to ``tz``).
    """
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadOption(f"Unknown timezone {_show(tz)}.") from None
    local_now = now.astimezone(zone).replace(tzinfo=None) if now.tzinfo else now
    since = local_now - timedelta(weeks=weeks)
    starts = _session_starts(since, local_now)
    by_weekday = [0] * 7
    for s in starts:
        by_weekday[s.weekday()] += 1
    if not starts:
        return WeeklyPattern([], 0, 0, None, tz, by_weekday)
    span_days = (local_now - starts[0]).total_seconds() / 86400
    observed = max(1, min(weeks, math.ceil(span_days / 7)))
    slots = []
    for weekday in range(7):
        days = [s for s in starts if s.weekday() == weekday]
        week_numbers = {int((local_now - s).total_seconds() // (7 * 86400)) for s in days}
        if len(days) < PATTERN_MIN_SESSIONS:
            continue
        if len(week_numbers) < PATTERN_MIN_WEEK_SHARE * observed:
            continue
        minutes = statistics.median_low([s.hour * 60 + s.minute for s in days])
        minutes -= minutes % 15
        slots.append(PatternSlot(weekday, minutes // 60, minutes % 60, len(week_numbers)))
    next_local = _next_slot(slots, local_now)
    next_utc = next_local.replace(tzinfo=zone).astimezone(UTC) if next_local else None
    return WeeklyPattern(slots, observed, len(starts), next_utc, tz, by_weekday)


def _next_slot(slots: Iterable[PatternSlot], after: datetime) -> datetime | None:
    best: datetime | None = None
    for slot in slots:
        for ahead in range(8):
            day = after.date() + timedelta(days=ahead)
            if day.weekday() != slot.weekday:
                continue
            candidate = datetime.combine(day, time(slot.hour, slot.minute))
            if candidate > after and (best is None or candidate < best):
                best = candidate
    return best

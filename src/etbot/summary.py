"""Player summaries: everything the player card shows about one player over one period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from peewee import Case, fn

from etbot.cache import cached_query
from etbot.errors import NoData
from etbot.leaderboard import ranked
from etbot.models import (
    Alias,
    MapResult,
    PlayerDay,
    PlayerMapDay,
    PlayerRound,
    PlayerWeaponDay,
    WeaponRound,
)
from etbot.periods import Period
from etbot.players import player_row
from etbot.servers import get_server
from etbot.statdefs import (
    COMMUNITY_MIN_ROUNDS,
    MAP_COUNTERS,
    STATS,
    as_float,
    day_period,
    on_server,
    player_values,
    round_period,
    stat_sql,
    sums,
)
from etbot.statsfile import weapon_name

#: A map needs this many rounds of the player to be their best map.
BEST_MAP_MIN_ROUNDS = 3
#: Aliases listed on the card (most used first).
ALIASES_SHOWN = 5


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
    #: The game server the numbers are about (None: every server).
    server: str | None = None


def favourite_weapon(
    player_id: int, period: Period, server: int | None = None
) -> tuple[str | None, int]:
    """(weapon, kills) of the weapon the player killed most with; (None, 0) without kills."""
    if period.day_aligned:
        where = (PlayerWeaponDay.player == player_id) & day_period(PlayerWeaponDay, period)
        if server is not None:
            where &= on_server(PlayerWeaponDay, server)
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
            .where(
                (WeaponRound.player == player_id)
                & round_period(period)
                & on_server(PlayerRound, server)
            )
            .group_by(WeaponRound.weapon)
            .order_by(kills.desc(), WeaponRound.weapon)
        )
    row = query.limit(1).tuples().first()
    if row is None:
        return None, 0
    weapon, weapon_kills = row
    if not weapon_kills:
        return None, 0
    return weapon_name(int(weapon)), int(weapon_kills)


def best_map(
    player_id: int, period: Period, server: int | None = None
) -> tuple[str | None, float | None]:
    """The map with the highest DPM among those with >= 3 rounds of the player."""
    model: type[PlayerMapDay] | type[PlayerRound]
    if period.day_aligned:
        model = PlayerMapDay
        where = (PlayerMapDay.player == player_id) & day_period(PlayerMapDay, period)
        totals = {name: fn.SUM(getattr(PlayerMapDay, name)) for name in MAP_COUNTERS}
    else:
        model = PlayerRound
        where = (PlayerRound.player == player_id) & round_period(period)
        totals = sums(PlayerRound)
    if server is not None:
        where &= on_server(model, server)
    dpm = fn.COALESCE(stat_sql("dpm", totals), 0)  # NULL would sort first in PostgreSQL
    row = (
        model.select(model.map, dpm)
        .where(where)
        .group_by(model.map)
        .having(totals["rounds"] >= BEST_MAP_MIN_ROUNDS)
        .order_by(dpm.desc(), model.map)
        .limit(1)
        .tuples()
        .first()
    )
    if row is None:
        return None, None
    map_name, map_dpm = row
    return map_name, as_float(map_dpm)


def map_results(player_id: int, period: Period, server: int | None = None) -> tuple[int, int]:
    """(maps won, maps lost): the player's round 2 team against the map's winner."""
    if period.day_aligned:
        query = PlayerDay.select(fn.SUM(PlayerDay.maps_won), fn.SUM(PlayerDay.maps_lost)).where(
            (PlayerDay.player == player_id)
            & day_period(PlayerDay, period)
            & on_server(PlayerDay, server)
        )
    else:
        won = PlayerRound.team == MapResult.winner_team
        query = (
            PlayerRound.select(
                fn.SUM(Case(None, [(won, 1)], 0)),
                fn.SUM(Case(None, [(won, 0)], 1)),
            )
            .join(MapResult, on=(MapResult.round2 == PlayerRound.round))
            .where(
                (PlayerRound.player == player_id)
                & round_period(period)
                & on_server(PlayerRound, server)
                & MapResult.winner_team.is_null(False)
            )
        )
    row = query.tuples().first()
    if row is None:
        return 0, 0
    won_maps, lost_maps = row
    return int(won_maps or 0), int(lost_maps or 0)


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


@cached_query
def player_summary(player_id: int, period: Period, server: int | None = None) -> PlayerSummary:
    """Everything the ``/stats`` card shows about one player over one period: the rounds
    of one game server (``server`` id) or of all (None). The rank is among the players of
    that server; names, aliases and first/last seen are the player's, whatever the server.

    Raises:
        UnknownPlayer / UnknownServer: no such player / server with rounds.
        NoData: the player has no rounds in the period (on that server).
    """
    player = player_row(player_id)
    server_name = get_server(server).name if server is not None else None
    values = player_values(_SUMMARY_STATS, period, player_ids=[player_id], server=server).get(
        player_id
    )
    if not values or not values["rounds"]:
        if server_name is not None:
            raise NoData(
                "{player} has no rounds on {server} in this period ({period}).",
                player=player.name,
                server=server_name,
                period=period.label.lower(),
            )
        raise NoData(
            "{player} has no rounds in this period ({period}).",
            player=player.name,
            period=period.label.lower(),
        )
    weapon, weapon_kills = favourite_weapon(player_id, period, server)
    best, best_dpm = best_map(player_id, period, server)
    dpm_ranking = ranked(STATS["dpm"], period, COMMUNITY_MIN_ROUNDS, server)
    rank = next((r.rank for r in dpm_ranking if r.player_id == player_id), None)
    aliases = [
        a.name
        for a in Alias.select(Alias.name)
        .where(Alias.player == player_id)
        .order_by(Alias.rounds.desc(), Alias.name)
        .limit(ALIASES_SHOWN)
    ]
    won, lost = map_results(player_id, period, server)
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
        best_map=best,
        best_map_dpm=best_dpm,
        rank=rank,
        community_size=len(dpm_ranking),
        aliases=aliases,
        first_seen=player.first_seen,
        last_seen=player.last_seen,
        maps_won=won,
        maps_lost=lost,
        server=server_name,
    )

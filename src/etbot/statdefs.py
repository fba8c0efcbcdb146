"""The statistics users can rank, trend and compare, and THE SQL that computes them.

Rules shared by every query:

* Aggregates leave out orphan round 2s (``PlayerRound.orphan``) and spectator rows
  (team 3): :func:`counted`. Round 2 rows already hold round-2-only values.
* Per-player values of a set of rows come from ONE expression builder (:func:`stat_sql`
  over the sums of :func:`sums`), used for PlayerRound rows and for the pre-aggregated
  :class:`~etbot.models.PlayerDay` rows alike, so a leaderboard, a summary, a trend point
  and a comparison always agree. :mod:`etbot.aggregates` builds PlayerDay with the same
  row expressions (:func:`objectives_expr`, :func:`revives_expr`).
* Every query counts all game servers unless it is given one (``server``, a
  :class:`~etbot.models.Server` id): :func:`on_server`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from peewee import SQL, Case, ColumnBase, Model, fn

from etbot.errors import BadOption, Typed
from etbot.models import PlayerDay, PlayerMapDay, PlayerRound, PlayerWeaponDay, Round, WeaponRound
from etbot.periods import Period

#: Players need this many rounds in a period to be ranked or to count as "community".
COMMUNITY_MIN_ROUNDS = 10


@dataclass(frozen=True)
class StatDef:
    """A statistic users can rank, trend and show (how to show it is the UI's business)."""

    key: str
    label: str
    higher_is_better: bool


STATS: dict[str, StatDef] = {
    s.key: s
    for s in (
        StatDef("kd", "K/D", True),
        StatDef("dpm", "DPM", True),
        StatDef("kills", "Kills", True),
        StatDef("deaths", "Deaths", False),
        StatDef("damage", "Damage given", True),
        StatDef("accuracy", "Accuracy", True),
        StatDef("headshot_pct", "Headshot %", True),
        StatDef("revives", "Revives", True),
        StatDef("objectives", "Objectives", True),
        StatDef("assists", "Kill assists", True),
        StatDef("gibs", "Gibs", True),
        StatDef("xp", "XP", True),
        StatDef("time_played", "Time played", True),
        StatDef("rounds", "Rounds", True),
    )
}

#: Counters every source provides as SQL sums (``rounds`` is the row count).
COUNTERS = (
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
MAP_COUNTERS = ("rounds", "damage_given", "time_played_s")


# --------------------------------------------------------------------------- row expressions


def counted() -> ColumnBase:
    """WHERE clause of PlayerRound rows that aggregates count (no orphans, no spectators)."""
    return (PlayerRound.orphan == False) & (PlayerRound.team != 3)  # noqa: E712


def objectives_expr() -> ColumnBase:
    """Objectives of one PlayerRound row (the project-wide definition)."""
    return (
        PlayerRound.dynamites_planted
        + PlayerRound.dynamites_defused
        + PlayerRound.objectives_stolen
        + PlayerRound.objectives_returned
        + fn.COALESCE(PlayerRound.repairs, 0)
    )


def revives_expr() -> ColumnBase:
    """Revives given by one PlayerRound row (unknown in old layouts → 0)."""
    return fn.COALESCE(PlayerRound.revives_given, 0)


def round_period(period: Period) -> ColumnBase:
    """WHERE clause: counted PlayerRound rows that ended in ``period``."""
    cond: ColumnBase = counted()
    if period.start is not None:
        cond &= PlayerRound.ended_at >= period.start
    if period.end is not None:
        cond &= PlayerRound.ended_at < period.end
    return cond


def day_period(
    model: type[PlayerDay] | type[PlayerWeaponDay] | type[PlayerMapDay], period: Period
) -> ColumnBase:
    """WHERE clause: per-day aggregate rows of the days of a day-aligned ``period``."""
    cond: ColumnBase = SQL("1 = 1")
    if period.start is not None:
        cond &= model.day >= period.start.date()
    if period.end is not None:
        cond &= model.day < period.end.date()
    return cond


def on_server(model: type[Model], server: int | None) -> ColumnBase:
    """WHERE clause: rows of one game server (``server`` id), or of all (None).

    The per-day aggregates carry their server; per-round rows (PlayerRound, WeaponRound)
    belong to a round of that server.
    """
    if server is None:
        return SQL("1 = 1")
    if model in (PlayerDay, PlayerWeaponDay, PlayerMapDay):
        return model.server == server  # type: ignore[attr-defined]
    if model is Round:
        return Round.server == server
    if model in (PlayerRound, WeaponRound):
        rounds = Round.select(Round.id).where(Round.server == server)
        return model.round.in_(rounds)  # type: ignore[attr-defined]
    raise TypeError(f"no server filter for {model!r}")  # pragma: no cover - programming error


# --------------------------------------------------------------------------- statistics


def sums(model: type[Model]) -> dict[str, ColumnBase]:
    """SQL sums of every counter over the grouped rows of PlayerRound or PlayerDay."""
    out: dict[str, ColumnBase] = {name: fn.SUM(getattr(model, name)) for name in COUNTERS}
    if model is PlayerRound:
        out["objectives"] = fn.SUM(objectives_expr())
        out["revives"] = fn.SUM(revives_expr())
        out["rounds"] = fn.COUNT(PlayerRound.id)
    elif model is PlayerDay:
        out["objectives"] = fn.SUM(PlayerDay.objectives)
        out["revives"] = fn.SUM(PlayerDay.revives)
        out["rounds"] = fn.SUM(PlayerDay.rounds)
    else:  # pragma: no cover - programming error
        raise TypeError(f"no stat sums for {model!r}")
    return out


def _real(expr: ColumnBase) -> ColumnBase:
    return expr.cast("DOUBLE PRECISION")


def _ratio(num: ColumnBase, den: ColumnBase, scale: float = 1.0) -> ColumnBase:
    """num * scale / den as a float, NULL (shown as 0) when den is 0."""
    return _real(num) * scale / fn.NULLIF(den, 0)


def _unknown_stat(key: str) -> BadOption:
    return BadOption(
        f"Unknown statistic {{stat}}; choose one of: {', '.join(STATS)}.", stat=Typed(key)
    )


def stat_sql(key: str, sums: dict[str, ColumnBase]) -> ColumnBase:
    """THE definition of every statistic, as SQL over the sums of a group of rows.

    Besides the keys of :data:`STATS` it knows the per-10-minute rates used by
    :func:`etbot.compare.compare` (``objectives_10m``, ``revives_10m``, ``assists_10m``).
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
    raise _unknown_stat(key)


def stat_def(key: str) -> StatDef:
    """The definition of a stat option value, or :class:`~etbot.errors.BadOption`."""
    try:
        return STATS[key]
    except KeyError:
        raise _unknown_stat(key) from None


def as_float(value: Any) -> float:
    """A stat value read from SQL (NULL when nothing was divided) as a float."""
    return 0.0 if value is None else float(value)


def player_values(
    keys: Sequence[str],
    period: Period,
    *,
    player_ids: Sequence[int] | None = None,
    min_rounds: int = 0,
    server: int | None = None,
) -> dict[int, dict[str, float]]:
    """Values of the given stats per player over the period (plus ``"rounds"``), on one
    game server (``server`` id) or all of them (None).

    Served from PlayerDay when the period is day-aligned, else from PlayerRound; both go
    through :func:`stat_sql`, so they agree.
    """
    model: type[PlayerDay] | type[PlayerRound]
    if period.day_aligned:
        model, where = PlayerDay, day_period(PlayerDay, period)
    else:
        model, where = PlayerRound, round_period(period)
    totals = sums(model)
    player_col = model.player
    if server is not None:
        where &= on_server(model, server)
    if player_ids is not None:
        where &= player_col.in_(list(player_ids))
    columns = [player_col, totals["rounds"]] + [stat_sql(k, totals) for k in keys]
    query = model.select(*columns).where(where).group_by(player_col)
    if min_rounds > 0:
        query = query.having(totals["rounds"] >= min_rounds)
    out: dict[int, dict[str, float]] = {}
    for player_id, rounds, *stat_values in query.tuples():
        values = {k: as_float(v) for k, v in zip(keys, stat_values, strict=True)}
        values["rounds"] = as_float(rounds)
        out[player_id] = values
    return out

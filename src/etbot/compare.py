"""Comparisons: players side by side, as percentiles of the community and raw numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from etbot.cache import cached_query
from etbot.errors import BadOption, NoData
from etbot.periods import Period
from etbot.players import PlayerRef, get_player
from etbot.statdefs import COMMUNITY_MIN_ROUNDS, player_values

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


@cached_query
def compare(player_ids: Sequence[int], period: Period) -> CompareData:
    """Players side by side: per-axis percentiles against the community, and raw values.

    Objectives, revives and assists are per 10 minutes played, so players are compared
    on what they do while playing rather than how much they play. Pass the ids as a
    tuple when the answer is to be cached (cache keys must be hashable).
    """
    ids = list(dict.fromkeys(player_ids))
    if not 1 <= len(ids) <= MAX_COMPARE:
        raise BadOption(f"Compare 1 to {MAX_COMPARE} different players.")
    refs = [get_player(pid) for pid in ids]
    community = player_values(_COMPARE_KEYS, period, min_rounds=COMMUNITY_MIN_ROUNDS)
    if not community:
        raise NoData(
            f"No player has {COMMUNITY_MIN_ROUNDS} rounds in this period ({{period}}); "
            "pick a longer one.",
            period=period.label.lower(),
        )
    mine = player_values(_COMPARE_KEYS, period, player_ids=ids)
    populations = {k: sorted(v[k] for v in community.values()) for k in _COMPARE_KEYS}
    players = []
    for ref in refs:
        values = mine.get(ref.id)
        if not values or not values["rounds"]:
            raise NoData(
                "{player} has no rounds in this period ({period}).",
                player=ref.name,
                period=period.label.lower(),
            )
        raw = [values[k] for k in _COMPARE_KEYS]
        pcts = [percentile(values[k], populations[k]) for k in _COMPARE_KEYS]
        players.append(ComparedPlayer(ref, int(values["rounds"]), pcts, raw))
    return CompareData(
        list(COMPARE_AXES), list(COMPARE_UNITS), players, len(community), period.label
    )

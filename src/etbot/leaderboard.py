"""Leaderboards: players ranked by one statistic over a period."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from etbot.cache import cached_query
from etbot.errors import BadOption
from etbot.models import Player
from etbot.periods import Period
from etbot.statdefs import COMMUNITY_MIN_ROUNDS, StatDef, player_values, stat_def


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


class Ranked(NamedTuple):
    """One qualifying player's place in a ranking."""

    rank: int
    player_id: int
    value: float
    rounds: int


def ranked(
    stat: StatDef, period: Period, min_rounds: int, server: int | None = None
) -> list[Ranked]:
    """Every qualifying player, best first (rounds of one game server, or all: None).

    Equal values share a rank (1, 2, 2, 4); among them more rounds, then the lower
    player id, come first, so the order never depends on the database.
    """
    values = player_values([stat.key], period, min_rounds=max(min_rounds, 1), server=server)
    sign = -1.0 if stat.higher_is_better else 1.0

    def best_first(item: tuple[int, dict[str, float]]) -> tuple[float, float, int]:
        player_id, vals = item
        return sign * vals[stat.key], -vals["rounds"], player_id

    order = sorted(values.items(), key=best_first)
    out: list[Ranked] = []
    previous: float | None = None
    rank = 0
    for position, (player_id, vals) in enumerate(order, start=1):
        value = vals[stat.key]
        if value != previous:
            rank, previous = position, value
        out.append(Ranked(rank, player_id, value, int(vals["rounds"])))
    return out


@cached_query
def leaderboard(
    stat: str,
    period: Period,
    min_rounds: int = COMMUNITY_MIN_ROUNDS,
    limit: int = 10,
    offset: int = 0,
    server: int | None = None,
) -> LeaderboardPage:
    """One page of the ranking of players by ``stat`` over ``period``, counting the rounds
    of one game server (``server`` id) or of all (None)."""
    definition = stat_def(stat)
    if not 1 <= limit <= 100 or offset < 0 or min_rounds < 0:
        raise BadOption("Page size must be 1–100 and the page must not be negative.")
    everyone = ranked(definition, period, min_rounds, server)
    page = everyone[offset : offset + limit]
    names = dict(
        Player.select(Player.id, Player.name)
        .where(Player.id.in_([r.player_id for r in page] or [0]))
        .tuples()
    )
    rows = [
        LeaderRow(r.rank, r.player_id, names.get(r.player_id, "?"), r.value, r.rounds) for r in page
    ]
    return LeaderboardPage(rows, len(everyone))

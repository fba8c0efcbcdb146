"""Who plays well with whom and against whom (``/matchup``, ``/duos``, ``/rivals``).

Built on the rating history (:mod:`etbot.rating`): one row per player per rated map
with the side they played for (first attack / first defence, substitutes on the side
they joined) and their side's score (1 win, 0 loss, 0.5 draw). Two players were
*together* on a map when they played for the same side, *opposed* when not. Win rates
are wins / decided maps; draws are counted separately.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from peewee import Case, fn

from etbot.cache import cached_query
from etbot.db import as_datetime
from etbot.errors import BadOption
from etbot.models import Player, RatingHistory
from etbot.rating import no_rating

log = logging.getLogger(__name__)

#: Default minimum maps together for a partner to be listed by :func:`duos`.
DUO_MIN_MAPS = 5


@dataclass(frozen=True)
class Record:
    """Maps and their outcome, from one player's point of view."""

    maps: int = 0
    wins: int = 0
    losses: int = 0
    draws: int = 0

    @property
    def win_rate(self) -> float | None:
        """Wins per decided map (None without a decided map)."""
        decided = self.wins + self.losses
        return self.wins / decided if decided else None

    def add(self, score: float, maps: int = 1) -> Record:
        return Record(
            self.maps + maps,
            self.wins + (maps if score == 1.0 else 0),
            self.losses + (maps if score == 0.0 else 0),
            self.draws + (maps if score not in (0.0, 1.0) else 0),
        )


@dataclass(frozen=True)
class Matchup:
    """Two players' history, from player A's point of view."""

    player_a: int
    player_b: int
    #: Maps on the same side (A's record = B's record there).
    together: Record
    #: Maps on opposite sides: A's wins are B's losses.
    opposed: Record
    #: Maps A played without B, and B without A.
    a_without_b: Record
    b_without_a: Record


def _maps_of(player_id: int) -> dict[tuple[datetime, int], tuple[int, float]]:
    """{map key: (side, score)} of one player's rated maps."""
    rows = RatingHistory.select(
        RatingHistory.ended_at, RatingHistory.tiebreak, RatingHistory.side, RatingHistory.score
    ).where(RatingHistory.player == player_id)
    return {(as_datetime(e), tb): (side, score) for e, tb, side, score in rows.tuples()}


def _require_rated(player_id: int) -> None:
    """NoRating unless the player has a rated map."""
    if not RatingHistory.select().where(RatingHistory.player == player_id).exists():
        raise no_rating(player_id)


@cached_query
def matchup(player_a: int, player_b: int) -> Matchup:
    """Maps together and apart, and the record when on opposite sides.

    Raises:
        etbot.errors.BadOption: the same player twice.
        etbot.rating.NoRating: a player has no rated map.
    """
    if player_a == player_b:
        raise BadOption("Pick two different players.")
    maps_a = _maps_of(player_a)
    maps_b = _maps_of(player_b)
    for player, maps in ((player_a, maps_a), (player_b, maps_b)):
        if not maps:
            raise no_rating(player)
    together, opposed, a_only, b_only = Record(), Record(), Record(), Record()
    for key, (side, score) in maps_a.items():
        other = maps_b.get(key)
        if other is None:
            a_only = a_only.add(score)
        elif other[0] == side:
            together = together.add(score)
        else:
            opposed = opposed.add(score)
    for key, (_side, score) in maps_b.items():
        if key not in maps_a:
            b_only = b_only.add(score)
    return Matchup(player_a, player_b, together, opposed, a_only, b_only)


@dataclass(frozen=True)
class PartnerRecord:
    """Another player and the record with (duos) or against (rivals) them."""

    player_id: int
    guid: str
    name: str
    record: Record


def _pair_records(player_id: int) -> dict[tuple[int, bool], Record]:
    """{(other player, same side?): record of ``player_id``} over all shared maps."""
    me = RatingHistory.alias("me")
    other = RatingHistory.alias("other")
    same = Case(None, [(other.side == me.side, 1)], 0)
    query = (
        me.select(other.player, same, me.score, fn.COUNT(me.id))
        .join(
            other,
            on=(
                (other.ended_at == me.ended_at)
                & (other.tiebreak == me.tiebreak)
                & (other.player != me.player)
            ),
        )
        .where(me.player == player_id)
        .group_by(other.player, same, me.score)
        .tuples()
    )
    records: dict[tuple[int, bool], Record] = defaultdict(Record)
    for other_id, same_side, score, count in query:
        key = (int(other_id), bool(same_side))
        records[key] = records[key].add(float(score), int(count))
    return records


def _with_names(pairs: list[tuple[int, Record]]) -> list[PartnerRecord]:
    ids = [pid for pid, _ in pairs]
    info = {
        pid: (guid, name)
        for pid, guid, name in Player.select(Player.id, Player.guid, Player.name)
        .where(Player.id.in_(ids))
        .tuples()
    }
    return [PartnerRecord(pid, *info[pid], rec) for pid, rec in pairs if pid in info]


@cached_query
def duos(player_id: int, *, min_maps: int = DUO_MIN_MAPS, limit: int = 10) -> list[PartnerRecord]:
    """Best partners: win rate on the same side, at least ``min_maps`` maps together
    (ties: more maps first). Partners with only draws together are left out.

    Raises:
        etbot.rating.NoRating: the player has no rated map.
    """
    _require_rated(player_id)
    pairs = [
        (other, rec)
        for (other, same), rec in _pair_records(player_id).items()
        if same and rec.maps >= min_maps and rec.win_rate is not None
    ]
    pairs.sort(key=lambda p: (-(p[1].win_rate or 0.0), -p[1].maps, p[0]))
    return _with_names(pairs[: max(0, limit)])


@cached_query
def rivals(player_id: int, *, limit: int = 10) -> list[PartnerRecord]:
    """Opponents faced most (maps on opposite sides) with the player's record against them.

    Raises:
        etbot.rating.NoRating: the player has no rated map.
    """
    _require_rated(player_id)
    pairs = [(other, rec) for (other, same), rec in _pair_records(player_id).items() if not same]
    pairs.sort(key=lambda p: (-p[1].maps, -p[1].wins, p[0]))
    return _with_names(pairs[: max(0, limit)])

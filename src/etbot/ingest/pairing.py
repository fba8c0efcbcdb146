"""Which round 1 a round 2 belongs to, and the stopwatch result of a pair.

The rule (../shared/FORMAT.md): a round 2 belongs to the latest earlier round 1 of the
same map and server that ended at most 45 minutes before it and is not already paired;
this crosses midnight. Pairing is a deterministic function of the *set* of rounds
(:func:`pair_rounds`), so the import order never matters: when a round arrives, the
importer loads its "cluster" — the rounds of that map and server chained to it by gaps
of at most 45 minutes (:func:`cluster_around`) — pairs the cluster again and re-derives
every round 2 whose partner changed (:func:`plan_repair`).

Everything here is pure; the importer runs the queries and writes the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

#: Longest time between the end of a round 1 and the end of its round 2.
PAIR_WINDOW = timedelta(minutes=45)


class Pairable(Protocol):
    """What pairing needs to know of a round."""

    @property
    def id(self) -> Hashable: ...
    @property
    def ended_at(self) -> datetime: ...
    @property
    def file_name(self) -> str: ...
    @property
    def round_no(self) -> int: ...


class RoundRef(NamedTuple):
    """A round as :func:`pair_rounds` sees it (any key type)."""

    id: Hashable
    ended_at: datetime
    file_name: str
    round_no: int


class ClusterRound(NamedTuple):
    """A stored round of a cluster: what pairing and the map result need.

    The importer selects exactly these columns of ``round`` (names from the model).
    """

    id: int
    ended_at: datetime
    file_name: str
    round_no: int
    #: The round 1 it is paired with now (round 2s), else None.
    round1_id: int | None
    winner: int
    defender: int
    round_time_s: int | None


class Repair(NamedTuple):
    """A round 2 to (re)write, with the round 1 it pairs with now (None: orphan)."""

    round2: ClusterRound
    round1: ClusterRound | None


def pair_rounds(rounds: Iterable[Pairable]) -> dict[Any, Any]:
    """Deterministic pairing of a set of rounds of one map and server.

    Returns {round 2 id: round 1 id} for every paired round 2. Each round 2, in time
    order (ties by file name), takes the latest earlier unpaired round 1 that ended at
    most :data:`PAIR_WINDOW` before it. The result does not depend on the input order.
    """
    ordered = sorted(rounds, key=lambda r: (r.ended_at, r.file_name))
    available: list[Pairable] = []
    pairs: dict[Any, Any] = {}
    for item in ordered:
        if item.round_no == 1:
            available.append(item)
            continue
        best: Pairable | None = None
        for cand in available:
            in_window = cand.ended_at < item.ended_at <= cand.ended_at + PAIR_WINDOW
            if in_window and (
                best is None or (cand.ended_at, cand.file_name) > (best.ended_at, best.file_name)
            ):
                best = cand
        if best is not None:
            available.remove(best)
            pairs[item.id] = best.id
    return pairs


def cluster_around(
    around: datetime, fetch: Callable[[datetime, datetime], list[ClusterRound]]
) -> list[ClusterRound]:
    """The rounds chained to ``around`` by gaps of at most :data:`PAIR_WINDOW`.

    ``fetch(lo, hi)`` returns the rounds of one map and server that ended in [lo, hi],
    in time order. The window grows until it stops finding rounds beyond its edges, so
    the cluster holds every round whose pairing could depend on a round at ``around``.
    """
    lo = hi = around
    while True:
        rounds = fetch(lo - PAIR_WINDOW, hi + PAIR_WINDOW)
        new_lo = min((r.ended_at for r in rounds), default=lo)
        new_hi = max((r.ended_at for r in rounds), default=hi)
        if new_lo >= lo and new_hi <= hi:
            return rounds
        lo, hi = min(lo, new_lo), max(hi, new_hi)


def plan_repair(cluster: list[ClusterRound], new_ids: Collection[int]) -> list[Repair]:
    """The round 2s of ``cluster`` to (re)write, in cluster order.

    A round 2 is rewritten when its round 1 changed (paired, re-paired or orphaned) or
    when it is new (``new_ids``: just inserted, rows not written yet).
    """
    pairs = pair_rounds(cluster)
    by_id = {r.id: r for r in cluster}
    plan: list[Repair] = []
    for r in cluster:
        if r.round_no != 2:
            continue
        round1_id = pairs.get(r.id)
        if round1_id != r.round1_id or r.id in new_ids:
            plan.append(Repair(r, None if round1_id is None else by_id[round1_id]))
    return plan


def map_outcome_from(
    r1_winner: int, r1_defender: int, r2_winner: int, r2_defender: int
) -> tuple[str, int | None]:
    """Stopwatch result of a map: (outcome, winning team in round 2 colours).

    Round 2 attackers beat the time → they win ("beat_time"); round 2 defence held a
    time set in round 1 → round 1 attackers, now defending, win ("held"); both defences
    held the full time → "draw" (no winner).
    """
    if r2_winner != r2_defender:
        return "beat_time", r2_winner
    if r1_winner != r1_defender:
        return "held", r2_winner
    return "draw", None

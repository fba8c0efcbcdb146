"""Derived data that follows every import batch, inside the batch's transaction.

After the rows of a batch are written (and the per-day aggregates refreshed), the
importer calls each *batch hook* with a :class:`Batch` describing what changed. A hook
keeps a feature's derived data in step with the rounds (ratings replay the new map
results, milestones look for crossed thresholds, the outbox queues what a live import
should announce…). Running inside the transaction makes that derived data exactly as
durable as the rounds themselves: a crash or a rolled-back batch leaves neither.

Each hook runs in its own savepoint: a failing hook is logged and rolled back alone, so a
bug in one feature never costs the import its files (the features' data can catch up
later: ratings replay from any unrated map). A "database is locked" error is not a
hook's fault and goes up, so the whole batch is retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from etbot.db import among, is_locked_error
from etbot.models import MapResult, Round, database_proxy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Batch:
    """What one import batch changed (a hook's input)."""

    #: Rounds inserted by the batch.
    new_round_ids: tuple[int, ...]
    #: Stored round 2s re-derived because a new file changed their pairing.
    repaired_round_ids: tuple[int, ...]
    #: Players of the new rounds.
    player_ids: frozenset[int]
    #: The files arrived while the bot runs (a source), so what they bring is announced;
    #: False for bulk imports (the CLI, the bot's start-up import).
    live: bool = False

    @property
    def changed_round_ids(self) -> list[int]:
        """New and re-derived rounds, sorted."""
        return sorted({*self.new_round_ids, *self.repaired_round_ids})

    def new_rounds(self, round_no: int | None = None) -> list[int]:
        """Ids of the new rounds (optionally only round 1s or round 2s), in time order."""
        if not self.new_round_ids:
            return []
        where = among(Round.id, self.new_round_ids)
        if round_no is not None:
            where &= Round.round_no == round_no
        query = Round.select(Round.id).where(where).order_by(Round.ended_at, Round.id)
        return [rid for (rid,) in query.tuples()]

    def map_result_ids(self) -> list[int]:
        """Map results whose round 2 is new or re-derived in this batch, in time order.

        A map result is (re)written whenever its round 2 is, so these are exactly the maps
        this batch decided or re-decided.
        """
        changed = self.changed_round_ids
        if not changed:
            return []
        query = (
            MapResult.select(MapResult.id)
            .where(among(MapResult.round2, changed))
            .order_by(MapResult.ended_at, MapResult.id)
        )
        return [mid for (mid,) in query.tuples()]


BatchHook = Callable[[Batch], object]


def run_hooks(hooks: Sequence[BatchHook], batch: Batch) -> None:
    """Run each hook in its own savepoint; failures are logged, lock errors re-raised."""
    for hook in hooks:
        try:
            with database_proxy.savepoint():
                hook(batch)
        except Exception as exc:
            if is_locked_error(exc):
                raise
            name = getattr(hook, "__qualname__", repr(hook))
            log.exception("derived data hook %s failed; the import itself is kept", name)


def default_hooks() -> list[BatchHook]:
    """The derived data every import keeps up to date, in the order it is refreshed."""
    from etbot import achievements, betting, matchnight, rating

    def rate_new_maps(batch: Batch) -> object:
        return rating.apply_map_results(batch.map_result_ids())

    return [
        rate_new_maps,
        betting.follow_import,
        matchnight.queue_summaries,  # live: round_summary / map_summary posts
        achievements.record_milestones,  # milestone posts (silent unless live)
    ]

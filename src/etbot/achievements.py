"""Milestones: 1,000 kills, 100 revives, 500 rounds… reached once, announced once.

**Checked by threshold crossing after every import.** :func:`record_milestones` is a batch
hook (:mod:`etbot.ingest.hooks`) that runs after the per-day aggregates are refreshed,
inside the import's transaction. For the players of the batch's rounds it reads their
totals from :class:`~etbot.models.PlayerDay` (``after``) and what the batch added from
the batch's own rows (``before = after - batch``), then looks at every threshold not yet
stored for the player:

* ``before < threshold <= after``: reached by this import. Stored, and on a **live**
  import (a file that arrived through a source while the bot runs) a ``milestone`` post
  is queued (:func:`etbot.announce.enqueue`, key ``<player id>:<stat>:<threshold>``).
  One import that jumps past several thresholds queues one post for each.
* ``threshold <= before``: reached earlier but never stored (history imported before this
  feature existed): stored silently, so adding the bot to an existing history never
  floods the channel.
* Bulk imports (the CLI, the bot's start-up import) store everything silently.

The unique (player, stat, threshold) row and the unique outbox key make each milestone
exist once, whatever the restarts, re-imports and duplicate files; a stored milestone is
never taken back (even if a re-paired round lowers a total again).

Totals are per counted round like every other statistic (no orphans, no spectators).
"Days played" counts calendar days with a counted round (server time): it comes from the
per-day aggregates, which keeps the check cheap on bulk imports of years of history.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from peewee import fn

from etbot import announce
from etbot.aggregates import day_of
from etbot.cache import cached_query
from etbot.db import among, as_date, row_chunks
from etbot.models import Player, PlayerDay, PlayerMilestone, PlayerRound, database_proxy
from etbot.statdefs import counted, objectives_expr, revives_expr

if TYPE_CHECKING:
    from etbot.ingest.hooks import Batch

log = logging.getLogger(__name__)

MILESTONE = "milestone"
#: Milestone rows per INSERT.
_ROWS_PER_INSERT = 60


@dataclass(frozen=True)
class MilestoneDef:
    """One statistic with milestones: its key, how it reads ("1,000 kills") and the
    thresholds, ascending."""

    stat: str
    label: str
    thresholds: tuple[int, ...]


MILESTONES: tuple[MilestoneDef, ...] = (
    MilestoneDef("kills", "kills", (1_000, 5_000, 10_000, 25_000)),
    MilestoneDef("revives", "revives", (100, 500, 1_000)),
    MilestoneDef("rounds", "rounds played", (100, 500, 1_000)),
    MilestoneDef("headshot_kills", "headshot kills", (100, 500, 1_000, 2_500)),
    MilestoneDef("objectives", "objectives", (50, 100, 250, 500)),
    MilestoneDef("days", "days played", (10, 50, 100, 250)),
    MilestoneDef("damage", "damage given", (100_000, 500_000, 1_000_000)),
)
BY_STAT: dict[str, MilestoneDef] = {d.stat: d for d in MILESTONES}
STATS: tuple[str, ...] = tuple(d.stat for d in MILESTONES)

#: PlayerDay column (per day) of each statistic; "days" counts the distinct days (a day
#: has one row per game server played on).
_DAY_COLUMNS = {
    "kills": PlayerDay.kills,
    "revives": PlayerDay.revives,
    "rounds": PlayerDay.rounds,
    "headshot_kills": PlayerDay.headshot_kills,
    "objectives": PlayerDay.objectives,
    "damage": PlayerDay.damage_given,
}

Totals = dict[str, int]


def totals(player_ids: Collection[int]) -> dict[int, Totals]:
    """Every milestone statistic of these players, from the per-day aggregates."""
    out: dict[int, Totals] = {}
    columns = [fn.SUM(_DAY_COLUMNS[s]) for s in STATS if s != "days"]
    query = (
        PlayerDay.select(PlayerDay.player, fn.COUNT(PlayerDay.day.distinct()), *columns)
        .where(among(PlayerDay.player, sorted(set(player_ids))))
        .group_by(PlayerDay.player)
    )
    for player_id, days, *sums in database_proxy.execute(query):
        values = dict(zip([s for s in STATS if s != "days"], sums, strict=True))
        values["days"] = days
        out[player_id] = {s: int(values[s] or 0) for s in STATS}
    return out


def batch_contribution(round_ids: Collection[int]) -> dict[int, Totals]:
    """What the counted rows of these rounds add to each of their players' totals
    ("days": days that have no other counted round of the player)."""
    out: dict[int, Totals] = defaultdict(lambda: dict.fromkeys(STATS, 0))
    day_rounds: dict[tuple[int, date], int] = {}
    day = day_of(PlayerRound.ended_at)
    query = (
        PlayerRound.select(
            PlayerRound.player,
            day,
            fn.COUNT(PlayerRound.id),
            fn.SUM(PlayerRound.kills),
            fn.SUM(revives_expr()),
            fn.SUM(PlayerRound.headshot_kills),
            fn.SUM(objectives_expr()),
            fn.SUM(PlayerRound.damage_given),
        )
        .where(among(PlayerRound.round, sorted(set(round_ids))) & counted())
        .group_by(PlayerRound.player, day)
    )
    for player_id, on, rounds, kills, revives, heads, objectives, damage in database_proxy.execute(
        query
    ):
        t = out[player_id]
        t["rounds"] += int(rounds)
        t["kills"] += int(kills or 0)
        t["revives"] += int(revives or 0)
        t["headshot_kills"] += int(heads or 0)
        t["objectives"] += int(objectives or 0)
        t["damage"] += int(damage or 0)
        key = (player_id, as_date(on))
        day_rounds[key] = day_rounds.get(key, 0) + int(rounds)
    if day_rounds:
        # A day is new when all of the player's counted rounds that day are in the batch.
        players = sorted({p for p, _ in day_rounds})
        days = sorted({d for _, d in day_rounds})
        stored = (
            PlayerDay.select(PlayerDay.player, PlayerDay.day, fn.SUM(PlayerDay.rounds))
            .where(among(PlayerDay.player, players) & PlayerDay.day.between(days[0], days[-1]))
            .group_by(PlayerDay.player, PlayerDay.day)
        )
        for player_id, on, rounds in database_proxy.execute(stored):
            if day_rounds.get((player_id, as_date(on))) == int(rounds):
                out[player_id]["days"] += 1
    return dict(out)


def _stored(player_ids: Collection[int]) -> set[tuple[int, str, int]]:
    out: set[tuple[int, str, int]] = set()
    query = PlayerMilestone.select(
        PlayerMilestone.player, PlayerMilestone.stat, PlayerMilestone.threshold
    ).where(among(PlayerMilestone.player, sorted(set(player_ids))))
    out.update(
        (pid, stat, int(threshold)) for pid, stat, threshold in database_proxy.execute(query)
    )
    return out


def reached_days(player_id: int, wanted: Iterable[tuple[str, int]]) -> dict[tuple[str, int], date]:
    """The day each (stat, threshold) was reached by the player's running total (server
    time), for the thresholds the total has reached."""
    wanted = list(wanted)
    if not wanted:
        return {}
    query = (
        PlayerDay.select(PlayerDay.day, *[fn.SUM(_DAY_COLUMNS[s]) for s in STATS if s != "days"])
        .where(PlayerDay.player == player_id)
        .group_by(PlayerDay.day)
        .order_by(PlayerDay.day)
    )
    rows = database_proxy.execute(query).fetchall()  # a plain cursor: no row conversion
    names = [s for s in STATS if s != "days"]
    running = dict.fromkeys(STATS, 0)
    out: dict[tuple[str, int], date] = {}
    pending = sorted(wanted, key=lambda w: (w[0], w[1]))
    for on, *values in rows:
        running["days"] += 1
        for stat, value in zip(names, values, strict=True):
            running[stat] += int(value or 0)
        still = []
        for stat, threshold in pending:
            if running[stat] >= threshold:
                out[(stat, threshold)] = as_date(on)
            else:
                still.append((stat, threshold))
        pending = still
        if not pending:
            break
    return out


@dataclass(frozen=True)
class Reached:
    """A milestone a check found (output of :func:`record_milestones`)."""

    player_id: int
    stat: str
    threshold: int
    #: Reached by this import (False: found in older history).
    crossed_now: bool
    #: A post was queued for it (live import, crossed now).
    announced: bool


def milestone_key(player_id: int, stat: str, threshold: int) -> str:
    """The outbox key of a milestone post."""
    return f"{player_id}:{stat}:{threshold}"


def parse_milestone_key(key: str) -> tuple[int, str, int] | None:
    """``(player id, stat, threshold)`` of an outbox key, None when malformed."""
    parts = key.split(":")
    if len(parts) != 3 or parts[1] not in BY_STAT:
        return None
    try:
        return int(parts[0]), parts[1], int(parts[2])
    except ValueError:
        return None


def check_players(
    contribution: dict[int, Totals], *, live: bool, now: datetime | None = None
) -> list[Reached]:
    """Store the milestones the players of ``contribution`` have reached and not stored
    yet; queue a post for those this import reached when ``live`` (see the module
    docstring). ``contribution``: what the import added, per player."""
    if not contribution:
        return []
    player_ids = sorted(contribution)
    after = totals(player_ids)
    stored = _stored(player_ids)
    found: list[Reached] = []
    for player_id in player_ids:
        now_totals = after.get(player_id)
        if now_totals is None:
            continue
        added = contribution[player_id]
        for definition in MILESTONES:
            total = now_totals[definition.stat]
            before = total - added.get(definition.stat, 0)
            for threshold in definition.thresholds:
                if threshold > total:
                    break
                if (player_id, definition.stat, threshold) in stored:
                    continue
                crossed = before < threshold
                found.append(
                    Reached(player_id, definition.stat, threshold, crossed, live and crossed)
                )
    if not found:
        return []
    recorded_at = now or announce.utcnow()
    by_player: dict[int, list[Reached]] = defaultdict(list)
    for item in found:
        by_player[item.player_id].append(item)
    rows = []
    for player_id, items in by_player.items():
        days = reached_days(player_id, [(i.stat, i.threshold) for i in items])
        rows += [
            {
                "player": player_id,
                "stat": item.stat,
                "threshold": item.threshold,
                "reached_on": days.get((item.stat, item.threshold), recorded_at.date()),
                "recorded_at": recorded_at,
                "announced": item.announced,
            }
            for item in items
        ]
    # Stored with a few multi-row statements; a milestone another process stored first
    # is not returned (its post is that process's business).
    inserted: set[tuple[int, str, int]] = set()
    for start, stop in row_chunks(len(rows), _ROWS_PER_INSERT):
        query = (
            PlayerMilestone.insert_many(rows[start:stop])
            .on_conflict_ignore()
            .returning(PlayerMilestone.player, PlayerMilestone.stat, PlayerMilestone.threshold)
        )
        inserted.update((pid, stat, int(n)) for pid, stat, n in query.tuples().execute())
    kept = [i for i in found if (i.player_id, i.stat, i.threshold) in inserted]
    announce.enqueue_many(
        MILESTONE,
        [(milestone_key(i.player_id, i.stat, i.threshold), not i.announced) for i in kept],
        now=recorded_at,
    )
    announced = sum(i.announced for i in kept)
    log.info("milestones: %d reached (%d announced)", len(kept), announced)
    return kept


def record_milestones(batch: Batch) -> list[Reached]:
    """Batch hook: the milestones the batch's players reached (see the module docstring)."""
    changed = batch.changed_round_ids
    if not changed:
        return []
    return check_players(batch_contribution(changed), live=batch.live)


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class EarnedMilestone:
    stat: str
    label: str
    threshold: int
    reached_on: date


@dataclass(frozen=True)
class NextMilestone:
    stat: str
    label: str
    threshold: int
    current: int

    @property
    def progress(self) -> float:
        """0..1 of the way there."""
        return min(1.0, self.current / self.threshold) if self.threshold else 1.0


@dataclass(frozen=True)
class Achievements:
    """A player's milestones: earned (newest first) and the next one of every statistic
    (closest first)."""

    player_id: int
    earned: tuple[EarnedMilestone, ...]
    next: tuple[NextMilestone, ...]


@cached_query
def achievements(player_id: int) -> Achievements:
    """What ``/achievements`` shows. Milestones of history the hook has not seen yet (the
    player has not played since the feature was added) count as earned too, dated by the
    aggregates."""
    now = totals([player_id]).get(player_id, dict.fromkeys(STATS, 0))
    stored = {
        (stat, int(threshold)): as_date
        for stat, threshold, as_date in PlayerMilestone.select(
            PlayerMilestone.stat, PlayerMilestone.threshold, PlayerMilestone.reached_on
        )
        .where(PlayerMilestone.player == player_id)
        .tuples()
    }
    missing = [
        (d.stat, t)
        for d in MILESTONES
        for t in d.thresholds
        if t <= now[d.stat] and (d.stat, t) not in stored
    ]
    dates = {key: as_date(value) for key, value in stored.items()}
    dates.update(reached_days(player_id, missing))
    earned = [
        EarnedMilestone(stat, BY_STAT[stat].label, threshold, on)
        for (stat, threshold), on in dates.items()
        if stat in BY_STAT
    ]
    earned.sort(key=lambda e: (e.reached_on, STATS.index(e.stat), e.threshold), reverse=True)
    upcoming = []
    for d in MILESTONES:
        ahead = [t for t in d.thresholds if t > now[d.stat] and (d.stat, t) not in dates]
        if ahead:
            upcoming.append(NextMilestone(d.stat, d.label, ahead[0], now[d.stat]))
    upcoming.sort(key=lambda n: (-n.progress, STATS.index(n.stat)))
    return Achievements(player_id, tuple(earned), tuple(upcoming))


@dataclass(frozen=True)
class MilestonePost:
    """What a ``milestone`` post says."""

    player_id: int
    name: str
    discord_id: int | None
    stat: str
    label: str
    threshold: int
    reached_on: date
    #: The next threshold of the same statistic, if any.
    next_threshold: int | None


def milestone_post(key: str) -> MilestonePost | None:
    """The data of a ``milestone`` post; None when the key or the milestone is gone."""
    parsed = parse_milestone_key(key)
    if parsed is None:
        return None
    player_id, stat, threshold = parsed
    row = (
        PlayerMilestone.select(PlayerMilestone, Player.name, Player.discord_id)
        .join(Player, on=(PlayerMilestone.player == Player.id))
        .where(
            (PlayerMilestone.player == player_id)
            & (PlayerMilestone.stat == stat)
            & (PlayerMilestone.threshold == threshold)
        )
        .first()
    )
    if row is None:
        return None
    definition = BY_STAT[stat]
    later = [t for t in definition.thresholds if t > threshold]
    return MilestonePost(
        player_id,
        row.player.name,
        row.player.discord_id,
        stat,
        definition.label,
        threshold,
        as_date(row.reached_on),
        later[0] if later else None,
    )

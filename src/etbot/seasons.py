"""Seasons: date ranges of the server's calendar, their standings, awards and recaps.

**What a season is.** A half-open range ``[start, end)`` of naive server-local times (the
clock of the stats file names, ``SERVER_TIMEZONE``), always from one midnight to another:

* By default every calendar **quarter** is a season: key ``2025-Q4``, name ``2025 Q4``,
  ``[2025-10-01 00:00, 2026-01-01 00:00)``. A round that ended at 23:59:59 on 30 September
  is in Q3, one that ended at 00:00:00 on 1 October in Q4.
* Admins may add **custom seasons** from a first to a last day (both included); key
  ``c20250115-20250415``. Custom seasons never overlap each other (adding one that would
  is refused, naming the other), and a custom season **replaces every quarter it
  overlaps**, even partly: so seasons never overlap, and a round belongs to at most one
  season. The days of a replaced quarter that no custom season covers belong to no
  season (define neighbouring custom seasons to cover them).
* Any season can be **renamed**; names are unique (case-insensitive) among the seasons.

The timeline runs from the quarter of the oldest round to the quarter of "now" (or of the
newest round, whichever is later), plus every custom season.

**Standings are never stored**: a season's standings are :func:`etbot.leaderboard.leaderboard`
over the season's :class:`~etbot.periods.Period` (day-aligned, so answered from the
per-day aggregates), so a late file lands in its season and every past season stays
browsable.

**Awards and recaps.** :func:`close_ended_seasons` (run periodically by the bot) deals
with each season that ended at least :data:`CLOSE_DELAY` ago and was not dealt with yet:
in ONE transaction it records the close (unique per season: exactly once across restarts
and processes), stores the champion of each category (:data:`CATEGORIES`, among players
with at least :data:`AWARD_MIN_ROUNDS` rounds) and queues the ``season_recap`` post in the
outbox. Awards are a **snapshot** taken at that moment: a file that arrives later for an
already closed season changes its standings, never its awards. The first time the check
ever runs it records the moment (:data:`TRACKING_KEY`); seasons that ended more than
:data:`FRESH_RECAP` before it are history and are recorded silently (no flood of old
recaps), a season that ended within :data:`FRESH_RECAP` before it is posted, and every
season that ends later is posted, also when it ended while the bot was down. A season
without any award (nobody reached the minimum) is recorded silently.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial

from peewee import fn

from etbot import announce
from etbot.db import as_datetime, is_postgres, retry_locked
from etbot.errors import BadOption, NoData, Typed, UserError
from etbot.leaderboard import LeaderboardPage, leaderboard, ranked
from etbot.models import (
    Player,
    PlayerDay,
    Round,
    SeasonAward,
    SeasonClose,
    SeasonDef,
    database_proxy,
)
from etbot.periods import Period, local_naive
from etbot.servers import get_server
from etbot.statdefs import COMMUNITY_MIN_ROUNDS, STATS, player_values

log = logging.getLogger(__name__)

#: Kind of the outbox post made when a season ends.
RECAP_KIND = "season_recap"
#: Players need this many rounds in a season for its standings (default) and its awards.
SEASON_MIN_ROUNDS = COMMUNITY_MIN_ROUNDS
AWARD_MIN_ROUNDS = COMMUNITY_MIN_ROUNDS
#: A season is closed (awards stored, recap queued) this long after its end, so the
#: files of the rounds that ended just before it have arrived.
CLOSE_DELAY = timedelta(hours=1)
#: At the first check ever, a season that ended less than this long before is still
#: announced; older ones are history and recorded silently.
FRESH_RECAP = timedelta(days=3)
#: ``season_close`` row that records when the bot first looked for ended seasons (not
#: a season: season keys never contain ``*``).
TRACKING_KEY = "*tracking"
#: Longest season name, longest custom season (days).
NAME_MAX = 64
MAX_CUSTOM_DAYS = 731
#: Words that cannot be season names (they mean something in the season option).
RESERVED_NAMES = frozenset({"current", "all"})

_QUARTER_KEY = re.compile(r"^(\d{4})-q([1-4])$", re.IGNORECASE)
_CUSTOM_KEY = re.compile(r"^c(\d{8})-(\d{8})$")
#: What a season key may look like at all (checked on keys coming back from Discord).
SEASON_KEY = re.compile(r"^(\d{4}-Q[1-4]|c\d{8}-\d{8})$")


# --------------------------------------------------------------------------- the calendar


@dataclass(frozen=True)
class Season:
    """One season: ``[start, end)`` in naive server-local time (midnights)."""

    key: str
    name: str
    start: datetime
    end: datetime
    custom: bool = False

    @property
    def period(self) -> Period:
        """The season as a query period (day-aligned: served from the per-day sums)."""
        return Period(self.start, self.end, f"Season {self.name}")

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        """The last day that belongs to the season."""
        return (self.end - timedelta(days=1)).date()

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def has_ended(self, now: datetime) -> bool:
        return local_naive(now) >= self.end


def quarter_key(moment: datetime | date) -> str:
    """The key of the quarter holding ``moment`` (``2025-Q4``)."""
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def quarter_bounds(key: str) -> tuple[datetime, datetime]:
    """``[start, end)`` of a quarter key; ValueError for anything else."""
    match = _QUARTER_KEY.match(key)
    if match is None:
        raise ValueError(f"not a quarter key: {key!r}")
    year, q = int(match[1]), int(match[2])
    start = datetime(year, 3 * (q - 1) + 1, 1)
    end = datetime(year + 1, 1, 1) if q == 4 else datetime(year, 3 * q + 1, 1)
    return start, end


def quarter_name(key: str) -> str:
    """Default name of a quarter: ``2025 Q4``."""
    return key.upper().replace("-", " ")


def custom_key(first_day: date, last_day: date) -> str:
    """Key of a custom season (its first and last day): ``c20250115-20250415``."""
    return f"c{first_day:%Y%m%d}-{last_day:%Y%m%d}"


def _quarters(first: datetime, last: datetime) -> list[str]:
    """Keys of the quarters from the one holding ``first`` to the one holding ``last``."""
    year, q = first.year, (first.month - 1) // 3 + 1
    last_key = quarter_key(last)
    keys = []
    while True:
        key = f"{year}-Q{q}"
        keys.append(key)
        if key == last_key or year > last.year:
            return keys
        year, q = (year + 1, 1) if q == 4 else (year, q + 1)


def _data_span() -> tuple[datetime | None, datetime | None]:
    low, high = Round.select(fn.MIN(Round.ended_at), fn.MAX(Round.ended_at)).tuples().get()
    return (
        None if low is None else as_datetime(low),
        None if high is None else as_datetime(high),
    )


def _custom(row: SeasonDef) -> Season:
    return Season(row.key, row.name, as_datetime(row.start), as_datetime(row.end), True)


def timeline(now: datetime) -> list[Season]:
    """Every season, oldest first (see the module docstring): the quarters from the
    oldest round's to now's (or the newest round's), except those a custom season
    overlaps, and every custom season (also future ones)."""
    now = local_naive(now)
    defs = list(SeasonDef.select())
    names = {d.key: d.name for d in defs}
    customs = [_custom(d) for d in defs if d.custom]
    low, high = _data_span()
    first = min(low or now, now)
    last = max(high or now, now)
    seasons = list(customs)
    for key in _quarters(first, last):
        start, end = quarter_bounds(key)
        if any(c.start < end and start < c.end for c in customs):
            continue  # replaced by a custom season
        seasons.append(Season(key, names.get(key) or quarter_name(key), start, end))
    return sorted(seasons, key=lambda s: s.start)


def has_rounds(season: Season, server: int | None = None) -> bool:
    """Whether any counted round (no orphan, no spectator row) ended in the season (on
    one game server, or any: None)."""
    where = (PlayerDay.day >= season.first_day) & (PlayerDay.day < season.end.date())
    if server is not None:
        where &= PlayerDay.server == server
    return PlayerDay.select().where(where).exists()


def seasons_with_data(now: datetime) -> list[Season]:
    """The seasons with at least one counted round, newest first."""
    return [s for s in reversed(timeline(now)) if has_rounds(s)]


def current_season(now: datetime) -> Season | None:
    """The season that holds ``now`` (None in a gap left by a custom season)."""
    moment = local_naive(now)
    return next((s for s in timeline(moment) if s.contains(moment)), None)


def default_season(now: datetime, with_data: list[Season] | None = None) -> Season:
    """The current season, or the newest season with data while the current one has none
    (``with_data``: :func:`seasons_with_data`, when the caller has it already).

    Raises:
        NoData: no season has any round yet.
    """
    if with_data is None:
        with_data = seasons_with_data(now)
    if not with_data:
        raise NoData("No season has any rounds yet.")
    moment = local_naive(now)
    return next((s for s in with_data if s.contains(moment)), with_data[0])


def find_season(text: str | None, now: datetime) -> Season:
    """The season a user means: empty or ``current`` → :func:`default_season`; else a key
    or a name (case-insensitive).

    Raises:
        BadOption: no season has that key or name.
    """
    value = (text or "").strip()
    if not value or value.casefold() == "current":
        return default_season(now)
    for season in timeline(now):
        if value.casefold() in (season.key.casefold(), season.name.casefold()):
            return season
    raise BadOption(
        "There is no season called {season}. Pick one from the list (`/season` shows them).",
        season=Typed(value),
    )


def season_by_key(key: str, now: datetime) -> Season:
    """The season with this exact key (e.g. from a component id).

    Raises:
        BadOption: no such season (any more: a custom season was removed).
    """
    for season in timeline(now):
        if season.key == key:
            return season
    raise BadOption("That season does not exist any more; run `/season` again.")


def season_name(key: str, now: datetime) -> str:
    """The name of a season key as shown today, also for a quarter a custom season
    replaced later (its awards still exist)."""
    for season in timeline(now):
        if season.key == key:
            return season.name
    row = SeasonDef.get_or_none(SeasonDef.key == key)
    if row is not None:
        return str(row.name)
    return quarter_name(key) if _QUARTER_KEY.match(key) else key


# --------------------------------------------------------------------------- standings


@dataclass(frozen=True)
class AwardRow:
    """A stored award, with the names needed to show it."""

    season_key: str
    category: str
    label: str
    player_id: int
    player_name: str
    value: float
    baseline: float | None
    rounds: int


@dataclass(frozen=True)
class SeasonPage:
    """One page of a season's standings, and what the ``/season`` message shows around it."""

    season: Season
    stat: str
    min_rounds: int
    page: LeaderboardPage
    #: Players with at least one counted round in the season (qualifying or not).
    players: int
    #: The stored awards (empty until the season is closed).
    awards: list[AwardRow]
    closed: bool
    ended: bool
    #: The seasons with data, newest first (the select menu).
    choices: list[Season]
    #: The game server the standings count (None: every server).
    server: str | None = None


def season_page(
    key: str | None,
    stat: str,
    min_rounds: int,
    limit: int,
    offset: int,
    now: datetime,
    server: int | None = None,
) -> SeasonPage:
    """The standings of one season (``key``; None = the default season) by ``stat`` among
    players with at least ``min_rounds`` rounds, one page of them; with ``server`` (an
    id), the standings of that game server's rounds, and the seasons it has rounds in.

    The ranking is :func:`etbot.leaderboard.leaderboard` over the season's period. The
    awards are the community's (every server), whatever ``server`` is.

    Raises:
        BadOption: unknown stat, bad page or unknown season key.
        NoData: no season has any data (``key`` None only).
        UnknownServer: ``server`` has no rounds (any more).
    """
    server_name = get_server(server).name if server is not None else None
    choices = seasons_with_data(now)
    if server is not None:
        choices = [s for s in choices if has_rounds(s, server)]
    season = default_season(now, choices) if key is None else season_by_key(key, now)
    page = leaderboard(
        stat, season.period, min_rounds=min_rounds, limit=limit, offset=offset, server=server
    )
    players = len(player_values([], season.period, server=server))
    closed = SeasonClose.select().where(SeasonClose.season_key == season.key).exists()
    return SeasonPage(
        season=season,
        stat=stat,
        min_rounds=min_rounds,
        page=page,
        players=players,
        awards=season_awards(season.key, now) if closed else [],
        closed=closed,
        ended=season.has_ended(now),
        choices=choices,
        server=server_name,
    )


# --------------------------------------------------------------------------- awards


@dataclass(frozen=True)
class AwardCategory:
    """One award of every season: the best value of ``stat`` (``improved``: the largest
    DPM gain over the season before)."""

    key: str
    label: str
    stat: str


CATEGORIES: tuple[AwardCategory, ...] = (
    AwardCategory("dpm", "Highest DPM", "dpm"),
    AwardCategory("kd", "Best K/D", "kd"),
    AwardCategory("objectives", "Most objectives", "objectives"),
    AwardCategory("revives", "Most revives", "revives"),
    AwardCategory("rounds", "Most rounds", "rounds"),
    AwardCategory("improved", "Most improved (DPM)", "dpm"),
)
CATEGORY_LABELS = {c.key: c.label for c in CATEGORIES}


@dataclass(frozen=True)
class Award:
    """A champion as computed (not yet stored)."""

    category: str
    player_id: int
    value: float
    rounds: int
    baseline: float | None = None


def most_improved(
    season: Season, previous: Season, min_rounds: int = AWARD_MIN_ROUNDS
) -> Award | None:
    """The largest DPM gain from ``previous`` to ``season`` among the players with at least
    ``min_rounds`` counted rounds in BOTH; None when nobody qualifies or nobody improved.
    Ties: more rounds in ``season``, then the lower player id."""
    after = player_values(["dpm"], season.period, min_rounds=min_rounds)
    before = player_values(["dpm"], previous.period, min_rounds=min_rounds)
    gains = [
        (after[p]["dpm"] - before[p]["dpm"], after[p]["rounds"], -p, p)
        for p in after.keys() & before.keys()
    ]
    if not gains:
        return None
    gain, rounds, _, player_id = max(gains)
    if gain <= 0:
        return None
    return Award("improved", player_id, gain, int(rounds), before[player_id]["dpm"])


def compute_awards(
    season: Season, previous: Season | None, min_rounds: int = AWARD_MIN_ROUNDS
) -> list[Award]:
    """The champions of a season, one per category where someone qualifies.

    Each plain category is the first player of :func:`etbot.leaderboard.ranked` for its
    stat among players with at least ``min_rounds`` rounds (ties: more rounds, then the
    lower player id), and only with a value above zero. ``improved`` compares with
    ``previous``, the season just before in the timeline (:func:`most_improved`).
    """
    out: list[Award] = []
    for category in CATEGORIES:
        if category.key == "improved":
            improved = most_improved(season, previous, min_rounds) if previous else None
            if improved is not None:
                out.append(improved)
            continue
        ranking = ranked(STATS[category.stat], season.period, min_rounds)
        if ranking and ranking[0].value > 0:
            best = ranking[0]
            out.append(Award(category.key, best.player_id, best.value, best.rounds))
    return out


def season_awards(key: str, now: datetime | None = None) -> list[AwardRow]:
    """The stored awards of a season, in the order of :data:`CATEGORIES`."""
    rows = (
        SeasonAward.select(
            SeasonAward.category,
            SeasonAward.player,
            Player.name,
            SeasonAward.value,
            SeasonAward.baseline,
            SeasonAward.rounds,
        )
        .join(Player, on=(SeasonAward.player == Player.id))
        .where(SeasonAward.season_key == key)
        .tuples()
    )
    order = {c.key: i for i, c in enumerate(CATEGORIES)}
    out = [
        AwardRow(
            season_key=key,
            category=category,
            label=CATEGORY_LABELS.get(category, category),
            player_id=player_id,
            player_name=name,
            value=value,
            baseline=baseline,
            rounds=rounds,
        )
        for category, player_id, name, value, baseline, rounds in rows
    ]
    return sorted(out, key=lambda a: order.get(a.category, len(order)))


@dataclass(frozen=True)
class Trophy:
    """One award a player won, for the ``/stats`` card."""

    season_key: str
    season_name: str
    category: str
    label: str
    value: float
    baseline: float | None


def player_trophies(player_id: int, now: datetime) -> list[Trophy]:
    """Every award the player won, newest season first."""
    rows = (
        SeasonAward.select(
            SeasonAward.season_key, SeasonAward.category, SeasonAward.value, SeasonAward.baseline
        )
        .join(SeasonClose, on=(SeasonClose.season_key == SeasonAward.season_key))
        .where(SeasonAward.player == player_id)
        .order_by(SeasonClose.end.desc(), SeasonAward.id)
        .tuples()
    )
    names: dict[str, str] = {}
    out = []
    for key, category, value, baseline in rows:
        if key not in names:
            names[key] = season_name(key, now)
        out.append(
            Trophy(
                key, names[key], category, CATEGORY_LABELS.get(category, category), value, baseline
            )
        )
    return out


# --------------------------------------------------------------------------- closing seasons


@dataclass(frozen=True)
class ClosedSeason:
    """What :func:`close_ended_seasons` did for one season."""

    key: str
    announced: bool
    awards: int


def tracking_start(now: datetime) -> datetime:
    """When the bot first looked for ended seasons (recorded now if it never did)."""
    now = local_naive(now)
    SeasonClose.insert(
        season_key=TRACKING_KEY,
        start=now,
        end=now,
        closed_at=now,
        announced=False,
        rounds=0,
        players=0,
    ).on_conflict_ignore().execute()
    value = (
        SeasonClose.select(SeasonClose.closed_at)
        .where(SeasonClose.season_key == TRACKING_KEY)
        .scalar()
    )
    return as_datetime(value)


def closed_keys() -> set[str]:
    """Keys of the seasons already closed."""
    query = SeasonClose.select(SeasonClose.season_key).where(SeasonClose.season_key != TRACKING_KEY)
    return {key for (key,) in query.tuples()}


def close_ended_seasons(
    now: datetime,
    *,
    delay: timedelta = CLOSE_DELAY,
    fresh: timedelta = FRESH_RECAP,
    min_rounds: int = AWARD_MIN_ROUNDS,
) -> list[ClosedSeason]:
    """Close every season that ended at least ``delay`` before ``now`` and is not closed
    yet (module docstring): store its awards and queue its recap, exactly once.

    Returns what this call closed (another process may have closed some meanwhile: those
    are skipped).
    """
    now = local_naive(now)
    since = tracking_start(now)
    seasons = timeline(now)
    done = closed_keys()
    out = []
    for index, season in enumerate(seasons):
        if season.key in done or now < season.end + delay:
            continue
        previous = seasons[index - 1] if index else None
        result = retry_locked(partial(_close, season, previous, now, since - fresh, min_rounds))
        if result is not None:
            log.info(
                "season %s closed: %d award(s), %s",
                result.key,
                result.awards,
                "recap queued" if result.announced else "recorded silently",
            )
            out.append(result)
    return out


def _close(
    season: Season,
    previous: Season | None,
    now: datetime,
    history_before: datetime,
    min_rounds: int,
) -> ClosedSeason | None:
    with database_proxy.atomic():
        inserted = list(
            SeasonClose.insert(
                season_key=season.key,
                start=season.start,
                end=season.end,
                closed_at=now,
                announced=False,
                rounds=0,
                players=0,
            )
            .on_conflict_ignore()
            .returning(SeasonClose.id)
            .execute()
        )
        if not inserted:
            return None  # another process closed it first
        awards = compute_awards(season, previous, min_rounds)
        if awards:
            SeasonAward.insert_many(
                [
                    {
                        "season_key": season.key,
                        "category": a.category,
                        "player": a.player_id,
                        "value": a.value,
                        "baseline": a.baseline,
                        "rounds": a.rounds,
                    }
                    for a in awards
                ]
            ).on_conflict_ignore().execute()
        rounds = (
            Round.select()
            .where(
                (Round.ended_at >= season.start)
                & (Round.ended_at < season.end)
                & (Round.orphan == False)  # noqa: E712
            )
            .count()
        )
        players = len(player_values([], season.period))
        wanted = bool(awards) and season.end >= history_before
        queued = announce.enqueue(RECAP_KIND, season.key, silent=not wanted)
        announced = wanted and queued
        SeasonClose.update(announced=announced, rounds=rounds, players=players).where(
            SeasonClose.season_key == season.key
        ).execute()
    return ClosedSeason(season.key, announced, len(awards))


@dataclass(frozen=True)
class Recap:
    """What the recap post of an ended season says."""

    key: str
    name: str
    first_day: date
    last_day: date
    rounds: int
    players: int
    min_rounds: int
    awards: list[AwardRow]


def recap(key: str, now: datetime) -> Recap | None:
    """The recap of a closed season; None when it was not closed or has no awards."""
    row = SeasonClose.get_or_none(SeasonClose.season_key == key)
    if row is None or key == TRACKING_KEY:
        return None
    awards = season_awards(key, now)
    if not awards:
        return None
    end = as_datetime(row.end)
    return Recap(
        key=key,
        name=season_name(key, now),
        first_day=as_datetime(row.start).date(),
        last_day=(end - timedelta(days=1)).date(),
        rounds=row.rounds,
        players=row.players,
        min_rounds=AWARD_MIN_ROUNDS,
        awards=awards,
    )


# --------------------------------------------------------------------------- admin


class SeasonAdminError(UserError):
    """An admin change of the seasons that cannot be made (the message says why)."""


def _check_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > NAME_MAX:
        raise SeasonAdminError(f"A season name must be 1–{NAME_MAX} characters.")
    if any(unicodedata.category(ch)[0] == "C" for ch in cleaned):
        raise SeasonAdminError("A season name cannot hold control characters.")
    if cleaned.casefold() in RESERVED_NAMES:
        raise SeasonAdminError(
            "{name} is a reserved word; choose another name.", name=Typed(cleaned)
        )
    return cleaned


def _check_unique(seasons: list[Season]) -> None:
    """Names must tell seasons apart: no two alike, none equal to another season's key
    (keys are matched first when a user names a season)."""
    keys = {s.key.casefold(): s for s in seasons}
    seen: set[str] = set()
    for season in seasons:
        folded = season.name.casefold()
        other = keys.get(folded)
        if folded in seen or (other is not None and other.key != season.key):
            raise SeasonAdminError(
                "Two seasons would be called {name}; choose another name.", name=season.name
            )
        seen.add(folded)


def _serialise_admin_changes() -> None:
    """Make concurrent admin changes run one after another (PostgreSQL: an advisory lock
    held until the transaction ends; SQLite serialises writers by itself)."""
    if is_postgres():
        database_proxy.execute_sql("SELECT pg_advisory_xact_lock(%s)", (0x5EA5_0001,))


def rename_season(
    which: str, new_name: str, now: datetime, *, changed_by: int | None = None
) -> Season:
    """Rename the season ``which`` (a key or a name). Returns the renamed season.

    Raises:
        BadOption: unknown season. SeasonAdminError: bad or duplicate name.
    """
    name = _check_name(new_name)

    def change() -> Season:
        with database_proxy.atomic():
            _serialise_admin_changes()
            season = find_season(which, now) if which.strip() else None
            if season is None:
                raise SeasonAdminError("Say which season to rename.")
            others = [s for s in timeline(now) if s.key != season.key]
            renamed = Season(season.key, name, season.start, season.end, season.custom)
            _check_unique([*others, renamed])
            (
                SeasonDef.insert(
                    key=season.key,
                    name=name,
                    custom=season.custom,
                    start=season.start if season.custom else None,
                    end=season.end if season.custom else None,
                    changed_by=changed_by,
                    changed_at=local_naive(now),
                )
                .on_conflict(
                    conflict_target=[SeasonDef.key],
                    update={
                        SeasonDef.name: name,
                        SeasonDef.changed_by: changed_by,
                        SeasonDef.changed_at: local_naive(now),
                    },
                )
                .execute()
            )
            return renamed

    return retry_locked(change)


def parse_day(value: str, what: str) -> date:
    """A ``YYYY-MM-DD`` option (years 2000–2999).

    Raises:
        BadOption: anything else.
    """
    text = value.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is None or len(text) != 10 or not 2000 <= day.year <= 2999:
        raise BadOption(f"{what} must be a date like 2025-01-31, not {{value}}.", value=Typed(text))
    return day


def add_season(
    name: str, first_day: date, last_day: date, now: datetime, *, changed_by: int | None = None
) -> Season:
    """Add a custom season from ``first_day`` to ``last_day`` (both included).

    Raises:
        SeasonAdminError: bad range, overlap with another custom season, bad or duplicate
            name.
    """
    name = _check_name(name)
    if last_day < first_day:
        raise SeasonAdminError("The last day must not be before the first day.")
    if (last_day - first_day).days + 1 > MAX_CUSTOM_DAYS:
        raise SeasonAdminError(f"A season can last at most {MAX_CUSTOM_DAYS} days.")
    start = datetime.combine(first_day, time())
    end = datetime.combine(last_day + timedelta(days=1), time())
    season = Season(custom_key(first_day, last_day), name, start, end, True)

    def change() -> Season:
        with database_proxy.atomic():
            _serialise_admin_changes()
            for other in SeasonDef.select().where(SeasonDef.custom == True):  # noqa: E712
                existing = _custom(other)
                if existing.start < end and start < existing.end:
                    raise SeasonAdminError(
                        "It would overlap the custom season {other} ({first} – {last}); "
                        "custom seasons must not overlap.",
                        other=existing.name,
                        first=existing.first_day.isoformat(),
                        last=existing.last_day.isoformat(),
                    )
            SeasonDef.create(
                key=season.key,
                name=name,
                custom=True,
                start=start,
                end=end,
                changed_by=changed_by,
                changed_at=local_naive(now),
            )
            _check_unique(timeline(now))  # raises: the transaction rolls back
            return season

    return retry_locked(change)


def remove_season(which: str, now: datetime) -> Season:
    """Remove a custom season (a key or a name) with its stored awards; the quarters it
    replaced come back. Its recap, if it was posted, stays posted (and is never posted
    again for the same range).

    Raises:
        BadOption: unknown season. SeasonAdminError: not a custom season.
    """

    def change() -> Season:
        with database_proxy.atomic():
            _serialise_admin_changes()
            season = find_season(which, now)
            if not season.custom:
                raise SeasonAdminError(
                    "{name} is a quarter; only custom seasons can be removed (rename it instead).",
                    name=season.name,
                )
            SeasonAward.delete().where(SeasonAward.season_key == season.key).execute()
            SeasonClose.delete().where(SeasonClose.season_key == season.key).execute()
            SeasonDef.delete().where(SeasonDef.key == season.key).execute()
            return season

    return retry_locked(change)


@dataclass(frozen=True)
class SeasonStatus:
    """A season as ``/season-admin list`` shows it."""

    season: Season
    renamed: bool
    has_data: bool
    closed: bool


def season_overview(now: datetime) -> list[SeasonStatus]:
    """Every season of the timeline, newest first, with what admins need to know."""
    renamed = {
        key
        for (key,) in SeasonDef.select(SeasonDef.key).where(SeasonDef.custom == False).tuples()  # noqa: E712
    }
    done = closed_keys()
    return [
        SeasonStatus(s, s.key in renamed, has_rounds(s), s.key in done)
        for s in reversed(timeline(now))
    ]

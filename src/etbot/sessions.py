"""Gaming sessions: the latest ones, and the weekly pattern of when they start.

Sessions themselves are derived by the ingest (rounds of one server with no gap over
60 minutes); this module only reads them.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from peewee import fn

from etbot.cache import cached_query
from etbot.errors import BadOption, NoData, Typed
from etbot.models import GamingSession, Player, PlayerRound, Round, Server
from etbot.servers import get_server
from etbot.statdefs import counted
from etbot.stopwatch import Match, session_scores

#: Most sessions :func:`recent_sessions` lists.
MAX_RECENT = 25


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
    #: The stopwatch score: one entry per match (two teams) played in the session.
    matches: tuple[Match, ...] = ()


def _round_start(ended_at: datetime, round_time_s: int | None, time_limit_s: int) -> datetime:
    """When a round started: its end minus its length (its time limit when unknown)."""
    seconds = round_time_s if round_time_s else time_limit_s
    return ended_at - timedelta(seconds=seconds or 0)


class _RoundTime(NamedTuple):
    """A round of a session: when it ended, on which map, and how long it lasted."""

    ended_at: datetime
    map: str
    round_time_s: int | None
    time_limit_s: int

    @property
    def started_at(self) -> datetime:
        return _round_start(self.ended_at, self.round_time_s, self.time_limit_s)


class _Fragger(NamedTuple):
    player_id: int
    kills: int


@cached_query
def recent_sessions(limit: int = 5, server: int | None = None) -> list[SessionInfo]:
    """The latest gaming sessions of every server (or of one: ``server`` id), newest
    first. A session is always the rounds of one server (the ingest never merges
    servers), so a server's sessions are a subset of everyone's."""
    if not 1 <= limit <= MAX_RECENT:
        raise BadOption(f"Show between 1 and {MAX_RECENT} sessions.")
    query = GamingSession.select(GamingSession, Server.clean_name).join(Server)
    if server is not None:
        name = get_server(server).name
        query = query.where(GamingSession.server == server)
    sessions = list(
        query.order_by(GamingSession.started_at.desc(), GamingSession.id.desc()).limit(limit)
    )
    if not sessions:
        if server is not None:
            raise NoData("No gaming sessions recorded on {server} yet.", server=name)
        raise NoData("No gaming sessions recorded yet.")
    ids = [s.id for s in sessions]
    rounds_by: dict[int, list[_RoundTime]] = defaultdict(list)
    for session_id, *round_time in (
        Round.select(
            Round.session, Round.ended_at, Round.map, Round.round_time_s, Round.time_limit_s
        )
        .where(Round.session.in_(ids))
        .order_by(Round.ended_at, Round.id)
        .tuples()
    ):
        rounds_by[session_id].append(_RoundTime(*round_time))
    kills = fn.SUM(PlayerRound.kills)
    per_player: dict[int, list[_Fragger]] = defaultdict(list)
    for session_id, player_id, player_kills in (
        PlayerRound.select(Round.session, PlayerRound.player, kills)
        .join(Round, on=(PlayerRound.round == Round.id))
        .where(Round.session.in_(ids) & counted())
        .group_by(Round.session, PlayerRound.player)
        .tuples()
    ):
        per_player[session_id].append(_Fragger(player_id, int(player_kills or 0)))
    tops = {
        session_id: min(rows, key=lambda r: (-r.kills, r.player_id))
        for session_id, rows in per_player.items()
    }
    names = dict(
        Player.select(Player.id, Player.name)
        .where(Player.id.in_([t.player_id for t in tops.values()] or [0]))
        .tuples()
    )
    scores = session_scores(tuple(ids))
    out = []
    for s in sessions:
        rounds = rounds_by.get(s.id, [])
        maps: list[str] = []
        for r in rounds:
            if not maps or maps[-1] != r.map:
                maps.append(r.map)
        start = rounds[0].started_at if rounds else s.started_at
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
                top_fragger=names.get(top.player_id) if top else None,
                top_fragger_kills=top.kills if top else 0,
                round_count=len(rounds),
                matches=tuple(scores.get(s.id, [])),
            )
        )
    return out


# --------------------------------------------------------------------------- weekly pattern


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


def _session_starts(since: datetime, until: datetime, server: int | None = None) -> list[datetime]:
    """Estimated start of each session that started in ``[since, until]`` (local time),
    of every server or of one (``server`` id)."""
    firsts: dict[int, datetime] = {}
    where = (GamingSession.started_at >= since) & (GamingSession.started_at <= until)
    if server is not None:
        where &= GamingSession.server == server
    for session_id, ended, rtime, tlimit in (
        Round.select(Round.session, Round.ended_at, Round.round_time_s, Round.time_limit_s)
        .join(GamingSession, on=(Round.session == GamingSession.id))
        .where(where)
        .order_by(Round.ended_at, Round.id)
        .tuples()
    ):
        if session_id not in firsts:
            firsts[session_id] = _round_start(ended, rtime, tlimit)
    return sorted(firsts.values())


def weekly_pattern(
    tz: str, now: datetime, weeks: int = PATTERN_WEEKS, server: int | None = None
) -> WeeklyPattern:
    """When do sessions usually start, and when is the next one expected?

    Looks at the sessions of the last ``weeks`` weeks (all servers, or one: ``server``).
    A weekday is usual when sessions started on it in at least two thirds of the observed
    weeks (and at least three times); its usual time is the median start time of those
    sessions, rounded down to a quarter hour. ``now`` is server-local (naive) or aware
    (converted to ``tz``).
    """
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadOption("Unknown timezone {tz}.", tz=Typed(tz)) from None
    local_now = now.astimezone(zone).replace(tzinfo=None) if now.tzinfo else now
    since = local_now - timedelta(weeks=weeks)
    starts = _session_starts(since, local_now, server)
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

"""Availability polls: who can play on which of the coming days, reminders before each
day's start, and the next session from the weekly pattern plus what the polls agreed.

A poll covers ``days`` days from today (server time). Each day asks about one start: the
time the poll proposed (``/availability at:21:00``), else the forecast's most likely
start that evening (:func:`etbot.forecast.evenings_ahead`). Every member has one answer
per day - yes, maybe or no - stored with a unique ``(poll, day, member)`` key, so a new
click replaces the old answer, also when two clicks race on PostgreSQL.

A day is **agreed** when a strict majority of the members who answered said yes (and at
least :data:`MIN_YES` of them: a session needs players) and the day has a start; agreed
starts override the forecast (:func:`next_session`). Shortly before a day's start
(:data:`REMINDER_LEAD`) the members who said yes are reminded once: the reminder is an
outbox row ``availability_reminder`` keyed ``"<poll>:<YYYYMMDD>"`` (:mod:`etbot.announce`),
unique in the database, so a restart or a second bot process never reminds twice.

Times in the database are naive server-local (like round times), except the bookkeeping
columns ``created_at`` / ``voted_at`` (naive UTC).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from etbot import announce, forecast
from etbot.cache import cached_query
from etbot.db import as_date
from etbot.errors import BadOption, NoData, Typed
from etbot.models import AvailabilityDay, AvailabilityPoll, AvailabilityVote, database_proxy

log = logging.getLogger(__name__)

#: The three answers, in the order the buttons show them.
ANSWERS = ("yes", "maybe", "no")
DEFAULT_DAYS = 7
MAX_DAYS = 14
#: Members who said yes are reminded this long before the day's start.
REMINDER_LEAD = timedelta(minutes=30)
#: An agreed day needs at least this many "yes" (a majority of one is not a session).
MIN_YES = 2
#: The outbox kind of reminders (see etbot.announce).
REMINDER_KIND = "availability_reminder"

_TIME = re.compile(r"^\s*(\d{1,2})[:.h](\d{2})\s*$")


@dataclass(frozen=True)
class PollDay:
    """One day of a poll with its answers (member ids in the order they answered)."""

    day: date
    #: The start asked about (server-local naive), None when nothing is known.
    start: datetime | None
    #: True when ``start`` is the poll's proposed time, False when it is a forecast.
    proposed: bool
    yes: list[int] = field(default_factory=list)
    maybe: list[int] = field(default_factory=list)
    no: list[int] = field(default_factory=list)

    @property
    def answers(self) -> int:
        """How many members answered for this day."""
        return len(self.yes) + len(self.maybe) + len(self.no)

    @property
    def agreed(self) -> bool:
        """A strict majority of those who answered said yes (at least :data:`MIN_YES`),
        and the day has a start."""
        return (
            self.start is not None and len(self.yes) >= MIN_YES and 2 * len(self.yes) > self.answers
        )

    def answer_of(self, member_id: int) -> str | None:
        """What ``member_id`` answered for this day, if anything."""
        for answer in ANSWERS:
            if member_id in getattr(self, answer):
                return answer
        return None


@dataclass(frozen=True)
class Poll:
    """An availability poll and every day's answers."""

    id: int
    guild_id: int
    channel_id: int
    created_by: int
    #: The proposed start time of every day ("21:00"), None when each day shows a forecast.
    start_time: str | None
    days: list[PollDay]

    def day(self, day: date) -> PollDay:
        """The poll's entry for ``day``.

        Raises:
            BadOption: ``day`` is not part of this poll.
        """
        for entry in self.days:
            if entry.day == day:
                return entry
        raise BadOption("That day is not part of this poll.")


@dataclass(frozen=True)
class Reminder:
    """What a reminder says: who said yes to which day's start."""

    poll_id: int
    day: date
    #: Server-local naive start.
    start: datetime
    proposed: bool
    yes: list[int]


@dataclass(frozen=True)
class NextSession:
    """The next session: agreed in a poll, or predicted by the forecast."""

    #: Aware UTC start; None when there is neither history nor an agreed start.
    start: datetime | None
    #: True when an availability poll agreed on it.
    agreed: bool


# --------------------------------------------------------------------------- input


def parse_start_time(text: str) -> time:
    """``"21:00"`` (also ``21.00``, ``21h00``, ``9:30``) as a time of day.

    Raises:
        BadOption: anything else, with the typed text in a field.
    """
    match = _TIME.match(text or "")
    if match is not None:
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour < 24 and minute < 60:
            return time(hour, minute)
    raise BadOption(
        "Give the start as HH:MM in server time, e.g. 21:00 (not {text}).", text=Typed(text)
    )


def start_on(
    day: date, at: time, params: forecast.ForecastParams = forecast.DEFAULT_PARAMS
) -> datetime:
    """The start ``at`` on the evening of ``day``: a time before the evening begins
    (e.g. 00:30) is after midnight, so on the next calendar day."""
    start = datetime.combine(day, at)
    if at.hour < params.evening_starts_hour:
        start += timedelta(days=1)
    return start


def day_key(day: date) -> str:
    """A day as it travels in custom ids and outbox keys: ``YYYYMMDD``."""
    return day.strftime("%Y%m%d")


def parse_day_key(text: str) -> date:
    """Inverse of :func:`day_key`.

    Raises:
        ValueError: not a ``YYYYMMDD`` date.
    """
    if len(text) != 8 or not text.isascii() or not text.isdigit():
        raise ValueError(f"not a YYYYMMDD day: {text!r}")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise ValueError(f"not a YYYYMMDD day: {text!r}") from None


# --------------------------------------------------------------------------- polls


def create_poll(
    *,
    guild_id: int,
    channel_id: int,
    created_by: int,
    now: datetime,
    days: int = DEFAULT_DAYS,
    start_time: time | None = None,
) -> Poll:
    """Store a poll for ``days`` days from ``now`` (server-local naive) on.

    Each day asks about ``start_time`` that evening, or without one about the forecast's
    most likely start of that evening (from the rounds played before ``now``).

    Raises:
        BadOption: ``days`` outside 1-:data:`MAX_DAYS`.
    """
    if not 1 <= days <= MAX_DAYS:
        raise BadOption(f"A poll covers 1 to {MAX_DAYS} days.")
    first = now.date()
    dates = [first + timedelta(days=i) for i in range(days)]
    if start_time is not None:
        starts: dict[date, datetime | None] = {d: start_on(d, start_time) for d in dates}
    else:
        sessions = forecast.load_sessions(now)
        ahead = {e.evening: e.start for e in forecast.evenings_ahead(sessions, now, days + 1)}
        starts = {d: ahead.get(d) for d in dates}
    with database_proxy.atomic():
        poll = AvailabilityPoll.create(
            guild_id=guild_id,
            channel_id=channel_id,
            created_by=created_by,
            created_at=announce.utcnow(),
            start_time=start_time.strftime("%H:%M") if start_time is not None else None,
        )
        AvailabilityDay.insert_many(
            [
                {
                    "poll": poll.id,
                    "day": d,
                    "start": starts[d],
                    "proposed": start_time is not None,
                }
                for d in dates
            ]
        ).execute()
    log.info("availability poll %s: %d days from %s", poll.id, days, first)
    return get_poll(poll.id)


def get_poll(poll_id: int) -> Poll:
    """A poll with its days and answers.

    Raises:
        NoData: no such poll (deleted, or an id from another database).
    """
    row = AvailabilityPoll.get_or_none(AvailabilityPoll.id == poll_id)
    if row is None:
        raise NoData("This poll no longer exists.")
    answers: dict[tuple[date, str], list[int]] = {}
    for day, member_id, answer in (
        AvailabilityVote.select(
            AvailabilityVote.day, AvailabilityVote.member_id, AvailabilityVote.answer
        )
        .where(AvailabilityVote.poll == poll_id)
        .order_by(AvailabilityVote.voted_at, AvailabilityVote.id)
        .tuples()
    ):
        answers.setdefault((as_date(day), answer), []).append(int(member_id))
    days = [
        PollDay(
            day=as_date(d.day),
            start=d.start,
            proposed=bool(d.proposed),
            yes=answers.get((as_date(d.day), "yes"), []),
            maybe=answers.get((as_date(d.day), "maybe"), []),
            no=answers.get((as_date(d.day), "no"), []),
        )
        for d in AvailabilityDay.select()
        .where(AvailabilityDay.poll == poll_id)
        .order_by(AvailabilityDay.day)
    ]
    return Poll(
        id=row.id,
        guild_id=int(row.guild_id),
        channel_id=int(row.channel_id),
        created_by=int(row.created_by),
        start_time=row.start_time,
        days=days,
    )


def vote(poll_id: int, day: date, member_id: int, answer: str, *, now: datetime) -> Poll:
    """Record ``member_id``'s answer for ``day`` (replacing an earlier one); the poll after it.

    ``now`` is server-local naive: days before today can no longer be answered.

    Raises:
        BadOption: unknown answer, a day that is not in the poll or already over.
        NoData: no such poll.
    """
    if answer not in ANSWERS:
        raise BadOption("Answer yes, maybe or no.")
    poll = get_poll(poll_id)
    poll.day(day)  # raises when the day is not in the poll
    if day < now.date():
        raise BadOption("That day is over; answer for the days still ahead.")
    voted_at = announce.utcnow()
    (
        AvailabilityVote.insert(
            poll=poll_id, day=day, member_id=member_id, answer=answer, voted_at=voted_at
        )
        .on_conflict(
            conflict_target=[
                AvailabilityVote.poll,
                AvailabilityVote.day,
                AvailabilityVote.member_id,
            ],
            update={AvailabilityVote.answer: answer, AvailabilityVote.voted_at: voted_at},
        )
        .execute()
    )
    return get_poll(poll_id)


# --------------------------------------------------------------------------- reminders


def reminder_key(poll_id: int, day: date) -> str:
    """The outbox key of a day's reminder."""
    return f"{poll_id}:{day_key(day)}"


def due_reminders(now: datetime) -> list[tuple[int, date]]:
    """``(poll, day)`` whose start is less than :data:`REMINDER_LEAD` ahead of ``now``
    (server-local naive) and that have at least one "yes"."""
    rows = (
        AvailabilityDay.select(AvailabilityDay.poll, AvailabilityDay.day)
        .join(
            AvailabilityVote,
            on=(
                (AvailabilityVote.poll == AvailabilityDay.poll)
                & (AvailabilityVote.day == AvailabilityDay.day)
            ),
        )
        .where(
            AvailabilityDay.start.is_null(False)
            & (AvailabilityDay.start > now)
            & (AvailabilityDay.start <= now + REMINDER_LEAD)
            & (AvailabilityVote.answer == "yes")
        )
        .distinct()
        .tuples()
    )
    return sorted((int(poll), as_date(day)) for poll, day in rows)


def queue_due_reminders(now: datetime) -> int:
    """Queue the reminder of every due day (see :func:`due_reminders`) in the outbox;
    returns how many were new. Each day's reminder is queued at most once, ever."""
    added = 0
    with database_proxy.atomic():
        for poll_id, day in due_reminders(now):
            added += announce.enqueue(REMINDER_KIND, reminder_key(poll_id, day))
    return added


def reminder(key: str, now: datetime) -> Reminder | None:
    """What the reminder ``key`` says at ``now`` (server-local naive); None when there is
    nothing to say any more: the poll is gone, nobody says yes, or the start has passed.

    Raises:
        ValueError: a malformed key.
    """
    poll_part, _, day_part = key.partition(":")
    poll_id, day = int(poll_part), parse_day_key(day_part)
    try:
        poll = get_poll(poll_id)
        entry = poll.day(day)
    except (NoData, BadOption):
        return None
    if entry.start is None or entry.start <= now or not entry.yes:
        return None
    return Reminder(poll_id, day, entry.start, entry.proposed, list(entry.yes))


# --------------------------------------------------------------------------- next session


def agreed_starts(now: datetime) -> list[datetime]:
    """Starts (server-local naive) after ``now`` (server-local naive) that a poll agreed
    on (see :attr:`PollDay.agreed`), earliest first."""
    poll_ids = {
        int(p)
        for (p,) in AvailabilityDay.select(AvailabilityDay.poll)
        .where(AvailabilityDay.start > now)
        .distinct()
        .tuples()
    }
    starts = {
        entry.start
        for poll_id in poll_ids
        for entry in get_poll(poll_id).days
        if entry.agreed and entry.start is not None and entry.start > now
    }
    return sorted(starts)


@cached_query
def predicted_start(minute: datetime, tz: str) -> datetime | None:
    """The forecast's next start after ``minute`` (aware; the caller rounds it to a whole
    minute so that the questions of one minute share a cache entry until the next import),
    without the polls (:func:`next_session` adds them). Aware UTC, or None."""
    return forecast.next_session(minute, ZoneInfo(tz))


def next_session(
    now: datetime, tz: str | ZoneInfo, *, predicted: datetime | Literal["fit"] | None = "fit"
) -> NextSession:
    """The next session after ``now`` (aware, or naive server-local): the earliest start a
    poll agreed on, else the forecast from the weekly pattern (:mod:`etbot.forecast`).

    This is what ``/sessions`` and the bot's presence show. ``predicted`` is the forecast's
    answer when the caller already has it (:func:`predicted_start`, cached); by default the
    forecast is fitted here.
    """
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    local_now = forecast.to_server_local(now, zone)
    agreed = agreed_starts(local_now)
    if predicted == "fit" or agreed:
        start = forecast.next_session(local_now, zone, agreed_starts=agreed)
    else:
        start = predicted
    is_agreed = bool(agreed) and start == agreed[0].replace(tzinfo=zone).astimezone(UTC)
    return NextSession(start=start, agreed=is_agreed)

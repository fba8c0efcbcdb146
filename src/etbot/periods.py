"""Time windows of the queries: the period option and "now".

Times are naive server-local datetimes, as in the stats file names. Periods start at a
server-local midnight, so the per-day aggregates (:class:`~etbot.models.PlayerDay`) answer
them exactly; a hand-made :class:`Period` that does not is served from the round rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from peewee import fn

from etbot.db import as_datetime
from etbot.errors import BadOption, Typed
from etbot.models import Round

PERIODS: dict[str, str] = {
    "all": "All time",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "365d": "Last 365 days",
}
_PERIOD_DAYS = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}


@dataclass(frozen=True)
class Period:
    """A half-open range ``[start, end)`` of server-local round end times (None = open)."""

    start: datetime | None
    end: datetime | None
    label: str

    @property
    def day_aligned(self) -> bool:
        """True when both bounds are midnights (or open): PlayerDay answers it exactly."""
        return all(b is None or b.time() == time() for b in (self.start, self.end))


def parse_period(value: str | None, now: datetime) -> Period:
    """Turn a period option (a key of :data:`PERIODS`; None = all) into a :class:`Period`.

    "Last N days" means today (server-local date of ``now``) and the N - 1 days before.
    """
    key = (value or "all").strip().lower()
    if key not in PERIODS:
        choices = ", ".join(PERIODS)
        raise BadOption(f"Unknown period {{period}}; choose one of: {choices}.", period=Typed(key))
    if key == "all":
        return Period(None, None, PERIODS[key])
    first_day = local_naive(now).date() - timedelta(days=_PERIOD_DAYS[key] - 1)
    return Period(datetime.combine(first_day, time()), None, PERIODS[key])


def local_naive(value: datetime) -> datetime:
    """``value`` as a naive server-local datetime.

    Aware datetimes are taken as already converted to the server's zone by the caller:
    only the zone is dropped.
    """
    return value.replace(tzinfo=None) if value.tzinfo is not None else value


def latest_round_time() -> datetime | None:
    """End time of the newest round in the database (the default "now" of queries)."""
    value = Round.select(fn.MAX(Round.ended_at)).scalar()
    return None if value is None else as_datetime(value)


def now_or_latest(now: datetime | None) -> datetime:
    """``now`` as naive server-local time; by default the newest round (or the clock)."""
    if now is not None:
        return local_naive(now)
    return latest_round_time() or datetime.now()

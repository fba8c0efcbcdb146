"""When does the next gaming session start? A small, documented statistical forecast.

Model
-----
Session starts are treated as a Poisson process whose rate depends on the time of the
week (server-local wall clock, so a session at 20:00 stays at 20:00 across a DST change).
Per server:

* **Weekly shape** (which days, what time; long memory, ``shape_half_life_days``): every
  past start adds a Gaussian bump at its time of the week, weighted by an exponential
  decay. The bump width comes from the data (Silverman's rule on the start times of
  day): narrow for a community that always starts at the same time, wide for an
  irregular one.
* **Weekday or any day?** The same starts pooled over the weekdays give an "evenings
  around 21:00" profile. The weekday-specific profile is shrunk towards it by empirical
  Bayes (beta-binomial: is a weekday played more often than chance says?), so an
  irregular community gets "most evenings", a fixed schedule gets "Tuesday and
  Thursday around 20:45", without a tuned threshold.
* **Activity level** (sessions per week; short memory, ``level_half_life_days``): the
  shape is scaled to the recent number of sessions, so after a quiet month or during a
  busy week the forecast neither waits too long nor too little.
* A server cannot start a new session while one runs: a round within 60 minutes of its
  last one belongs to the same session, so its rate is 0 until 60 minutes after its
  last round.

The community's next session is the first event of all servers' processes together (the
sum of their rates): with several servers the forecast is the earliest likely start
among them. ``next_session`` answers for the whole community, never per server.

From the rate ``λ(t)`` after the asking time, the density of the *first* next start is
``f(t) = λ(t)·exp(-∫λ)``.  The forecast is the instant ``t`` that maximises
``P(next start within ±tolerance of t)`` (tolerance 1 hour), i.e. the answer most likely
to be within an hour of the truth, searched over ``horizon_days``.  There is no answer
(None) only when no round was played in the look-back window before the asking time.

Only rounds that *ended before* the asking time are used, so the forecast at a given
instant never changes when later rounds are imported.  Times in the database are naive
server-local (``SERVER_TIMEZONE``); the public entry point :func:`next_session` takes
aware or naive (= server-local) instants and returns aware UTC.

Agreed starts (e.g. from an availability poll) override the model: the earliest agreed
start after the asking instant is the answer.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from etbot.db import as_datetime
from etbot.models import Round

log = logging.getLogger(__name__)

#: Rounds of one server with no gap longer than this form one gaming session.
SESSION_GAP = timedelta(minutes=60)

__all__ = [
    "SESSION_GAP",
    "Forecast",
    "ForecastParams",
    "PastSession",
    "forecast_next",
    "load_sessions",
    "next_session",
    "sessions_from_rounds",
    "to_server_local",
]


@dataclass(frozen=True)
class ForecastParams:
    """The model's few knobs. Defaults are chosen from the game, not fitted to a corpus
    (see bench/sessions.py for how they were checked)."""

    #: Weekly rhythm (which days, what time): a past session's weight halves every this
    #: many days. Habits change slowly, over a season.
    shape_half_life_days: float = 91.0
    #: Activity level (sessions per week): weight halves every this many days. Holidays,
    #: a new map pack or a quiet month change it within weeks.
    level_half_life_days: float = 14.0
    #: Spread of start times around a usual slot (Gaussian sigma); None chooses it from
    #: the history (Silverman's rule, see :func:`_bandwidth`).
    bandwidth_minutes: float | None = None
    #: Pseudo-weeks of "any evening" evidence each weekday starts with; None estimates
    #: it from the history (empirical Bayes, see :func:`_weekday_prior`).
    weekday_prior_weeks: float | None = None
    #: How far ahead to look for the next session.
    horizon_days: int = 14
    #: Sessions older than this are ignored (their decayed weight is ~0 anyway).
    lookback_days: int = 365
    #: Resolution of the search grid (and of the predicted start).
    step_minutes: int = 5
    #: The forecast maximises the chance of being within this of the real start.
    tolerance_minutes: int = 60


DEFAULT_PARAMS = ForecastParams()


@dataclass(frozen=True)
class PastSession:
    """A session seen before the asking time (server-local naive times)."""

    server_id: int
    #: Estimated start: end of the first round minus that round's length.
    start: datetime
    #: End of its last round before the asking time.
    end: datetime


@dataclass(frozen=True)
class Forecast:
    """The predicted next start and how sure the model is about it."""

    #: Predicted start, server-local naive.
    start: datetime
    #: Model probability that the next session starts within the tolerance of ``start``.
    hit_probability: float
    #: Model probability that any session starts within the horizon.
    horizon_probability: float


def round_start(ended_at: datetime, round_time_s: int | None, time_limit_s: int | None) -> datetime:
    """Estimated start of a round: its end minus its length (the time limit when the
    actual time is unknown). Same rule as the sessions list uses."""
    seconds = round_time_s if round_time_s else time_limit_s
    return ended_at - timedelta(seconds=seconds or 0)


def sessions_from_rounds(
    rounds: Iterable[tuple[int, datetime, int | None, int | None]],
) -> list[PastSession]:
    """Group rounds ``(server_id, ended_at, round_time_s, time_limit_s)`` into sessions:
    rounds of one server with no gap over :data:`SESSION_GAP`. Sorted by start."""
    by_server: dict[int, list[tuple[datetime, int | None, int | None]]] = {}
    for server_id, ended, rtime, tlimit in rounds:
        by_server.setdefault(server_id, []).append((ended, rtime, tlimit))
    out: list[PastSession] = []
    for server_id, rows in by_server.items():
        rows.sort(key=lambda r: r[0])
        start = round_start(*rows[0])
        last = rows[0][0]
        for ended, rtime, tlimit in rows[1:]:
            if ended - last > SESSION_GAP:
                out.append(PastSession(server_id, start, last))
                start = round_start(ended, rtime, tlimit)
            last = ended
        out.append(PastSession(server_id, start, last))
    out.sort(key=lambda s: (s.start, s.server_id))
    return out


def load_sessions(before: datetime, params: ForecastParams = DEFAULT_PARAMS) -> list[PastSession]:
    """Sessions built from the rounds that ended strictly before ``before`` (server-local
    naive) within the look-back window. Rounds after ``before`` are never read."""
    since = before - timedelta(days=params.lookback_days)
    rows = (
        Round.select(Round.server, Round.ended_at, Round.round_time_s, Round.time_limit_s)
        .where((Round.ended_at < before) & (Round.ended_at >= since))
        .tuples()
    )
    return sessions_from_rounds((sid, as_datetime(end), rt, tl) for sid, end, rt, tl in rows)


def to_server_local(value: datetime, zone: ZoneInfo) -> datetime:
    """An aware instant converted to naive server-local time; a naive one is taken as
    server-local already."""
    if value.tzinfo is None:
        return value
    return value.astimezone(zone).replace(tzinfo=None)


def _gaussian_kernel(bins: int, step_min: float, sigma_min: float) -> np.ndarray:
    """A circular Gaussian over ``bins`` bins, normalised to integrate to 1 per day."""
    offsets = np.arange(bins, dtype=float)
    offsets = np.minimum(offsets, bins - offsets) * step_min
    kernel = np.exp(-0.5 * (offsets / sigma_min) ** 2)
    return kernel / (kernel.sum() * step_min / 1440.0)


def _circular_smooth(hist: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    return np.fft.irfft(np.fft.rfft(hist) * np.fft.rfft(kernel), n=len(hist))


#: Times of day before this hour count as the previous evening (a session at 00:30 is a
#: late one, not an early one) when measuring how spread out start times are.
_DAY_STARTS_AT_HOUR = 6


def _bandwidth(starts: Sequence[datetime], step: int) -> float:
    """Silverman's rule of thumb for the spread of start times of day, in minutes.

    ``0.9 * min(sd, IQR / 1.34) * n^(-1/5)``: narrow for a community that always starts
    within the same half hour, wider for an irregular one. Kept between two grid steps
    and two hours so that a handful of identical starts or one outlier cannot make it
    degenerate.
    """
    minutes = np.array(
        [(t.hour * 60 + t.minute - _DAY_STARTS_AT_HOUR * 60) % 1440 for t in starts],
        dtype=float,
    )
    if len(minutes) < 2:
        return 120.0
    sd = float(minutes.std(ddof=1))
    q75, q25 = np.percentile(minutes, [75, 25])
    spread = min(sd, float(q75 - q25) / 1.34) or sd
    return float(np.clip(0.9 * spread * len(minutes) ** -0.2, 2 * step, 120.0))


def _exposure(observed_min: float, half_life_min: float) -> tuple[float, float]:
    """The decayed observed time in weeks (the integral of the weights over the observed
    span) and the same integral of the squared weights (the Poisson variance of a decayed
    count per unit rate)."""
    week_min = 7 * 1440.0
    decay = 0.5 ** (observed_min / half_life_min)
    exposure = (half_life_min / math.log(2)) * (1.0 - decay) / week_min
    exposure_sq = (half_life_min / (2 * math.log(2))) * (1.0 - decay * decay) / week_min
    return exposure, exposure_sq


def _weekday_prior(played: np.ndarray, exposure: float, exposure_sq: float) -> float:
    """How many pseudo-weeks of the pooled "any day" profile each weekday is shrunk with.

    ``played[d]`` is the decayed number of days of weekday ``d`` with at least one session.
    Each weekday in each week is played or not, so under "every weekday alike" with
    probability ``p`` these counts vary by ``p (1 - p) exposure_sq`` (beta-binomial
    empirical Bayes, method of moments). Only the variance beyond that is a real weekday
    preference, of variance ``tau2`` between the weekdays' probabilities; the beta prior
    with mean ``p`` and that variance weighs ``p (1 - p) / tau2 - 1`` weeks. No preference
    beyond chance gives infinity (one pooled profile for every day); a fixed schedule
    (some days always, others never) gives about 0 (each weekday on its own).
    """
    p = float(played.mean()) / exposure
    if p <= 0.0:
        return math.inf
    spread = p * max(1.0 - p, 0.0)
    excess = float(played.var(ddof=1)) - spread * exposure_sq
    if excess <= 0.0:
        return math.inf
    tau2 = excess / (exposure * exposure)
    return max(spread / tau2 - 1.0, 0.0)


def forecast_next(
    sessions: Sequence[PastSession],
    at: datetime,
    params: ForecastParams = DEFAULT_PARAMS,
) -> Forecast | None:
    """The most likely next session start after ``at`` (server-local naive), from
    ``sessions`` that started before ``at``. None when there is no usable history."""
    since = at - timedelta(days=params.lookback_days)
    past = [s for s in sessions if since <= s.start < at]
    if not past:
        return None
    step = params.step_minutes
    day_bins = 1440 // step
    week_bins = 7 * day_bins
    shape_hl = params.shape_half_life_days * 1440.0
    level_hl = params.level_half_life_days * 1440.0

    def age(t: datetime) -> float:
        return (at - t).total_seconds() / 60.0

    # Observed time runs from the first session seen, for all servers alike: a server that
    # is new in an old community starts with a low rate, then catches up.
    observed = max(age(min(s.start for s in past)), float(step))
    shape_exposure, shape_exposure_sq = _exposure(observed, shape_hl)
    level_exposure, _ = _exposure(observed, level_hl)

    # Search grid: wall-clock aligned steps strictly after ``at``.
    first = at.replace(second=0, microsecond=0) - timedelta(minutes=at.minute % step)
    first += timedelta(minutes=step)
    n = params.horizon_days * day_bins
    first_bin = first.weekday() * day_bins + (first.hour * 60 + first.minute) // step
    grid_bins = (first_bin + np.arange(n)) % week_bins
    grid_minutes = np.arange(n) * step  # minutes after ``first``

    bandwidth = params.bandwidth_minutes or _bandwidth([s.start for s in past], step)
    kernel_week = _gaussian_kernel(week_bins, step, bandwidth)
    kernel_day = _gaussian_kernel(day_bins, step, bandwidth)
    rate = np.zeros(n)
    for server_id in sorted({s.server_id for s in past}):
        mine = [s for s in past if s.server_id == server_id]
        hist = np.zeros(week_bins)
        played = np.zeros(7)
        days_seen: set[date] = set()
        level_count = 0.0
        for s in mine:
            weight = 0.5 ** (age(s.start) / shape_hl)
            b = s.start.weekday() * day_bins + (s.start.hour * 60 + s.start.minute) // step
            hist[b] += weight
            if s.start.date() not in days_seen:
                days_seen.add(s.start.date())
                played[s.start.weekday()] += weight
            level_count += 0.5 ** (age(s.start) / level_hl)
        shape_count = float(hist.sum())
        if shape_count <= 0.0 or level_count <= 0.0:
            continue
        # Sessions per day at each time of the week (long memory) ...
        weekly = _circular_smooth(hist, kernel_week) / shape_exposure
        by_day = hist.reshape(7, day_bins)
        daily = np.tile(_circular_smooth(by_day.sum(axis=0), kernel_day), 7)
        daily /= 7.0 * shape_exposure
        prior = params.weekday_prior_weeks
        if prior is None:
            prior = _weekday_prior(played, shape_exposure, shape_exposure_sq)
        if math.isinf(prior):
            profile = daily
        else:
            profile = (shape_exposure * weekly + prior * daily) / (shape_exposure + prior)
        # ... scaled to the recent number of sessions per week (short memory).
        profile *= (level_count / level_exposure) / (shape_count / shape_exposure)
        server_rate = np.clip(profile[grid_bins], 0.0, None)  # FFT noise can dip below 0
        # No new session on this server until 60 minutes after its last round.
        free_from = max(s.end for s in mine) + SESSION_GAP
        server_rate[grid_minutes < (free_from - first).total_seconds() / 60.0] = 0.0
        rate += server_rate

    step_days = step / 1440.0
    cumulative = np.concatenate(([0.0], np.cumsum(rate) * step_days))
    survival = np.exp(-cumulative)  # P(no session before each grid step)
    density = survival[:-1] - survival[1:]  # P(the first start falls in this step)
    csum = np.concatenate(([0.0], np.cumsum(density)))
    half = params.tolerance_minutes // step
    lo = np.clip(np.arange(n) - half, 0, n)
    hi = np.clip(np.arange(n) + half + 1, 0, n)
    window = csum[hi] - csum[lo]
    best = int(np.argmax(window))
    if window[best] <= 0.0:
        return None
    return Forecast(
        start=first + timedelta(minutes=best * step),
        hit_probability=float(window[best]),
        horizon_probability=float(csum[-1]),
    )


def next_session(
    now: datetime,
    tz: str | ZoneInfo,
    *,
    agreed_starts: Iterable[datetime] = (),
    params: ForecastParams = DEFAULT_PARAMS,
) -> datetime | None:
    """Predicted start of the next gaming session after ``now``, as an aware UTC datetime.

    ``now`` is aware, or naive server-local time in ``tz`` (``SERVER_TIMEZONE``). Only
    rounds that ended before ``now`` are used. ``agreed_starts`` (aware, or naive
    server-local) are starts the community agreed on, e.g. in an availability poll: the
    earliest one after ``now`` is returned instead of the model's guess. None when there
    is no agreed start ahead and no round in the look-back window.
    """
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    local_now = to_server_local(now, zone)
    agreed = sorted(a for a in (to_server_local(x, zone) for x in agreed_starts) if a > local_now)
    if agreed:
        local = agreed[0]
    else:
        result = forecast_next(load_sessions(local_now, params), local_now, params)
        if result is None:
            return None
        log.debug(
            "next session after %s: %s (P within %d min %.2f)",
            local_now,
            result.start,
            params.tolerance_minutes,
            result.hit_probability,
        )
        local = result.start
    return local.replace(tzinfo=zone).astimezone(UTC)

"""When does the next gaming session start? A small, documented statistical forecast.

Model
-----
Per server, every *evening* (a server-local day that runs from 06:00 to 06:00, so a
session at 00:30 belongs to the evening before) is modelled by three questions:

* **Does the server play tonight?** A probability per evening: a recent *activity
  level* (the share of recent evenings with a session) times a *weekday factor* (is this
  weekday played more or less than the others, over a longer memory, shrunk towards 1).
  Activity changes within days (a holiday week, a new map pack), habits over a season,
  so the two get different memories.
* **When does the evening's first session start?** A recency-weighted kernel density of
  past first starts, the same for every weekday. (Per-weekday start times, shrunk towards
  the all-days density, are an option: ``time_weekday_prior_starts``. They help a little
  on fixed weekly schedules with off-day sessions at odd hours and cost a few points on
  resamples of the real corpus, which is what a held-out community looks like; so they
  are off by default.)
* **Does a second session follow?** After a session the server is busy until 60 minutes
  after its last round (a round within 60 minutes joins the session); then another
  session may start that evening, with a probability per unit of start-time mass still
  ahead (the density of all session starts), learned from how often that happened.

Nothing in those parts is a tuned threshold: each has a small set of candidate memories
(half-lives), bandwidths and weekday shrinkages, and the data before the asking time
chooses among them. Every candidate is scored *prequentially*: each past evening (or
past first start) is predicted from the ones before it only, and the candidate earns the
log-probability it gave to what happened. The candidates are averaged with weights
proportional to their exponentiated scores (Bayesian model averaging) times a prior that
gives "weekdays matter" and "weekdays don't matter" even odds, however many variants of
the first there are. Older scores count less (a forgetting factor of 0.99 per day, as in
dynamic model averaging), so when a community changes from "once in a while" to "every
evening" the shorter memories take over. Weekday effects therefore only
matter where the data shows them (a fixed Tuesday/Thursday schedule), and an irregular
community that plays most evenings gets "tomorrow at the usual time".

The probability that *no* session of server ``s`` has started by ``t`` multiplies over
the evenings up to ``t``: ``1 - q·G(x)`` for a future evening (``q`` its probability of a
session, ``G`` the start-time distribution up to the time of day ``x``); tonight it is
conditional on what has already happened (no session yet, or a session that ended). The
community's next session is the first one of any server: the survival functions
multiply. The forecast is the instant ``t`` that maximises ``P(next start within ±1 h of
t)``: the answer most likely to be within an hour of the truth, searched over
``horizon_days``. There is no answer (None) only when no round was played in the
look-back window before the asking time.

Only rounds that *ended before* the asking time are used, so the forecast at a given
instant never changes when later rounds are imported. Times are server-local wall clock
(a session at 20:00 stays at 20:00 across a DST change). Times in the database are naive
server-local (``SERVER_TIMEZONE``); the public entry point :func:`next_session` takes aware
or naive (= server-local) instants and returns aware UTC.

Agreed starts (e.g. from an availability poll) override the model: the earliest agreed
start after the asking instant is the answer.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from etbot.db import as_datetime
from etbot.models import Round

log = logging.getLogger(__name__)

#: Rounds of one server with no gap longer than this form one gaming session.
SESSION_GAP = timedelta(minutes=60)

__all__ = [
    "DEFAULT_PARAMS",
    "SESSION_GAP",
    "Evening",
    "Forecast",
    "ForecastParams",
    "PastSession",
    "evening_of",
    "evenings_ahead",
    "forecast_next",
    "load_sessions",
    "next_session",
    "sessions_from_rounds",
    "to_server_local",
]


@dataclass(frozen=True)
class ForecastParams:
    """The model's candidate sets and fixed conventions. No value here is fitted to a
    corpus: the data before each asking time weighs the candidates (see the module
    docstring); bench/sessions.py shows how the results move when a set is changed."""

    #: Memories (half-lives, days) of the activity level: the share of recent evenings
    #: with a session, from "these two weeks" to "this season". Not shorter: a half-life
    #: of a few days estimates a per-evening probability from fewer than ~20 evenings
    #: (a standard error above 0.1), and one quiet evening then makes the next ones look
    #: unlikely (the bench's ``--grid`` shows "level from 3.5 d").
    level_half_lives_days: tuple[float, ...] = (14.0, 28.0, 56.0, 112.0)
    #: Memories (half-lives, days) of the weekday factor: habits change slowly.
    weekday_half_lives_days: tuple[float, ...] = (56.0, 182.0)
    #: Pseudo-weeks of "this weekday is like any other" each weekday factor is shrunk with
    #: (besides the candidate without weekday factors).
    weekday_prior_weeks: tuple[float, ...] = (1.0, 4.0)
    #: Pseudo-starts of "this weekday's start time is like any other's" each weekday's
    #: start-time density is shrunk with, besides the all-days density; empty = start
    #: times do not depend on the weekday (the default, see the module docstring; the
    #: bench's ``--grid`` shows ``(1.0, 4.0)``).
    time_weekday_prior_starts: tuple[float, ...] = ()
    #: Memories (half-lives, days) of the time of day of the first start.
    time_half_lives_days: tuple[float, ...] = (14.0, 56.0, 224.0)
    #: Spreads (Gaussian sigma, minutes) of start times around a usual time.
    bandwidths_minutes: tuple[float, ...] = (10.0, 20.0, 40.0, 80.0)
    #: Per day, how much a candidate's older log-score counts (dynamic model averaging).
    forgetting_per_day: float = 0.99
    #: Server-local hour at which one evening ends and the next begins.
    evening_starts_hour: int = 6
    #: How far ahead to look for the next session.
    horizon_days: int = 14
    #: Sessions older than this are ignored.
    lookback_days: int = 365
    #: Resolution of the search grid (and of the predicted start).
    step_minutes: int = 5
    #: The forecast maximises the chance of being within this of the real start.
    tolerance_minutes: int = 60


DEFAULT_PARAMS = ForecastParams()

#: Predicted probabilities are kept inside [_P_MIN, _P_MAX]: a log-score never sees a
#: certainty, and "surely tonight" never blocks every later evening.
_P_MIN = 1e-3
_P_MAX = 0.99
#: Weight (in first starts) of a flat "any time of day" prior in the time-of-day density.
_FLAT_PRIOR = 1.0


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


def evening_of(t: datetime, params: ForecastParams = DEFAULT_PARAMS) -> date:
    """The evening a server-local instant belongs to: 00:30 on Wednesday is Tuesday's."""
    return (t - timedelta(hours=params.evening_starts_hour)).date()


def _minute_of_evening(t: datetime, params: ForecastParams) -> float:
    shifted = t - timedelta(hours=params.evening_starts_hour)
    return shifted.hour * 60 + shifted.minute + shifted.second / 60.0


def _softmax(scores: np.ndarray) -> np.ndarray:
    weights = np.exp(scores - scores.max())
    return weights / weights.sum()


def _structure_prior(variants: int) -> np.ndarray:
    """Log prior weights of "no weekday effect" (first) and ``variants`` ways of having
    one: even odds between the two structures, then even among the variants, so that
    offering more variants of the weekday effect does not make it more likely a priori."""
    if variants == 0:
        return np.zeros(1)
    return np.log(np.concatenate(([0.5], np.full(variants, 0.5 / variants))))


# --------------------------------------------------------------------------- evenings


def _decayed_sums(values: np.ndarray, decay: float, lag: int = 1) -> np.ndarray:
    """``out[i] = sum over j < i with (i - j) % lag == 0 of decay**(i - j) * values[j]``,
    for i = 0..n (``out[n]`` is the evening after the last one). A convolution: exact,
    and no state carried through a loop."""
    n = len(values)
    steps = np.arange(1, n + 1)
    kernel = np.where(steps % lag == 0, decay ** steps.astype(float), 0.0)
    out = np.zeros(n + 1)
    out[1:] = np.convolve(values, kernel)[:n]
    return out


@dataclass(frozen=True)
class _Evenings:
    """What the evening model predicts for the evenings after the observed ones."""

    #: Probability of a session on an evening of each weekday (Monday first).
    by_weekday: np.ndarray
    #: Model weights of the level memories (summed over the weekday candidates).
    level_weights: np.ndarray


def _evening_model(played: np.ndarray, weekday: np.ndarray, params: ForecastParams) -> _Evenings:
    """Probability of a session per weekday for the next evenings.

    ``played[i]`` is 1 when the server had a session on observed evening ``i`` (the first
    one, a played evening, starts the history), ``weekday[i]`` its weekday. Candidates:
    each level memory times (no weekday factor | each weekday memory x shrinkage); each is
    scored on every observed evening after the first from the evenings before it.
    """
    n = len(played)
    ones = np.ones(n)
    levels = []
    for half_life in params.level_half_lives_days:
        decay = 0.5 ** (1.0 / half_life)
        hits, seen = _decayed_sums(played, decay), _decayed_sums(ones, decay)
        levels.append((hits + 0.5) / (seen + 1.0))  # Jeffreys prior: 1/2 with no data
    level = np.array(levels)  # (L, n + 1)

    # Weekday factors for each observed evening (index i, from the evenings before it)
    # and for each weekday of the evenings ahead (decayed to the first evening ahead).
    ratios = [np.ones(n + 1)]
    ahead_ratios = [np.ones(7)]
    ahead_days = np.arange(n, n + 7)
    ahead_weekday = (weekday[0] + np.arange(n, n + 7)) % 7 if n else np.arange(7)
    for half_life in params.weekday_half_lives_days:
        decay = 0.5 ** (1.0 / half_life)
        overall = (_decayed_sums(played, decay) + 0.5) / (_decayed_sums(ones, decay) + 1.0)
        same_hits = _decayed_sums(played, decay, lag=7)
        same_seen = _decayed_sums(ones, decay, lag=7)
        # Ahead: same-weekday evenings are those 7, 14, … evenings before each day ahead.
        ahead_hits = np.zeros(7)
        ahead_seen = np.zeros(7)
        for k, day in enumerate(ahead_days):
            idx = np.arange(day - 7, -1, -7)
            idx = idx[idx < n]
            w = decay ** (n - idx).astype(float)
            ahead_hits[k], ahead_seen[k] = float((w * played[idx]).sum()), float(w.sum())
        for prior in params.weekday_prior_weeks:
            ratios.append(((same_hits + prior * overall) / (same_seen + prior)) / overall)
            by_day = ((ahead_hits + prior * overall[n]) / (ahead_seen + prior)) / overall[n]
            ordered = np.empty(7)
            ordered[ahead_weekday] = by_day
            ahead_ratios.append(ordered)
    ratio = np.array(ratios)  # (C, n + 1)

    q = np.clip(level[:, None, :] * ratio[None, :, :], _P_MIN, _P_MAX)  # (L, C, n + 1)
    if n > 1:
        observed = played[1:]
        logp = np.where(observed > 0, np.log(q[:, :, 1:n]), np.log1p(-q[:, :, 1:n]))
        age = (n - 1 - np.arange(1, n)).astype(float)
        scores = (logp * params.forgetting_per_day**age).sum(axis=2)
    else:
        scores = np.zeros(q.shape[:2])
    variants = len(params.weekday_half_lives_days) * len(params.weekday_prior_weeks)
    weights = _softmax(scores + _structure_prior(variants)[None, :])
    ahead = np.clip(level[:, None, n, None] * np.array(ahead_ratios)[None, :, :], _P_MIN, _P_MAX)
    by_weekday = (weights[:, :, None] * ahead).sum(axis=(0, 1))
    return _Evenings(by_weekday=by_weekday, level_weights=weights.sum(axis=1))


# --------------------------------------------------------------------------- time of day


def _circular_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.abs(a[:, None] - b[None, :]) % 1440.0
    return np.minimum(d, 1440.0 - d)


def _time_of_day(
    minutes: np.ndarray,
    weekdays: np.ndarray,
    ages_days: np.ndarray,
    bins: np.ndarray,
    params: ForecastParams,
) -> np.ndarray:
    """Density (per minute) of the first start of an evening, per weekday (rows, Monday
    first) at each of ``bins`` (minutes after the evening starts), from past first starts
    at ``minutes`` on evenings of ``weekdays`` that happened ``ages_days`` before the
    asking time (oldest first).

    Candidates: each memory x bandwidth, a weighted kernel density plus a flat prior of
    :data:`_FLAT_PRIOR` first starts, either the same for every weekday or per weekday
    (shrunk towards the all-days density by ``time_weekday_prior_starts``); each
    is scored on every past first start from the ones before it.
    """
    n = len(minutes)
    between = _circular_distance(minutes, minutes)  # (n, n)
    earlier = np.tril(np.ones((n, n), dtype=bool), -1)  # j before i
    same_day = weekdays[:, None] == weekdays[None, :]
    gap = np.clip(ages_days[None, :] - ages_days[:, None], 0.0, None)  # age of j when i came
    at_bins = _circular_distance(bins, minutes)  # (bins, n)
    on_day = weekdays[None, :] == np.arange(7)[:, None]  # (7, n)
    forget = params.forgetting_per_day**ages_days
    flat = _FLAT_PRIOR / 1440.0
    scores: list[float] = []
    densities: list[np.ndarray] = []
    for half_life in params.time_half_lives_days:
        past_weight = np.where(earlier, 0.5 ** (gap / half_life), 0.0)
        past_same = np.where(same_day, past_weight, 0.0)
        now_weight = 0.5 ** (ages_days / half_life)
        for sigma in params.bandwidths_minutes:
            norm = 1.0 / (sigma * math.sqrt(2.0 * math.pi))
            kernel = norm * np.exp(-0.5 * (between / sigma) ** 2)
            pooled = ((past_weight * kernel).sum(axis=1) + flat) / (
                past_weight.sum(axis=1) + _FLAT_PRIOR
            )
            kernel_bins = norm * np.exp(-0.5 * (at_bins / sigma) ** 2)  # (bins, n)
            pooled_bins = ((kernel_bins * now_weight).sum(axis=1) + flat) / (
                now_weight.sum() + _FLAT_PRIOR
            )
            scores.append(float((np.log(pooled[1:]) * forget[1:]).sum()))
            densities.append(np.tile(pooled_bins, (7, 1)))
            same_kernel = (past_same * kernel).sum(axis=1)
            same_weight = past_same.sum(axis=1)
            day_weight = on_day * now_weight  # (7, n)
            day_kernel = day_weight @ kernel_bins.T  # (7, bins)
            for shrink in params.time_weekday_prior_starts:
                dens = (same_kernel + shrink * pooled) / (same_weight + shrink)
                scores.append(float((np.log(dens[1:]) * forget[1:]).sum()))
                densities.append(
                    (day_kernel + shrink * pooled_bins[None, :])
                    / (day_weight.sum(axis=1)[:, None] + shrink)
                )
    structure = _structure_prior(len(params.time_weekday_prior_starts))
    weights = _softmax(np.array(scores) + np.tile(structure, len(scores) // len(structure)))
    return np.tensordot(weights, np.array(densities), axes=1)


# --------------------------------------------------------------------------- forecast


@dataclass(frozen=True)
class _ServerModel:
    """One server's fitted model at the asking time."""

    #: The evening of the asking time, and whether this server already played in it.
    tonight: date
    played_tonight: bool
    #: Probability of a session on an evening of each weekday (Monday first).
    by_weekday: np.ndarray
    #: Start-time mass of each weekday's evening per grid bin (rows sum to 1), and its
    #: running sum.
    masses: np.ndarray
    cums: np.ndarray
    #: Start-time mass of any session (not only the first of an evening), all weekdays
    #: alike, per grid bin, as a running sum: when a second session may start.
    any_cum: np.ndarray
    #: Probability of another session per unit of that mass still ahead after one.
    again: float
    #: The server is busy until then (60 minutes after its last round).
    free_from: datetime


def _fit_server(
    mine: list[PastSession], origin: date, at: datetime, params: ForecastParams
) -> _ServerModel:
    """Fit the three parts of the model (see the module docstring) for one server."""
    step = params.step_minutes
    day_bins = 1440 // step
    today = evening_of(at, params)
    firsts: dict[date, PastSession] = {}
    for s in mine:
        firsts.setdefault(evening_of(s.start, params), s)
    played_today = today in firsts

    # Did the server play on each evening from the origin up to the last complete one
    # (tonight too, once it has a session: tonight's "yes" is then known)?
    last = today if played_today else today - timedelta(days=1)
    count = max((last - origin).days + 1, 0)
    days = [origin + timedelta(days=i) for i in range(count)]
    played = np.array([d in firsts for d in days], dtype=float)
    weekday = np.array([d.weekday() for d in days], dtype=int)
    evenings = _evening_model(played, weekday, params)

    # Time of day of the first start of an evening.
    ordered = sorted(firsts.items(), key=lambda item: item[1].start)
    minutes = np.array([_minute_of_evening(s.start, params) for _, s in ordered])
    weekdays = np.array([evening.weekday() for evening, _ in ordered], dtype=int)
    ages = np.array([(at - s.start).total_seconds() / 86400.0 for _, s in ordered])
    centres = np.arange(day_bins) * step + step / 2.0
    masses = _time_of_day(minutes, weekdays, ages, centres, params) * step
    masses /= masses.sum(axis=1, keepdims=True)
    cums = np.cumsum(masses, axis=1)

    # Second sessions: after each finished session, the start-time mass (of any session)
    # still ahead that evening once the server is free is its exposure; a success when
    # another session of the same server started that evening. Weighted like the
    # activity level.
    all_minutes = np.array([_minute_of_evening(s.start, params) for s in mine])
    all_ages = np.array([(at - s.start).total_seconds() / 86400.0 for s in mine])
    pooled = replace(params, time_weekday_prior_starts=())
    any_mass = _time_of_day(all_minutes, np.zeros(len(mine), dtype=int), all_ages, centres, pooled)
    any_cum = np.cumsum(any_mass[0] * step / (any_mass[0] * step).sum())
    later = np.zeros(len(params.level_half_lives_days))
    exposure = np.zeros_like(later)
    half_lives = np.array(params.level_half_lives_days)
    for i, s in enumerate(mine):
        evening = evening_of(s.start, params)
        nxt = mine[i + 1] if i + 1 < len(mine) else None
        if nxt is None and evening == today:
            continue  # tonight is not over: we don't know yet
        free = s.end + SESSION_GAP
        if evening_of(free, params) != evening:
            continue
        weight = 0.5 ** ((at - s.start).total_seconds() / 86400.0 / half_lives)
        exposure += weight * (1.0 - any_cum[_bin_of(free, params)])
        if nxt is not None and evening_of(nxt.start, params) == evening:
            later += weight
    again = np.clip((later + 0.5) / (exposure + 1.0), _P_MIN, _P_MAX) @ evenings.level_weights
    return _ServerModel(
        tonight=today,
        played_tonight=played_today,
        by_weekday=evenings.by_weekday,
        masses=masses,
        cums=cums,
        any_cum=any_cum,
        again=float(again),
        free_from=max(s.end for s in mine) + SESSION_GAP,
    )


def _bin_of(t: datetime, params: ForecastParams) -> int:
    """The grid bin of an evening that ``t`` falls in."""
    day_bins = 1440 // params.step_minutes
    return min(int(_minute_of_evening(t, params) // params.step_minutes), day_bins - 1)


def _log_survival(
    model: _ServerModel,
    first: datetime,
    grid_day: np.ndarray,
    grid_bin: np.ndarray,
    params: ForecastParams,
) -> np.ndarray:
    """log P(no new session of this server between the asking time and the end of each
    grid bin)."""
    step = params.step_minutes
    today = model.tonight
    n = len(grid_day)
    log_surv = np.zeros(n)
    tonight = grid_day == 0
    cum = model.cums[today.weekday()]
    if model.played_tonight:
        # Only a second session can still come tonight, once the server is free.
        free = model.free_from
        any_cum = model.any_cum
        free_mass = any_cum[_bin_of(free, params)] if evening_of(free, params) == today else 1.0
        ahead = np.clip(any_cum[grid_bin[tonight]] - free_mass, 0.0, None)
        log_surv[tonight] = np.log1p(-model.again * ahead)
    elif tonight.any():
        # No session yet tonight: what is left of tonight's chance, given that.
        q = model.by_weekday[today.weekday()]
        first_bin = grid_bin[tonight][0]
        before = cum[first_bin] - model.masses[today.weekday(), first_bin]
        log_surv[tonight] = np.log1p(-q * cum[grid_bin[tonight]]) - math.log1p(-q * before)
    carry = float(log_surv[tonight][-1]) if tonight.any() else 0.0
    for d in range(1, int(grid_day[-1]) + 1):
        here = grid_day == d
        weekday = (today + timedelta(days=d)).weekday()
        q = model.by_weekday[weekday]
        log_surv[here] = carry + np.log1p(-q * model.cums[weekday, grid_bin[here]])
        carry += math.log1p(-q)
    # No new session can start while the server is busy: no hazard before it is free.
    steps = np.diff(np.concatenate(([0.0], log_surv)))
    busy_minutes = (model.free_from - first).total_seconds() / 60.0
    steps[np.arange(n) * step < busy_minutes] = 0.0
    return np.cumsum(steps)


def _fit(
    sessions: Sequence[PastSession], at: datetime, params: ForecastParams
) -> list[_ServerModel]:
    """One fitted model per server that played in the look-back window before ``at``."""
    since = at - timedelta(days=params.lookback_days)
    past = sorted((s for s in sessions if since <= s.start < at), key=lambda s: s.start)
    if not past:
        return []
    # Every server's history starts at the community's first evening: a server that is
    # new in an old community starts with a low activity level, then catches up.
    origin = evening_of(past[0].start, params)
    return [
        _fit_server([s for s in past if s.server_id == server_id], origin, at, params)
        for server_id in sorted({s.server_id for s in past})
    ]


def _best_window(started: np.ndarray, params: ForecastParams) -> tuple[int, float]:
    """The grid bin whose ±tolerance window holds the most probability, and that much."""
    n = len(started) - 1
    half = params.tolerance_minutes // params.step_minutes
    lo = np.clip(np.arange(n) - half, 0, n)
    hi = np.clip(np.arange(n) + half + 1, 0, n)
    window = started[hi] - started[lo]
    best = int(np.argmax(window))
    return best, float(window[best])


def forecast_next(
    sessions: Sequence[PastSession],
    at: datetime,
    params: ForecastParams = DEFAULT_PARAMS,
) -> Forecast | None:
    """The most likely next session start after ``at`` (server-local naive), from
    ``sessions`` that started before ``at``. None when there is no usable history."""
    models = _fit(sessions, at, params)
    if not models:
        return None
    step = params.step_minutes
    day_bins = 1440 // step
    # Search grid: wall-clock aligned steps strictly after ``at``.
    first = at.replace(second=0, microsecond=0) - timedelta(minutes=at.minute % step)
    first += timedelta(minutes=step)
    n = params.horizon_days * day_bins
    offset = int(_minute_of_evening(first, params) // step)
    first_day = (evening_of(first, params) - evening_of(at, params)).days
    index = offset + np.arange(n)
    grid_day = first_day + index // day_bins  # evenings after tonight (0 = tonight)
    grid_bin = index % day_bins

    log_surv = np.zeros(n)
    for model in models:
        log_surv += _log_survival(model, first, grid_day, grid_bin, params)
    survival = np.exp(np.concatenate(([0.0], log_surv)))  # at the start of each bin
    started = 1.0 - survival  # P(the next session started before each bin)
    best, probability = _best_window(started, params)
    if probability <= 0.0:
        return None
    return Forecast(
        start=first + timedelta(minutes=best * step),
        hit_probability=probability,
        horizon_probability=float(started[-1]),
    )


@dataclass(frozen=True)
class Evening:
    """What the model expects of one evening (server-local)."""

    evening: date
    #: Probability that some server has a session that evening (from the asking time).
    probability: float
    #: The most likely start of its first session, given there is one; None when the
    #: evening is over.
    start: datetime | None


def evenings_ahead(
    sessions: Sequence[PastSession],
    at: datetime,
    days: int,
    params: ForecastParams = DEFAULT_PARAMS,
) -> list[Evening]:
    """The ``days`` evenings from the one of ``at`` on: each one's chance of a session and
    its most likely start (what an availability poll proposes). Empty without history.

    Unlike :func:`forecast_next` the evenings are taken one by one, as if nothing were
    known about the evenings before them: "if we play on Friday, when?".
    """
    models = _fit(sessions, at, params)
    if not models:
        return []
    step = params.step_minutes
    day_bins = 1440 // step
    tonight = evening_of(at, params)
    now_bin = _bin_of(at, params) + 1
    out = []
    for d in range(days):
        evening = tonight + timedelta(days=d)
        weekday = evening.weekday()
        # P(no session of any server by the end of each bin of that evening).
        survival = np.ones(day_bins)
        for model in models:
            survival *= 1.0 - model.by_weekday[weekday] * model.cums[weekday]
        started = 1.0 - np.concatenate(([1.0], survival))
        if d == 0:
            started[: now_bin + 1] = started[min(now_bin, day_bins)]  # the past is past
        probability = float(started[-1] - started[0])
        best, mass = _best_window(started, params)
        start = None
        if mass > 0.0:
            start = datetime.combine(evening, time(params.evening_starts_hour)) + timedelta(
                minutes=best * step
            )
        out.append(Evening(evening=evening, probability=probability, start=start))
    return out


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

"""Trends: is a player getting better? One stat per gaming session, and a fitted line.

Two parts of one feature:

* :func:`trend` - the query: the stat per gaming session the player played in a window.
* :func:`fit_trend` - the judgement: a least-squares line and a verdict. It is
  deliberately conservative: a trend is only reported when the data clearly support it
  (enough sessions, a statistically significant slope and a change large enough to
  matter). The fit is pure (numpy + stdlib ``math``, no database); there is no scipy
  dependency, so the Student-t distribution is computed from the regularized incomplete
  beta function.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

import numpy as np

from etbot.cache import cached_query
from etbot.errors import BadOption, NoData
from etbot.models import GamingSession, PlayerRound, Round
from etbot.periods import now_or_latest
from etbot.players import PlayerRef, get_player
from etbot.statdefs import as_float, counted, stat_def, stat_sql, sums

log = logging.getLogger(__name__)

Verdict = Literal["improving", "declining", "stable", "not enough data"]

#: Fewer points than this and we never claim a trend.
MIN_POINTS = 6
#: Two-sided significance level for the slope.
ALPHA = 0.05
#: Minimum fitted change across the x range, relative to |mean y|, to call it a trend.
MIN_RELATIVE_CHANGE = 0.05

_BETA_MAX_ITERATIONS = 300
_BETA_EPSILON = 3e-16
_TINY = 1e-300


@dataclass(frozen=True, slots=True)
class TrendFit:
    """Result of :func:`fit_trend`.

    Attributes:
        slope: Fitted change of y per unit of x (per day when x is "days since first").
        intercept: Fitted y at x == 0.
        n: Number of points used.
        r_squared: Fraction of the variance of y explained by the line (0.0 when y is
            constant or the line cannot be fitted).
        p_value: Two-sided p-value of the t-test "slope == 0" (1.0 when it cannot be
            computed, 0.0 for a perfect non-flat fit).
        relative_change: Fitted change across the x range divided by ``|mean(y)|``;
            ``None`` when the mean of y is 0.
        verdict: ``"improving"``, ``"declining"``, ``"stable"`` or ``"not enough data"``.
        higher_is_better: Whether a rising value counts as improving.
    """

    slope: float
    intercept: float
    n: int
    r_squared: float
    p_value: float
    relative_change: float | None
    verdict: Verdict
    higher_is_better: bool = True

    def predict(self, x: float) -> float:
        """Return the fitted value ``slope * x + intercept``."""
        return self.slope * x + self.intercept

    @property
    def has_trend(self) -> bool:
        """True when the verdict claims a direction (improving or declining)."""
        return self.verdict in ("improving", "declining")


def days_since(dates: Sequence[datetime]) -> list[float]:
    """Convert datetimes to fractional days since the earliest of them.

    This is the x axis used for trend fits of per-session values, so that the slope reads
    as "change per day". All datetimes must be either naive or aware (not mixed).
    """
    if not dates:
        return []
    origin = min(dates)
    return [(d - origin).total_seconds() / 86400.0 for d in dates]


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Evaluate the continued fraction of I_x(a, b) with the modified Lentz method."""
    qab = a + b
    qap = a + 1.0
    qam = a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < _TINY:
        d = _TINY
    d = 1.0 / d
    h = d
    for m in range(1, _BETA_MAX_ITERATIONS + 1):
        m2 = 2 * m
        # even step
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        if abs(d) < _TINY:
            d = _TINY
        c = 1.0 + aa / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        h *= d * c
        # odd step
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        if abs(d) < _TINY:
            d = _TINY
        c = 1.0 + aa / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _BETA_EPSILON:
            return h
    log.debug("incomplete beta continued fraction did not converge (a=%s b=%s x=%s)", a, b, x)
    return h


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """Return the regularized incomplete beta function I_x(a, b) for a, b > 0, 0 <= x <= 1."""
    if a <= 0 or b <= 0:
        raise ValueError("a and b must be positive")
    if not 0.0 <= x <= 1.0:
        raise ValueError("x must be within [0, 1]")
    if x == 0.0 or x == 1.0:
        return x
    log_front = a * math.log(x) + b * math.log1p(-x) - _log_beta(a, b)
    # The continued fraction converges fast for x < (a + 1) / (a + b + 2); otherwise use
    # the symmetry I_x(a, b) = 1 - I_{1-x}(b, a).
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def student_t_two_sided_p(t: float, df: float) -> float:
    """Return the two-sided p-value P(|T| >= |t|) for a Student-t variable with ``df`` dof."""
    if df <= 0:
        raise ValueError("degrees of freedom must be positive")
    if math.isnan(t):
        raise ValueError("t must not be NaN")
    if math.isinf(t):
        return 0.0
    return min(1.0, regularized_incomplete_beta(df / 2.0, 0.5, df / (df + t * t)))


def student_t_cdf(t: float, df: float) -> float:
    """Return the cumulative distribution function P(T <= t) of a Student-t distribution."""
    tail = student_t_two_sided_p(t, df) / 2.0
    return 1.0 - tail if t > 0 else tail


def _verdict(
    n: int, p_value: float, relative_change: float | None, slope: float, higher_is_better: bool
) -> Verdict:
    if n < MIN_POINTS:
        return "not enough data"
    if relative_change is None or p_value >= ALPHA or abs(relative_change) < MIN_RELATIVE_CHANGE:
        return "stable"
    rising = slope > 0
    return "improving" if rising == higher_is_better else "declining"


def fit_trend(
    xs: Sequence[float], ys: Sequence[float], *, higher_is_better: bool = True
) -> TrendFit:
    """Fit a least-squares line to ``(xs, ys)`` and judge whether there is a real trend.

    A direction is only claimed when ``n >= MIN_POINTS``, the two-sided p-value of the slope
    is below ``ALPHA`` and the fitted change across the x range is at least
    ``MIN_RELATIVE_CHANGE`` of ``|mean(y)|``. Otherwise the verdict is ``"stable"``, or
    ``"not enough data"`` for fewer than ``MIN_POINTS`` points.

    Args:
        xs: x values (e.g. days since the first session); any order.
        ys: y values, same length as ``xs``. All values must be finite.
        higher_is_better: False for stats where rising is bad (deaths, damage received).

    Raises:
        ValueError: on length mismatch or non-finite values.
    """
    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError("xs and ys must be one-dimensional")
    if x.shape != y.shape:
        raise ValueError(f"xs and ys differ in length ({x.size} != {y.size})")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("xs and ys must be finite (no NaN or infinity)")

    n = int(x.size)
    if n == 0:
        return TrendFit(0.0, 0.0, 0, 0.0, 1.0, None, "not enough data", higher_is_better)

    y_mean = float(y.mean())
    x_mean = float(x.mean())
    dx = x - x_mean
    dy = y - y_mean
    sxx = float(dx @ dx)
    syy = float(dy @ dy)

    y_constant = bool(np.ptp(y) == 0.0)
    if n < 2 or np.ptp(x) == 0.0 or sxx == 0.0:
        # A single point or all points at the same x: no slope can be estimated.
        relative_change = None if y_mean == 0 else 0.0
        verdict = _verdict(n, 1.0, relative_change, 0.0, higher_is_better)
        return TrendFit(0.0, y_mean, n, 0.0, 1.0, relative_change, verdict, higher_is_better)

    if y_constant:
        slope, intercept, sse, syy = 0.0, float(y[0]), 0.0, 0.0
    else:
        slope = float(dx @ dy) / sxx
        intercept = y_mean - slope * x_mean
        residuals = dy - slope * dx
        sse = float(residuals @ residuals)
    r_squared = 0.0 if syy == 0.0 else max(0.0, min(1.0, 1.0 - sse / syy))

    df = n - 2
    if syy == 0.0 or slope == 0.0 or df == 0:
        p_value = 1.0
    elif sse <= syy * 1e-28:
        p_value = 0.0  # numerically perfect non-flat fit
    else:
        std_err = math.sqrt(sse / df / sxx)
        p_value = student_t_two_sided_p(slope / std_err, df)

    x_range = float(x.max() - x.min())
    relative_change = None if y_mean == 0 else slope * x_range / abs(y_mean)
    verdict = _verdict(n, p_value, relative_change, slope, higher_is_better)
    log.debug(
        "trend fit n=%d slope=%.4g p=%.3g rel=%s verdict=%s",
        n,
        slope,
        p_value,
        relative_change,
        verdict,
    )
    return TrendFit(
        slope, intercept, n, r_squared, p_value, relative_change, verdict, higher_is_better
    )


# --------------------------------------------------------------------------- the query

#: Longest window of :func:`trend`, in days.
MAX_DAYS = 3660


@dataclass(frozen=True)
class TrendPoint:
    session_id: int
    started_at: datetime
    day: date
    value: float
    rounds: int


@dataclass(frozen=True)
class TrendData:
    player: PlayerRef
    stat: str
    label: str
    days: int
    points: list[TrendPoint]
    fit: TrendFit


@cached_query
def trend(player_id: int, stat: str, days: int, now: datetime | None = None) -> TrendData:
    """The stat per gaming session the player played in the last ``days`` days.

    ``now`` defaults to the newest round in the database (or the current time). ``fit``
    is :func:`fit_trend` over days since the first session shown.
    """
    definition = stat_def(stat)
    if not 1 <= days <= MAX_DAYS:
        raise BadOption(f"The number of days must be between 1 and {MAX_DAYS}.")
    ref = get_player(player_id)
    now = now_or_latest(now)
    totals = sums(PlayerRound)
    query = (
        PlayerRound.select(
            Round.session, GamingSession.started_at, totals["rounds"], stat_sql(stat, totals)
        )
        .join(Round, on=(PlayerRound.round == Round.id))
        .join(GamingSession, on=(Round.session == GamingSession.id))
        .where(
            (PlayerRound.player == player_id)
            & counted()
            & (PlayerRound.ended_at >= now - timedelta(days=days))
            & (PlayerRound.ended_at <= now)
        )
        .group_by(Round.session, GamingSession.started_at)
        .order_by(GamingSession.started_at)
    )
    points = [
        TrendPoint(session_id, started, started.date(), as_float(value), int(rounds))
        for session_id, started, rounds, value in query.tuples()
    ]
    if not points:
        raise NoData(
            "{player} played no sessions in the last {days} days.", player=ref.name, days=days
        )
    xs = days_since([p.started_at for p in points])
    fit = fit_trend(xs, [p.value for p in points], higher_is_better=definition.higher_is_better)
    return TrendData(ref, definition.key, definition.label, days, points, fit)

"""Tests for etbot.trend: least-squares fit, Student-t p-values and verdicts (pure), and the
per-session query on the real corpus (SQLite and PostgreSQL)."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from etbot.errors import BadOption, NoData
from etbot.leaderboard import leaderboard
from etbot.models import PlayerRound, Round
from etbot.trend import (
    MIN_POINTS,
    TrendFit,
    days_since,
    fit_trend,
    regularized_incomplete_beta,
    student_t_cdf,
    student_t_two_sided_p,
    trend,
)
from raw_truth import ALL, now_of_db


@pytest.mark.parametrize(
    ("t", "df", "expected"),
    [
        (2.228, 10, 0.05),  # classic table value t_{0.975, 10}
        (2.086, 20, 0.05),  # t_{0.975, 20}
        (3.169, 10, 0.01),  # t_{0.995, 10}
        (12.706, 1, 0.05),  # t_{0.975, 1}
        (1.0, 1, 0.5),  # Cauchy: P(|T| >= 1) = 1/2
        (0.0, 7, 1.0),
    ],
)
def test_two_sided_p_matches_t_tables(t: float, df: int, expected: float) -> None:
    assert student_t_two_sided_p(t, df) == pytest.approx(expected, abs=2e-4)
    assert student_t_two_sided_p(-t, df) == pytest.approx(expected, abs=2e-4)


@pytest.mark.parametrize("t", [-5.0, -1.3, -0.2, 0.0, 0.7, 2.5, 40.0])
def test_cdf_matches_closed_form_for_two_degrees_of_freedom(t: float) -> None:
    # For df = 2 the CDF is 1/2 + t / (2 * sqrt(2 + t^2)).
    expected = 0.5 + t / (2.0 * math.sqrt(2.0 + t * t))
    assert student_t_cdf(t, 2) == pytest.approx(expected, abs=1e-12)


def test_cdf_large_df_approaches_normal() -> None:
    assert student_t_cdf(1.959964, 1e7) == pytest.approx(0.975, abs=1e-5)


def test_incomplete_beta_known_values() -> None:
    assert regularized_incomplete_beta(1.0, 1.0, 0.3) == pytest.approx(0.3)
    # I_x(a, 1) = x^a
    assert regularized_incomplete_beta(3.0, 1.0, 0.6) == pytest.approx(0.6**3)
    # symmetry I_x(a, b) = 1 - I_{1-x}(b, a)
    left = regularized_incomplete_beta(2.5, 4.0, 0.35)
    assert left == pytest.approx(1.0 - regularized_incomplete_beta(4.0, 2.5, 0.65))
    assert regularized_incomplete_beta(2.0, 3.0, 0.0) == 0.0
    assert regularized_incomplete_beta(2.0, 3.0, 1.0) == 1.0
    with pytest.raises(ValueError, match="a and b must be positive"):
        regularized_incomplete_beta(0.0, 1.0, 0.5)
    with pytest.raises(ValueError, match=r"x must be within \[0, 1\]"):
        regularized_incomplete_beta(1.0, 1.0, 1.5)


def test_infinite_t_gives_zero_p() -> None:
    assert student_t_two_sided_p(math.inf, 5) == 0.0


def test_clear_upward_series_is_improving() -> None:
    xs = list(range(10))
    ys = [10.0 + 2.0 * x for x in xs]
    fit = fit_trend(xs, ys)
    assert isinstance(fit, TrendFit)
    assert fit.slope == pytest.approx(2.0)
    assert fit.intercept == pytest.approx(10.0)
    assert fit.n == 10
    assert fit.r_squared == pytest.approx(1.0)
    assert fit.p_value < 1e-6
    # change across the range 2 * 9 = 18, mean y = 19
    assert fit.relative_change == pytest.approx(18.0 / 19.0)
    assert fit.verdict == "improving"
    assert fit.has_trend
    assert fit.predict(3.0) == pytest.approx(16.0)


def test_rising_deaths_are_declining() -> None:
    xs = list(range(8))
    ys = [5.0 + x for x in xs]
    assert fit_trend(xs, ys, higher_is_better=False).verdict == "declining"
    assert fit_trend(xs, ys[::-1], higher_is_better=False).verdict == "improving"
    assert fit_trend(xs, ys[::-1]).verdict == "declining"


def test_noisy_upward_series_is_improving() -> None:
    rng = np.random.default_rng(7)
    xs = np.arange(30, dtype=float)
    ys = 50.0 + 1.5 * xs + rng.normal(0.0, 4.0, size=xs.size)
    fit = fit_trend(xs.tolist(), ys.tolist())
    assert fit.verdict == "improving"
    assert 0.0 < fit.p_value < 0.05
    # agrees with numpy's own least squares
    slope, intercept = np.polyfit(xs, ys, 1)
    assert fit.slope == pytest.approx(slope)
    assert fit.intercept == pytest.approx(intercept)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_pure_noise_is_stable(seed: int) -> None:
    rng = np.random.default_rng(seed)
    xs = np.arange(25, dtype=float)
    ys = 100.0 + rng.normal(0.0, 10.0, size=xs.size)
    fit = fit_trend(xs.tolist(), ys.tolist())
    assert fit.verdict == "stable", fit


def test_significant_but_tiny_change_is_stable() -> None:
    # perfectly linear, so p ~ 0, but only 1% change relative to the mean
    xs = list(range(10))
    ys = [1000.0 + (10.0 / 9.0) * x for x in xs]
    fit = fit_trend(xs, ys)
    assert fit.p_value < 0.001
    assert fit.relative_change is not None
    assert abs(fit.relative_change) < 0.05
    assert fit.verdict == "stable"


def test_short_series_is_not_enough_data() -> None:
    xs = list(range(MIN_POINTS - 1))
    ys = [float(x * 10) for x in xs]
    fit = fit_trend(xs, ys)
    assert fit.verdict == "not enough data"
    assert fit.slope == pytest.approx(10.0)
    assert fit_trend([], []).verdict == "not enough data"
    single = fit_trend([3.0], [7.0])
    assert single.verdict == "not enough data"
    assert single.intercept == 7.0
    assert single.slope == 0.0


def test_constant_y_is_stable() -> None:
    fit = fit_trend(list(range(8)), [0.1] * 8)
    assert fit.slope == 0.0
    assert fit.intercept == pytest.approx(0.1)
    assert fit.p_value == 1.0
    assert fit.r_squared == 0.0
    assert fit.relative_change == 0.0
    assert fit.verdict == "stable"


def test_constant_x_is_stable_without_slope() -> None:
    fit = fit_trend([4.0] * 7, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    assert fit.slope == 0.0
    assert fit.intercept == pytest.approx(4.0)
    assert fit.p_value == 1.0
    assert fit.verdict == "stable"


def test_zero_mean_has_no_relative_change() -> None:
    xs = list(range(8))
    ys = [x - 3.5 for x in xs]
    fit = fit_trend(xs, ys)
    assert fit.relative_change is None
    assert fit.verdict == "stable"


def test_invalid_input_raises() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        fit_trend([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="must be finite"):
        fit_trend([1.0, 2.0, 3.0], [1.0, float("nan"), 2.0])
    with pytest.raises(ValueError, match="must be finite"):
        fit_trend([1.0, float("inf"), 3.0], [1.0, 2.0, 2.0])


def test_fit_is_frozen() -> None:
    fit = fit_trend([0, 1, 2], [1, 2, 3])
    with pytest.raises(AttributeError):
        fit.slope = 3.0  # type: ignore[misc]


def test_days_since() -> None:
    start = datetime(2024, 5, 1, 20, 0, tzinfo=UTC)
    dates = [start, start + timedelta(hours=12), start + timedelta(days=3)]
    assert days_since(dates) == pytest.approx([0.0, 0.5, 3.0])
    assert days_since([]) == []


# --------------------------------------------------------------------------- the query


def test_trend_points_are_sessions_with_recomputed_values(full: object) -> None:
    pid = leaderboard("rounds", ALL, limit=1).rows[0].player_id
    now = now_of_db()
    data = trend(pid, "kd", 365, now=now)
    assert data.fit.n == len(data.points) >= 6
    starts = [p.started_at for p in data.points]
    assert starts == sorted(starts)
    since = now - timedelta(days=365)
    rows = list(
        PlayerRound.select(PlayerRound, Round.session)
        .join(Round)
        .where(
            (PlayerRound.player == pid)
            & (PlayerRound.orphan == False)  # noqa: E712
            & (PlayerRound.team != 3)
            & (PlayerRound.ended_at >= since)
        )
    )
    by_session: dict[int, list[PlayerRound]] = defaultdict(list)
    for row in rows:
        by_session[row.round.session_id].append(row)
    assert {p.session_id for p in data.points} == set(by_session)
    for point in data.points:
        mine = by_session[point.session_id]
        assert point.rounds == len(mine)
        kills = sum(r.kills for r in mine)
        deaths = sum(r.deaths for r in mine)
        assert point.value == pytest.approx(kills / max(deaths, 1))
    short = trend(pid, "dpm", 30, now=now)
    assert len(short.points) < len(data.points)
    assert trend(pid, "deaths", 365, now=now).fit.higher_is_better is False
    with pytest.raises(NoData):
        trend(pid, "kd", 30, now=datetime(2000, 1, 1))
    with pytest.raises(BadOption):
        trend(pid, "kd", 0)

"""Tests for etbot.charts: figure data and layout, not pixels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import plotly.graph_objects as go
import pytest

from etbot.charts import (
    BACKGROUND,
    HOURS,
    PALETTE,
    SURFACE,
    WEEKDAYS,
    RadarSeries,
    TeamBars,
    bar_figure,
    heatmap_figure,
    radar_figure,
    rating_history_figure,
    team_bars_figure,
    trend_figure,
)
from etbot.trend import days_since, fit_trend

AXES = ["Kills/min", "Accuracy", "Headshots", "Revives", "Objectives"]


def _layout_bg(fig: go.Figure) -> str:
    # paper background comes from the shared template
    return str(fig.layout.template.layout.paper_bgcolor)


# --------------------------------------------------------------------------- radar


@pytest.mark.parametrize("players", [2, 3, 4])
def test_radar_one_closed_polygon_per_player(players: int) -> None:
    series = [
        RadarSeries(f"player{i}", [float(10 * i + j) for j in range(len(AXES))])
        for i in range(players)
    ]
    fig = radar_figure(series, AXES, "Comparison")

    assert len(fig.data) == players
    for trace, s in zip(fig.data, series, strict=True):
        assert trace.type == "scatterpolar"
        assert trace.name == s.name
        assert trace.fill == "toself"
        assert list(trace.r) == [*s.values, s.values[0]]
        assert list(trace.theta) == [*AXES, AXES[0]]
        assert trace.r[0] == trace.r[-1]
        assert trace.theta[0] == trace.theta[-1]
    colours = [trace.line.color for trace in fig.data]
    assert colours == list(PALETTE[:players])
    assert tuple(fig.layout.polar.radialaxis.range) == (0, 100)
    assert fig.layout.title.text == "Comparison"
    assert _layout_bg(fig) == BACKGROUND


def test_radar_accepts_bounds_and_single_player() -> None:
    fig = radar_figure([RadarSeries("solo", [0, 100, 50])], ["a", "b", "c"], "t")
    assert list(fig.data[0].r) == [0, 100, 50, 0]


@pytest.mark.parametrize(
    ("series", "axes", "problem"),
    [
        ([], AXES, "1 to"),
        ([RadarSeries(f"p{i}", [50.0] * 5) for i in range(5)], AXES, "1 to"),
        ([RadarSeries("a", [50.0] * 4)], AXES, "4 values for 5 axes"),
        ([RadarSeries("a", [50.0, 101.0, 3.0])], ["x", "y", "z"], "outside 0..100"),
        ([RadarSeries("a", [50.0, -1.0, 3.0])], ["x", "y", "z"], "outside 0..100"),
        ([RadarSeries("a", [50.0, float("nan"), 3.0])], ["x", "y", "z"], "outside 0..100"),
        ([RadarSeries("a", [50.0, 3.0])], ["x", "y"], "at least 3 axes"),
        ([RadarSeries("a", [50.0, 3.0, 4.0])], ["x", "x", "z"], "unique"),
    ],
)
def test_radar_rejects_bad_input(series: list[RadarSeries], axes: list[str], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        radar_figure(series, axes, "t")


# --------------------------------------------------------------------------- heatmap


def _counts() -> list[list[int]]:
    return [[(day * 24 + hour) % 5 for hour in range(24)] for day in range(7)]


def test_heatmap_data_matches_input() -> None:
    counts = _counts()
    fig = heatmap_figure(counts, "Activity", "Europe/Berlin")

    assert len(fig.data) == 1
    heat = fig.data[0]
    assert heat.type == "heatmap"
    z = [list(row) for row in heat.z]
    assert len(z) == 7
    assert all(len(row) == 24 for row in z)
    assert z == counts
    assert list(heat.y) == list(WEEKDAYS)
    assert heat.y[0] == "Monday"
    assert heat.y[-1] == "Sunday"
    assert list(heat.x) == list(HOURS)
    assert heat.x[0] == "00"
    assert heat.x[-1] == "23"
    assert heat.colorbar.title.text == "Rounds"
    assert "Europe/Berlin" in fig.layout.xaxis.title.text
    assert fig.layout.yaxis.autorange == "reversed"  # Monday on top
    assert fig.layout.title.text == "Activity"


def test_heatmap_zero_cells_are_empty_and_one_is_visible() -> None:
    counts = _counts()
    counts[2][5] = 40
    fig = heatmap_figure(counts, "Activity", "UTC")
    heat = fig.data[0]
    assert heat.zmin == 0
    assert heat.zmax == 40
    scale = [(float(pos), colour) for pos, colour in heat.colorscale]
    # zero maps to the plot background colour...
    assert scale[0] == (0.0, SURFACE)
    empty_until = max(pos for pos, colour in scale if colour == SURFACE)
    # ...up to half a round, so a single round already gets a real colour
    assert 0.0 < empty_until < 1.0 / 40
    assert scale[-1][0] == 1.0
    assert scale[-1][1] != SURFACE


@pytest.mark.parametrize("peak", range(1, 301))
def test_heatmap_colorscale_valid_for_any_peak(peak: int) -> None:
    counts = [[0] * 24 for _ in range(7)]
    counts[6][23] = peak
    heat = heatmap_figure(counts, "t", "UTC").data[0]
    positions = [float(pos) for pos, _ in heat.colorscale]
    assert positions == sorted(positions)
    assert positions[0] == 0.0
    assert positions[-1] == 1.0


def test_heatmap_all_zero_is_valid() -> None:
    fig = heatmap_figure([[0] * 24 for _ in range(7)], "Nothing yet", "UTC")
    assert fig.data[0].zmax == 1
    assert any("No rounds" in a.text for a in fig.layout.annotations)


@pytest.mark.parametrize(
    "counts",
    [
        [[0] * 24 for _ in range(6)],
        [[0] * 23 for _ in range(7)],
        [[0] * 24 for _ in range(6)] + [[-1] + [0] * 23],
    ],
)
def test_heatmap_rejects_bad_shape(counts: list[list[int]]) -> None:
    with pytest.raises(ValueError, match="counts must"):
        heatmap_figure(counts, "t", "UTC")


# --------------------------------------------------------------------------- trend


def _sessions(n: int, slope: float = 0.5) -> tuple[list[datetime], list[float]]:
    start = datetime(2024, 1, 1, 20, 0, tzinfo=UTC)
    dates = [start + timedelta(days=3 * i, hours=i % 2) for i in range(n)]
    values = [10.0 + slope * x for x in days_since(dates)]
    return dates, values


def test_trend_with_fit_draws_fitted_line() -> None:
    dates, values = _sessions(10)
    fit = fit_trend(days_since(dates), values)
    assert fit.verdict == "improving"
    fig = trend_figure(dates, values, fit, "K/D over time", "K/D")

    assert len(fig.data) == 2
    points, line = fig.data
    assert points.type == "scatter"
    assert points.mode == "lines+markers"
    assert list(points.x) == dates
    assert list(points.y) == values
    assert line.type == "scatter"
    assert line.mode == "lines"
    assert list(line.x) == [dates[0], dates[-1]]
    last_x = (dates[-1] - dates[0]).total_seconds() / 86400
    assert line.y[0] == pytest.approx(fit.slope * 0.0 + fit.intercept)
    assert line.y[1] == pytest.approx(fit.slope * last_x + fit.intercept)
    assert "improving" in fig.layout.title.subtitle.text
    assert fig.layout.yaxis.title.text == "K/D"
    assert fig.layout.title.text == "K/D over time"


def test_trend_stable_still_draws_line_with_verdict() -> None:
    dates, values = _sessions(8, slope=0.0)
    fit = fit_trend(days_since(dates), values)
    assert fit.verdict == "stable"
    fig = trend_figure(dates, values, fit, "t", "Accuracy")
    assert len(fig.data) == 2
    assert "stable" in fig.layout.title.subtitle.text


def test_trend_without_usable_fit_has_only_points() -> None:
    dates, values = _sessions(4)
    short_fit = fit_trend(days_since(dates), values)
    assert short_fit.verdict == "not enough data"
    fig = trend_figure(dates, values, short_fit, "t", "Kills")
    assert len(fig.data) == 1
    assert "Not enough" in fig.layout.title.subtitle.text

    no_fit = trend_figure(dates, values, None, "t", "Kills")
    assert len(no_fit.data) == 1
    assert not no_fit.layout.title.subtitle.text


def test_trend_sorts_sessions_chronologically() -> None:
    dates, values = _sessions(6)
    fig = trend_figure(dates[::-1], values[::-1], None, "t", "Kills")
    assert list(fig.data[0].x) == dates
    assert list(fig.data[0].y) == values


def test_trend_empty_and_mismatched() -> None:
    fig = trend_figure([], [], None, "t", "Kills")
    assert len(fig.data) == 1
    assert any("No sessions" in a.text for a in fig.layout.annotations)
    with pytest.raises(ValueError, match="1 dates but 0 values"):
        trend_figure([datetime(2024, 1, 1)], [], None, "t", "Kills")


# --------------------------------------------------------------------------- bar


def test_bar_figure() -> None:
    fig = bar_figure(["a", "b", "c"], [3, 2.5, 1], "Top")
    assert len(fig.data) == 1
    bar = fig.data[0]
    assert bar.type == "bar"
    assert bar.orientation == "h"
    assert list(bar.y) == ["a", "b", "c"]
    assert list(bar.x) == [3.0, 2.5, 1.0]
    assert fig.layout.yaxis.autorange == "reversed"
    with pytest.raises(ValueError, match="1 labels but 2 values"):
        bar_figure(["a"], [1, 2], "Top")


# --------------------------------------------------------------------------- rating history


def test_rating_history_lines_and_band_in_time_order() -> None:
    start = datetime(2025, 3, 1, 21, 0)
    dates = [start + timedelta(days=d) for d in (0, 2, 5, 9)]
    skills = [1000.0, 1040.0, 1010.0, 1100.0]
    sds = [180.0, 150.0, 140.0, 120.0]
    ratings = [round(m - 2 * s) for m, s in zip(skills, sds, strict=True)]
    order = [2, 0, 3, 1]  # given out of order: plotted chronologically
    fig = rating_history_figure(
        [dates[i] for i in order],
        [ratings[i] for i in order],
        [skills[i] for i in order],
        [sds[i] for i in order],
        "Alice · rating",
        reference=1000.0,
    )
    top, bottom, skill, rating = fig.data
    for trace in fig.data:
        assert trace.type == "scatter"
        assert list(trace.x) == dates
    assert list(rating.y) == ratings
    assert rating.name == "Rating"
    assert list(skill.y) == skills
    assert list(top.y) == [m + s for m, s in zip(skills, sds, strict=True)]
    assert list(bottom.y) == [m - s for m, s in zip(skills, sds, strict=True)]
    assert bottom.fill == "tonexty"  # the band fills between the two
    assert fig.layout.title.text == "Alice · rating"
    [line] = fig.layout.shapes
    assert (line.y0, line.y1) == (1000.0, 1000.0)
    assert _layout_bg(fig) == BACKGROUND


def test_rating_history_empty_and_mismatched() -> None:
    fig = rating_history_figure([], [], [], [], "nobody")
    assert all(len(trace.x) == 0 for trace in fig.data)
    assert fig.layout.annotations[0].text == "No rated maps yet"
    with pytest.raises(ValueError, match="2 dates, 1 ratings"):
        rating_history_figure([datetime(2025, 1, 1)] * 2, [1.0], [1.0, 2.0], [1.0, 1.0], "x")


# --------------------------------------------------------------------------- team bars


def test_team_bars_one_trace_per_team_best_on_top() -> None:
    teams = [
        TeamBars("Team vid", ["vid", "endekk", "wjs"], [310.0, 402.5, 120.0]),
        TeamBars("Team olz", ["olz", "qmr"], [250.0, 260.0]),
    ]
    fig = team_bars_figure(teams, "supply: DPM per player", "DPM")
    assert [t.name for t in fig.data] == ["Team vid", "Team olz"]
    first, second = fig.data
    assert list(first.y) == ["endekk", "vid", "wjs"]
    assert list(first.x) == [402.5, 310.0, 120.0]
    assert list(second.y) == ["qmr", "olz"]
    assert [t.marker.color for t in fig.data] == list(PALETTE[:2])
    assert all(t.orientation == "h" for t in fig.data)
    assert list(first.text) == ["402", "310", "120"]  # whole numbers on the bars
    assert fig.layout.title.text == "supply: DPM per player"
    assert fig.layout.xaxis.title.text == "DPM"
    assert fig.layout.yaxis.autorange == "reversed"  # first bars on top


def test_team_bars_keep_two_players_with_one_name_apart() -> None:
    fig = team_bars_figure(
        [TeamBars("A", ["ghost"], [1.0]), TeamBars("B", ["ghost"], [2.0])], "t", "DPM"
    )
    labels = [y for trace in fig.data for y in trace.y]
    assert labels == ["ghost", "ghost (2)"]


@pytest.mark.parametrize(
    ("teams", "problem"),
    [
        ([TeamBars("A", ["a", "b"], [1.0])], "2 players but 1 values"),
        ([TeamBars("A", ["a"], [float("nan")])], "value nan"),
    ],
)
def test_team_bars_reject_bad_input(teams: list[TeamBars], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        team_bars_figure(teams, "t", "DPM")


def test_team_bars_without_players_say_so() -> None:
    fig = team_bars_figure([TeamBars("A", [], [])], "t", "DPM")
    assert fig.layout.annotations[0].text == "No players"

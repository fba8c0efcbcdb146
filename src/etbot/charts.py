"""Pure plotly figure builders for etbot's chart images.

Every function here only builds and returns a :class:`plotly.graph_objects.Figure`; nothing
is rendered or written. Rendering to PNG is done by :mod:`etbot.render`. All figures share a
dark template tuned for Discord's dark theme and one colour palette, so the same player gets
the same colour across charts when callers keep the order stable.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import plotly.graph_objects as go

from etbot.trend import TrendFit, days_since

log = logging.getLogger(__name__)

#: Background of Discord's dark theme chat area.
BACKGROUND = "#2b2d31"
#: Slightly lighter surface used for plot areas and empty heatmap cells.
SURFACE = "#313338"
GRID = "#4e5058"
TEXT = "#dbdee1"
MUTED_TEXT = "#949ba4"
FONT_FAMILY = "Noto Sans, DejaVu Sans, Liberation Sans, Arial, sans-serif"

#: Series colours, in order of use. Distinct on dark backgrounds and colour-blind friendly
#: enough for up to four players (blue / orange / green / pink are well separated).
PALETTE: tuple[str, ...] = (
    "#5865f2",  # blurple
    "#f0a23b",  # orange
    "#57f287",  # green
    "#eb459e",  # fuchsia
    "#3ba5dc",  # cyan
    "#fee75c",  # yellow
)
POSITIVE = "#57f287"
NEGATIVE = "#ed4245"
NEUTRAL = "#949ba4"

#: Sequential scale for counts: blurple through pink to warm yellow; even 1 round is visible.
HEAT_SCALE: tuple[str, ...] = ("#3346a8", "#5865f2", "#9b59d0", "#e0609a", "#ffb36b", "#fff1a8")

WEEKDAYS: tuple[str, ...] = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)
HOURS: tuple[str, ...] = tuple(f"{h:02d}" for h in range(24))

MAX_RADAR_SERIES = 4

_VERDICT_COLOURS = {"improving": POSITIVE, "declining": NEGATIVE, "stable": NEUTRAL}


@dataclass(frozen=True, slots=True)
class RadarSeries:
    """One player's polygon on a radar chart.

    Attributes:
        name: Legend label (player name, colour codes already stripped).
        values: One value per axis, each already normalised to 0..100 (community percentile).
    """

    name: str
    values: Sequence[float]


def _axis_style() -> dict[str, object]:
    return {
        "gridcolor": GRID,
        "linecolor": GRID,
        "zerolinecolor": GRID,
        "tickfont": {"color": MUTED_TEXT},
        "title": {"font": {"color": MUTED_TEXT}},
    }


def _build_template() -> go.layout.Template:
    template = go.layout.Template()
    template.layout = go.Layout(
        paper_bgcolor=BACKGROUND,
        plot_bgcolor=SURFACE,
        font={"family": FONT_FAMILY, "color": TEXT, "size": 14},
        title={"font": {"size": 22, "color": TEXT}, "x": 0.03, "xanchor": "left"},
        colorway=list(PALETTE),
        margin={"l": 70, "r": 40, "t": 90, "b": 60},
        xaxis=_axis_style(),
        yaxis=_axis_style(),
        legend={"bgcolor": "rgba(0,0,0,0)", "font": {"color": TEXT}},
        polar={
            "bgcolor": SURFACE,
            "radialaxis": {"gridcolor": GRID, "linecolor": GRID, "tickfont": {"color": MUTED_TEXT}},
            "angularaxis": {"gridcolor": GRID, "linecolor": GRID, "tickfont": {"color": TEXT}},
        },
        hoverlabel={"bgcolor": SURFACE, "font": {"color": TEXT}},
    )
    return template


#: Shared dark template; apply with ``fig.update_layout(template=DARK_TEMPLATE)``.
DARK_TEMPLATE = _build_template()


def _title(text: str, subtitle: str | None = None) -> dict[str, object]:
    title: dict[str, object] = {"text": text}
    if subtitle:
        title["subtitle"] = {"text": subtitle, "font": {"color": MUTED_TEXT, "size": 14}}
    return title


def _hex_to_rgba(colour: str, alpha: float) -> str:
    colour = colour.lstrip("#")
    r, g, b = (int(colour[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _no_data_annotation(fig: go.Figure, text: str) -> None:
    fig.add_annotation(
        text=text,
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
        showarrow=False,
        font={"size": 18, "color": MUTED_TEXT},
    )


def radar_figure(series: Sequence[RadarSeries], axes: Sequence[str], title: str) -> go.Figure:
    """Build a radar (spider) chart comparing players on percentile-normalised stats.

    Each series becomes one closed, semi-transparent filled polygon (the first point is
    repeated at the end). The radial axis is fixed to 0..100.

    Args:
        series: 1 to 4 players (comparisons are meant for 2-4), values already in 0..100.
        axes: Axis (stat) labels, at least 3, unique; one value per axis in every series.
        title: Chart title.

    Raises:
        ValueError: for a wrong number of series/axes, mismatched lengths or values that are
            not finite numbers in 0..100.
    """
    if len(axes) < 3:
        raise ValueError("a radar chart needs at least 3 axes")
    if len(set(axes)) != len(axes):
        raise ValueError("radar axes must be unique")
    if not 1 <= len(series) <= MAX_RADAR_SERIES:
        raise ValueError(f"radar charts take 1 to {MAX_RADAR_SERIES} series, got {len(series)}")
    for s in series:
        if len(s.values) != len(axes):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(axes)} axes")
        for v in s.values:
            if not (math.isfinite(v) and 0.0 <= v <= 100.0):
                raise ValueError(f"series {s.name!r} has value {v!r} outside 0..100")

    theta = [*axes, axes[0]]
    fig = go.Figure()
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        values = [float(v) for v in s.values]
        fig.add_trace(
            go.Scatterpolar(
                r=[*values, values[0]],
                theta=theta,
                name=s.name,
                mode="lines+markers",
                fill="toself",
                fillcolor=_hex_to_rgba(colour, 0.22),
                line={"color": colour, "width": 3},
                marker={"size": 7, "color": colour},
                hovertemplate="%{theta}: %{r:.0f}th percentile<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_layout(
        template=DARK_TEMPLATE,
        title=_title(title, "Percentile within the community (0 = lowest, 100 = highest)"),
        showlegend=True,
        legend={"orientation": "h", "x": 0.5, "xanchor": "center", "y": -0.08},
        margin={"l": 90, "r": 90, "t": 110, "b": 80},
        polar={
            "radialaxis": {
                "range": [0, 100],
                "tickvals": [25, 50, 75, 100],
                "angle": 90,
                "tickangle": 90,
                "showline": False,
                "tickfont": {"size": 11},
            },
            "angularaxis": {"direction": "clockwise", "rotation": 90, "tickfont": {"size": 15}},
        },
    )
    return fig


def heatmap_figure(counts: Sequence[Sequence[int]], title: str, timezone: str) -> go.Figure:
    """Build an activity heatmap: rounds played per weekday (rows) and hour (columns).

    Args:
        counts: 7 rows (Monday..Sunday) of 24 non-negative counts (hour 0..23), already
            converted to ``timezone``.
        title: Chart title.
        timezone: Name of the timezone the hours are in; shown in the x axis title.

    Zero cells are drawn in the plot background colour so they read as empty; any non-zero
    count gets a clearly visible colour. The colour bar is titled "Rounds".

    Raises:
        ValueError: if ``counts`` is not 7 x 24 or holds negative values.
    """
    if len(counts) != 7 or any(len(row) != 24 for row in counts):
        raise ValueError("counts must have 7 rows (Monday..Sunday) of 24 hours")
    z = [[int(c) for c in row] for row in counts]
    if any(c < 0 for row in z for c in row):
        raise ValueError("counts must be non-negative")

    peak = max(max(row) for row in z)
    total = sum(sum(row) for row in z)
    zmax = max(peak, 1)
    # Step at half a round: 0 maps to the empty colour, 1 already to a visible one.
    step = 0.5 / zmax
    colorscale: list[list[float | str]] = [[0.0, SURFACE], [step, SURFACE]]
    last = len(HEAT_SCALE) - 1
    for i, colour in enumerate(HEAT_SCALE):
        # plotly rejects positions above 1.0, so pin the end instead of trusting the float sum
        position = 1.0 if i == last else min(1.0, step + (1.0 - step) * i / last)
        colorscale.append([position, colour])

    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(HOURS),
            y=list(WEEKDAYS),
            zmin=0,
            zmax=zmax,
            colorscale=colorscale,
            xgap=2,
            ygap=2,
            colorbar={
                "title": {"text": "Rounds", "side": "top"},
                "outlinewidth": 0,
                "tickfont": {"color": MUTED_TEXT},
                "thickness": 16,
            },
            hovertemplate="%{y} %{x}:00 - %{z} rounds<extra></extra>",
        )
    )
    fig.update_layout(
        template=DARK_TEMPLATE,
        title=_title(title, f"{total} rounds · busiest slot {peak} rounds"),
        plot_bgcolor=BACKGROUND,
        margin={"l": 110, "r": 40, "t": 100, "b": 70},
        xaxis={
            "title": {"text": f"Hour of day ({timezone})"},
            "type": "category",
            "showgrid": False,
            "tickangle": 0,
        },
        yaxis={"type": "category", "autorange": "reversed", "showgrid": False},
    )
    if total == 0:
        _no_data_annotation(fig, "No rounds recorded yet")
    return fig


def _verdict_text(fit: TrendFit) -> str:
    parts: list[str] = []
    if fit.relative_change is not None:
        parts.append(f"{fit.relative_change:+.0%} over the period")
    parts.append("p < 0.001" if fit.p_value < 0.001 else f"p = {fit.p_value:.3f}")
    parts.append(f"{fit.n} sessions")
    return f"Trend: {fit.verdict} ({', '.join(parts)})"


def trend_figure(
    dates: Sequence[datetime],
    values: Sequence[float],
    fit: TrendFit | None,
    title: str,
    stat_label: str,
) -> go.Figure:
    """Build a per-session line chart of one stat with its fitted trend line.

    Args:
        dates: Session dates (any order; they are plotted chronologically).
        values: One value per session.
        fit: The fit of ``values`` against :func:`etbot.trend.days_since` of ``dates``
            (x = days since the earliest date). The fitted line is drawn only when the
            fit's verdict is not ``"not enough data"``; the verdict goes in the subtitle.
        title: Chart title.
        stat_label: y axis title (e.g. "K/D ratio").

    Raises:
        ValueError: if ``dates`` and ``values`` differ in length.
    """
    if len(dates) != len(values):
        raise ValueError(f"{len(dates)} dates but {len(values)} values")
    pairs = sorted(zip(dates, values, strict=True), key=lambda p: p[0])
    xs = [d for d, _ in pairs]
    ys = [float(v) for _, v in pairs]

    fig = go.Figure(
        go.Scatter(
            x=xs,
            y=ys,
            name=stat_label,
            mode="lines+markers",
            line={"color": PALETTE[0], "width": 2},
            marker={"size": 8, "color": PALETTE[0], "line": {"color": BACKGROUND, "width": 1}},
            hovertemplate="%{x|%Y-%m-%d}: %{y}<extra></extra>",
        )
    )

    subtitle: str | None = None
    if fit is None:
        subtitle = None
    elif fit.verdict == "not enough data":
        subtitle = f"Not enough sessions for a trend yet ({fit.n})"
    else:
        subtitle = _verdict_text(fit)
        offsets = days_since(xs)
        x0, x1 = min(offsets), max(offsets)
        start = min(xs)
        end = max(xs)
        colour = _VERDICT_COLOURS.get(fit.verdict, NEUTRAL)
        fig.add_trace(
            go.Scatter(
                x=[start, end],
                y=[fit.predict(x0), fit.predict(x1)],
                name=f"Trend ({fit.verdict})",
                mode="lines",
                line={"color": colour, "width": 3, "dash": "dash"},
                hoverinfo="skip",
            )
        )

    fig.update_layout(
        template=DARK_TEMPLATE,
        title=_title(title, subtitle),
        showlegend=False,
        xaxis={"title": {"text": "Session date"}, "type": "date"},
        yaxis={"title": {"text": stat_label}},
    )
    if not pairs:
        _no_data_annotation(fig, "No sessions yet")
    return fig


def bar_figure(labels: Sequence[str], values: Sequence[float], title: str) -> go.Figure:
    """Build a simple horizontal bar chart, first label on top, values printed on the bars.

    Raises:
        ValueError: if ``labels`` and ``values`` differ in length.
    """
    if len(labels) != len(values):
        raise ValueError(f"{len(labels)} labels but {len(values)} values")
    fig = go.Figure(
        go.Bar(
            x=[float(v) for v in values],
            y=list(labels),
            orientation="h",
            marker={"color": PALETTE[0]},
            text=[f"{v:g}" for v in values],
            textposition="auto",
            hovertemplate="%{y}: %{x}<extra></extra>",
        )
    )
    fig.update_layout(
        template=DARK_TEMPLATE,
        title=_title(title),
        showlegend=False,
        yaxis={"autorange": "reversed", "type": "category"},
        xaxis={"rangemode": "tozero"},
    )
    return fig


@dataclass(frozen=True, slots=True)
class TeamBars:
    """One team's bars on :func:`team_bars_figure`: player names and their values."""

    team: str
    players: Sequence[str]
    values: Sequence[float]


def team_bars_figure(teams: Sequence[TeamBars], title: str, value_label: str) -> go.Figure:
    """Build a horizontal bar chart of one value per player, one colour per team.

    Each team is one trace (legend entry) in its palette colour, its players sorted by
    value (best on top), the first team above the second. A name used on both teams is
    made unique with a suffix, so the two players keep separate bars.

    Raises:
        ValueError: if a team's names and values differ in length, or a value is not a
            finite number.
    """
    seen: dict[str, int] = {}
    fig = go.Figure()
    for index, team in enumerate(teams):
        if len(team.players) != len(team.values):
            raise ValueError(
                f"team {team.team!r}: {len(team.players)} players but {len(team.values)} values"
            )
        pairs = sorted(
            zip(team.players, (float(v) for v in team.values), strict=True),
            key=lambda pair: (-pair[1], pair[0].casefold()),
        )
        labels = []
        for name, value in pairs:
            if not math.isfinite(value):
                raise ValueError(f"team {team.team!r}: value {value!r} for {name!r}")
            count = seen.get(name, 0) + 1
            seen[name] = count
            labels.append(name if count == 1 else f"{name} ({count})")
        colour = PALETTE[index % len(PALETTE)]
        fig.add_trace(
            go.Bar(
                x=[v for _, v in pairs],
                y=labels,
                orientation="h",
                name=team.team,
                marker={"color": colour},
                text=[f"{v:.0f}" for _, v in pairs],
                textposition="auto",
                hovertemplate=f"%{{y}}: %{{x:.0f}} {value_label}<extra>%{{fullData.name}}</extra>",
            )
        )
    fig.update_layout(
        template=DARK_TEMPLATE,
        title=_title(title, f"{value_label} per player"),
        barmode="relative",
        showlegend=True,
        legend={"orientation": "h", "x": 0.5, "xanchor": "center", "y": -0.12},
        yaxis={"autorange": "reversed", "type": "category"},
        xaxis={"rangemode": "tozero", "title": {"text": value_label}},
    )
    if not any(team.players for team in teams):
        _no_data_annotation(fig, "No players")
    return fig


def rating_history_figure(
    dates: Sequence[datetime],
    ratings: Sequence[float],
    skills: Sequence[float],
    uncertainties: Sequence[float],
    title: str,
    *,
    reference: float | None = None,
) -> go.Figure:
    """Build a player's rating over time: the shown (conservative) rating as a line, the
    skill estimate behind it as a dashed line inside a ±1 sd band.

    Args:
        dates: When each rated map ended (any order; plotted chronologically).
        ratings: The shown rating after each map.
        skills: The skill estimate after each map (same scale).
        uncertainties: Its standard deviation (same scale).
        title: Chart title.
        reference: A horizontal line for the average player (e.g. 1000), if given.

    Traces, in order: band top (skill + sd), band bottom (skill - sd, filled up to the
    top), skill, rating.

    Raises:
        ValueError: if the sequences differ in length.
    """
    lengths = {len(dates), len(ratings), len(skills), len(uncertainties)}
    if len(lengths) != 1:
        raise ValueError(
            f"{len(dates)} dates, {len(ratings)} ratings, {len(skills)} skills, "
            f"{len(uncertainties)} uncertainties"
        )
    rows = sorted(zip(dates, ratings, skills, uncertainties, strict=True), key=lambda r: r[0])
    xs = [r[0] for r in rows]
    shown = [float(r[1]) for r in rows]
    mean = [float(r[2]) for r in rows]
    sd = [float(r[3]) for r in rows]
    band = _hex_to_rgba(PALETTE[1], 0.18)
    fig = go.Figure(
        [
            go.Scatter(
                x=xs,
                y=[m + s for m, s in zip(mean, sd, strict=True)],
                name="Skill + 1 sd",
                mode="lines",
                line={"width": 0, "color": band},
                hoverinfo="skip",
                showlegend=False,
            ),
            go.Scatter(
                x=xs,
                y=[m - s for m, s in zip(mean, sd, strict=True)],
                name="Skill ± 1 sd",
                mode="lines",
                line={"width": 0, "color": band},
                fill="tonexty",
                fillcolor=band,
                hoverinfo="skip",
            ),
            go.Scatter(
                x=xs,
                y=mean,
                name="Skill estimate",
                mode="lines",
                line={"color": PALETTE[1], "width": 2, "dash": "dash"},
                hovertemplate="%{x|%Y-%m-%d}: skill %{y:.0f}<extra></extra>",
            ),
            go.Scatter(
                x=xs,
                y=shown,
                name="Rating",
                mode="lines+markers" if len(xs) <= 60 else "lines",
                line={"color": PALETTE[0], "width": 3},
                marker={"size": 6, "color": PALETTE[0]},
                hovertemplate="%{x|%Y-%m-%d}: rating %{y:.0f}<extra></extra>",
            ),
        ]
    )
    if reference is not None:
        fig.add_hline(
            y=reference,
            line={"color": MUTED_TEXT, "width": 1, "dash": "dot"},
            annotation_text="average player",
            annotation_font={"color": MUTED_TEXT},
        )
    fig.update_layout(
        template=DARK_TEMPLATE,
        title=_title(title, "Rating = skill − 2 sd; the band is the skill ± 1 sd"),
        showlegend=True,
        legend={"orientation": "h", "y": -0.12},
        xaxis={"title": {"text": "Map ended"}, "type": "date"},
        yaxis={"title": {"text": "Rating"}},
    )
    if not rows:
        _no_data_annotation(fig, "No rated maps yet")
    return fig

"""Benchmark etbot's chart rendering: cold start, first render and warm render latency.

For every chart type a fresh :class:`etbot.render.ChartRenderer` is started, so each row
reports its own browser cold start, the first render on the new browser and p50/p95 of the
following warm renders.

Usage::

    .venv/bin/python bench/render.py [--warm 20] [--browser /usr/bin/chromium] [--save DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from etbot.charts import RadarSeries, bar_figure, heatmap_figure, radar_figure, trend_figure
from etbot.render import ChartRenderer, find_browser, png_dimensions
from etbot.trend import days_since, fit_trend

log = logging.getLogger(__name__)


def make_radar(rng: np.random.Generator) -> go.Figure:
    """A 4-player radar over 8 stats."""
    axes = ["Kills/min", "Accuracy", "Headshots", "Revives", "Objectives", "Gibs", "XP", "K/D"]
    series = [
        RadarSeries(name, rng.uniform(5, 95, len(axes)).round(1).tolist())
        for name in ("alpha", "bravo", "charlie", "delta")
    ]
    return radar_figure(series, axes, "Player comparison")


def make_heatmap(rng: np.random.Generator) -> go.Figure:
    """A week of hourly round counts."""
    counts = (rng.poisson(3, (7, 24)) * (rng.uniform(size=(7, 24)) > 0.3)).tolist()
    return heatmap_figure(counts, "Server activity", "Europe/Berlin")


def make_trend(rng: np.random.Generator) -> go.Figure:
    """60 sessions of a noisy rising stat with its fit."""
    start = datetime(2024, 1, 1, 20, tzinfo=UTC)
    dates = [start + timedelta(days=int(d)) for d in np.sort(rng.choice(180, 60, replace=False))]
    xs = days_since(dates)
    values = [1.0 + 0.004 * x + float(rng.normal(0, 0.2)) for x in xs]
    return trend_figure(dates, values, fit_trend(xs, values), "K/D over time", "K/D")


def make_bar(rng: np.random.Generator) -> go.Figure:
    """Ten labelled bars."""
    labels = [f"player{i}" for i in range(10)]
    return bar_figure(labels, sorted(rng.integers(10, 300, 10).tolist(), reverse=True), "Top")


CHARTS: dict[str, Callable[[np.random.Generator], go.Figure]] = {
    "radar": make_radar,
    "heatmap": make_heatmap,
    "trend": make_trend,
    "bar": make_bar,
}


@dataclass
class Result:
    """Timings for one chart type, in seconds."""

    chart: str
    cold_start: float
    first_render: float
    warm: list[float]

    def row(self) -> str:
        """Format as a table row in milliseconds."""
        ms = sorted(w * 1000 for w in self.warm)
        p50 = statistics.median(ms)
        p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
        return (
            f"{self.chart:<8} {self.cold_start * 1000:>9.0f} {self.first_render * 1000:>9.0f} "
            f"{p50:>8.0f} {p95:>8.0f} {ms[0]:>8.0f} {ms[-1]:>8.0f}"
        )


async def bench_chart(
    name: str,
    browser: str | None,
    warm: int,
    width: int,
    height: int,
    save: Path | None,
    tabs: int = 2,
) -> Result:
    """Start a fresh renderer and time start, first render and ``warm`` warm renders."""
    build = CHARTS[name]
    rng = np.random.default_rng(42)
    renderer = ChartRenderer(browser_path=browser, tabs=tabs)
    try:
        started = time.perf_counter()
        await renderer.start()
        cold = time.perf_counter() - started

        started = time.perf_counter()
        png = await renderer.render_png(build(rng), width=width, height=height)
        first = time.perf_counter() - started
        assert png_dimensions(png) == (width, height)
        if save is not None:
            save.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 outside the timings
            (save / f"{name}.png").write_bytes(png)

        timings = []
        for _ in range(warm):
            fig = build(rng)  # a new figure each time, as in the bot; built outside the timer
            started = time.perf_counter()
            await renderer.render_png(fig, width=width, height=height)
            timings.append(time.perf_counter() - started)
        return Result(name, cold, first, timings)
    finally:
        await renderer.close()


async def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table; returns a process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=20, help="warm renders per chart type")
    parser.add_argument("--browser", default=None, help="browser executable (default: auto)")
    parser.add_argument("--tabs", type=int, default=2, help="ChartRenderer(tabs=...)")
    parser.add_argument("--width", type=int, default=900)
    parser.add_argument("--height", type=int, default=600)
    parser.add_argument("--charts", nargs="*", default=list(CHARTS), choices=list(CHARTS))
    parser.add_argument("--save", type=Path, default=None, help="write sample PNGs here")
    args = parser.parse_args(argv)

    browser = find_browser(args.browser)
    if browser is None:
        print("no Chromium/Chrome executable found", file=sys.stderr)
        return 1
    print(
        f"browser: {browser}  size: {args.width}x{args.height}  "
        f"warm renders: {args.warm}  tabs: {args.tabs}"
    )
    print(
        f"{'chart':<8} {'start ms':>9} {'first ms':>9} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'min ms':>8} {'max ms':>8}"
    )
    for name in args.charts:
        result = await bench_chart(
            name, browser, args.warm, args.width, args.height, args.save, args.tabs
        )
        print(result.row(), flush=True)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(asyncio.run(main()))

"""Tests for etbot.render: real PNG renders on a warm headless Chromium.

Tests that need a browser are skipped (with the reason) when no Chromium/Chrome is found.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import plotly.graph_objects as go
import pytest
import pytest_asyncio

from etbot.charts import RadarSeries, heatmap_figure, radar_figure, trend_figure
from etbot.render import BrowserNotFoundError, ChartRenderer, RenderError, find_browser
from etbot.trend import days_since, fit_trend

BROWSER = find_browser()
needs_browser = pytest.mark.skipif(
    BROWSER is None,
    reason="no Chromium/Chrome executable found (set ETBOT_BROWSER_PATH to enable)",
)
pytestmark = pytest.mark.asyncio(loop_scope="module")


def parse_png(data: bytes) -> tuple[int, int]:
    """Check PNG structure with the standard library and return (width, height)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "missing PNG signature"
    length, chunk_type = struct.unpack(">I4s", data[8:16])
    assert chunk_type == b"IHDR"
    assert length == 13
    ihdr = data[16 : 16 + length]
    (crc,) = struct.unpack(">I", data[16 + length : 20 + length])
    assert zlib.crc32(b"IHDR" + ihdr) == crc, "IHDR checksum mismatch"
    assert data[-12:] == b"\x00\x00\x00\x00IEND\xaeB`\x82", "PNG is truncated"
    width, height = struct.unpack(">II", ihdr[:8])
    return width, height


def radar() -> go.Figure:
    return radar_figure(
        [RadarSeries("alpha", [80, 20, 55, 70]), RadarSeries("bravo", [30, 90, 45, 10])],
        ["Kills", "Accuracy", "Revives", "Objectives"],
        "Comparison",
    )


def heatmap() -> go.Figure:
    counts = [[(d + h) % 4 for h in range(24)] for d in range(7)]
    return heatmap_figure(counts, "Activity", "UTC")


def trend() -> go.Figure:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    dates = [start + timedelta(days=2 * i) for i in range(12)]
    values = [1.0 + 0.05 * i + (0.1 if i % 2 else -0.1) for i in range(12)]
    return trend_figure(dates, values, fit_trend(days_since(dates), values), "K/D", "K/D")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def renderer() -> AsyncIterator[ChartRenderer]:
    if BROWSER is None:
        pytest.skip("no Chromium/Chrome executable found")
    async with ChartRenderer() as r:
        yield r


@needs_browser
async def test_render_produces_valid_png(renderer: ChartRenderer) -> None:
    assert renderer.available
    assert renderer.running
    data = await renderer.render_png(radar())
    assert parse_png(data) == (900, 600)


@needs_browser
@pytest.mark.parametrize(
    ("width", "height", "scale", "expected"),
    [(640, 480, 1, (640, 480)), (300, 200, 2, (600, 400)), (1200, 400, 1, (1200, 400))],
)
async def test_width_height_and_scale_are_honoured(
    renderer: ChartRenderer, width: int, height: int, scale: int, expected: tuple[int, int]
) -> None:
    data = await renderer.render_png(heatmap(), width=width, height=height, scale=scale)
    assert parse_png(data) == expected


@needs_browser
async def test_timeout_raises_and_renderer_recovers(renderer: ChartRenderer) -> None:
    await renderer.render_png(trend())  # make sure the browser is warm
    starts = renderer.browser_starts
    with pytest.raises(RenderError, match="timed out"):
        await renderer.render_png(trend(), timeout=0.001)
    data = await renderer.render_png(trend())
    assert parse_png(data) == (900, 600)
    assert renderer.browser_starts == starts + 1  # a fresh browser replaced the broken one


@needs_browser
@pytest.mark.parametrize("delay", [0.0, 0.01, 0.05])
async def test_cancelled_render_does_not_break_the_renderer(
    renderer: ChartRenderer, delay: float
) -> None:
    await renderer.render_png(radar())
    task = asyncio.create_task(renderer.render_png(radar()))
    await asyncio.sleep(delay)  # real: where the cancel lands in a real Chromium render
    if task.cancel():  # still rendering: the caller sees the cancellation
        with pytest.raises(asyncio.CancelledError):
            await task
    else:  # a warm render can finish within the delay on a fast machine
        assert parse_png(task.result()) == (900, 600)
    data = await asyncio.wait_for(renderer.render_png(radar()), 30)
    assert parse_png(data) == (900, 600)


@needs_browser
async def test_concurrent_renders_all_succeed(renderer: ChartRenderer) -> None:
    builders = [radar, heatmap, trend] * 3
    sizes = [(400 + 20 * i, 300 + 10 * i) for i in range(len(builders))]
    results = await asyncio.gather(
        *(
            renderer.render_png(build(), width=w, height=h, timeout=20)
            for build, (w, h) in zip(builders, sizes, strict=True)
        )
    )
    assert [parse_png(data) for data in results] == sizes


@needs_browser
async def test_renders_do_not_block_the_event_loop(renderer: ChartRenderer) -> None:
    """Other coroutines (the bot's gateway heartbeat, other commands) keep running while
    a chart renders. Speed itself is measured by bench/render.py, not asserted here."""
    await renderer.render_png(heatmap())
    ticks_during: list[int] = []
    ticks = 0
    stop = asyncio.Event()

    async def heartbeat() -> None:
        nonlocal ticks
        while not stop.is_set():
            await asyncio.sleep(0)
            ticks += 1

    beat = asyncio.create_task(heartbeat())
    for build in (radar, heatmap, trend):
        before = ticks
        data = await renderer.render_png(build())
        ticks_during.append(ticks - before)
        assert parse_png(data) == (900, 600)
    stop.set()
    await beat
    assert all(n > 0 for n in ticks_during), ticks_during


@needs_browser
async def test_non_figure_is_rejected(renderer: ChartRenderer) -> None:
    with pytest.raises(RenderError, match="not a plotly figure"):
        await renderer.render_png("nope")
    with pytest.raises(ValueError, match="must be positive"):
        await renderer.render_png(radar(), width=0)


@needs_browser
async def test_closed_renderer_raises_and_can_restart() -> None:
    r = ChartRenderer()
    data = await r.render_png(radar(), width=200, height=100)  # starts lazily
    assert parse_png(data) == (200, 100)
    await r.close()
    assert not r.running
    with pytest.raises(RenderError, match="closed"):
        await r.render_png(radar())
    await r.start()
    try:
        assert parse_png(await r.render_png(radar(), width=200, height=100)) == (200, 100)
    finally:
        await r.close()
        await r.close()  # idempotent


async def test_missing_browser_is_reported_early(tmp_path: object) -> None:
    r = ChartRenderer(browser_path="/nonexistent/chromium")
    assert not r.available
    assert r.browser_path is None
    with pytest.raises(BrowserNotFoundError, match="/nonexistent/chromium"):
        await r.start()
    with pytest.raises(RenderError, match="no Chromium"):
        await r.render_png(radar())
    await r.close()


async def test_browser_env_var_is_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETBOT_BROWSER_PATH", "/nonexistent/chrome")
    assert find_browser() is None
    assert not ChartRenderer().available


async def test_shutdown_bye_message_is_filtered_from_logs() -> None:
    from etbot.render import _WrapperByeFilter

    def record_for(doc: str) -> logging.LogRecord:
        try:
            try:
                json.loads(doc)
            except json.JSONDecodeError as decode_error:
                raise RuntimeError("JSONError") from decode_error
        except RuntimeError as exc:
            info = (type(exc), exc, exc.__traceback__)
        return logging.LogRecord(
            "choreographer.channels.pipe", logging.ERROR, __file__, 1, "JSONError", (), info
        )

    assert not _WrapperByeFilter().filter(record_for("{bye}\n"))
    assert _WrapperByeFilter().filter(record_for("{oops"))

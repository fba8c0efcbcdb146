"""/trend: chart (fake renderer), text fallback, validation and its window."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import time_machine

from commands.conftest import TINY_PNG, FakeRenderer
from commands.helpers import guid, ranked, run_deferred
from discordkit import (
    FOLLOWUP,
    ORIGINAL_EDIT,
    DiscordRecorder,
)
from discordkit import payloads as p
from etbot.commands.formatting import fmt_stat
from etbot.periods import latest_round_time
from etbot.statdefs import STATS
from etbot.trend import trend


async def test_trend_png_and_verdict(rec: DiscordRecorder, renderer: FakeRenderer) -> None:
    ref = ranked()[0]
    payload = p.slash_command(
        "trend", [p.option("player", guid(ref)), p.option("stat", "dpm"), p.option("days", 3650)]
    )
    edit = await run_deferred(rec, payload)
    data = trend(ref.id, "dpm", 3650)
    assert edit.attachments == [("trend.png", TINY_PNG)]
    [embed] = edit.embeds
    assert embed["title"] == f"{ref.name} · DPM trend"
    assert embed["image"]["url"] == "attachment://trend.png"
    assert f"{data.fit.n} sessions" in embed["description"]
    assert (data.fit.verdict in embed["description"]) or "Not enough sessions" in embed[
        "description"
    ]
    [fig] = renderer.figures
    assert list(fig.data[0].y) == [pt.value for pt in data.points]  # chronological


async def test_trend_text_fallback_without_renderer(
    rec: DiscordRecorder, renderer: FakeRenderer
) -> None:
    renderer.fail = True
    ref = ranked()[0]
    payload = p.slash_command(
        "trend", [p.option("player", guid(ref)), p.option("stat", "kd"), p.option("days", 3650)]
    )
    edit = await run_deferred(rec, payload)
    assert edit.attachments == []
    [embed] = edit.embeds
    [field] = [f for f in embed["fields"] if f["name"] == "Chart unavailable"]
    last = trend(ref.id, "kd", 3650).points[-1]
    assert f"{last.day:%Y-%m-%d}: {fmt_stat('kd', last.value)}" in field["value"]
    assert "image" not in embed


async def test_trend_days_are_validated(rec: DiscordRecorder) -> None:
    command = rec.bot.get_slash_command("trend")
    assert command is not None
    days = next(o for o in command.body.options if o.name == "days")
    assert (days.min_value, days.max_value) == (7, 3650)
    stat = next(o for o in command.body.options if o.name == "stat")
    assert {c.value for c in stat.choices} == set(STATS)


async def test_trend_window_ends_now_like_the_leaderboard_periods(rec: DiscordRecorder) -> None:
    """/trend days:N means the N days before now (server time), as /leaderboard period:30d
    does — not the N days before the newest round in the database."""
    ref = ranked()[0]
    latest = latest_round_time()
    assert latest is not None
    options = [p.option("player", guid(ref)), p.option("stat", "kd"), p.option("days", 3650)]
    # The corpus ended long ago: nothing in the last 30 days, said kindly.
    short = [*options[:2], p.option("days", 30)]
    payload = p.slash_command("trend", short)
    await rec.invoke_slash(payload, raise_errors=False)
    error = await rec.wait_for(lambda r: r.route == FOLLOWUP)  # after the defer
    assert error.ephemeral
    assert "played no sessions in the last 30 days" in str(error.json)
    # Back on the day of the player's last session, the same command finds sessions.
    player_last = max(pt.started_at for pt in trend(ref.id, "kd", 3650).points)
    back_then = player_last.replace(tzinfo=ZoneInfo("Europe/Berlin")) + timedelta(hours=6)
    rec.clear()
    with time_machine.travel(back_then, tick=False):
        await rec.invoke_slash(p.slash_command("trend", short))
    [edit] = rec.by_route(ORIGINAL_EDIT)
    assert "in the last 30 days" in edit.embeds[0]["description"]

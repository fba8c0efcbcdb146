"""/trend, /compare, /activity and /sessions: charts (fake renderer), fallbacks and validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from commands.conftest import TINY_PNG, FakeRenderer
from discordkit import FOLLOWUP, ORIGINAL_EDIT, DiscordRecorder
from discordkit import payloads as p
from etbot import stats

ALL = stats.parse_period("all", datetime(2030, 1, 1))


def ranked(stat: str = "rounds", n: int = 4) -> list[stats.PlayerRef]:
    rows = stats.leaderboard(stat, ALL, limit=n).rows
    return [stats.get_player(r.player_id) for r in rows]


def guid(ref: stats.PlayerRef) -> str:
    return f"guid:{ref.guid}"


async def _edit(rec: DiscordRecorder, payload: dict) -> object:
    await rec.invoke_slash(payload)
    [edit] = rec.by_route(ORIGINAL_EDIT)
    return edit


# ---------------------------------------------------------------------- /trend


async def test_trend_png_and_verdict(rec: DiscordRecorder, renderer: FakeRenderer) -> None:
    ref = ranked()[0]
    payload = p.slash_command(
        "trend", [p.option("player", guid(ref)), p.option("stat", "dpm"), p.option("days", 3650)]
    )
    edit = await _edit(rec, payload)
    data = stats.trend(ref.id, "dpm", 3650)
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
    edit = await _edit(rec, payload)
    assert edit.attachments == []
    [embed] = edit.embeds
    [field] = [f for f in embed["fields"] if f["name"] == "Chart unavailable"]
    last = stats.trend(ref.id, "kd", 3650).points[-1]
    assert f"{last.day:%Y-%m-%d}: {stats.STATS['kd'].fmt(last.value)}" in field["value"]
    assert "image" not in embed


async def test_trend_days_are_validated(rec: DiscordRecorder) -> None:
    command = rec.bot.get_slash_command("trend")
    assert command is not None
    days = next(o for o in command.body.options if o.name == "days")
    assert (days.min_value, days.max_value) == (7, 3650)
    stat = next(o for o in command.body.options if o.name == "stat")
    assert {c.value for c in stat.choices} == set(stats.STATS)


# ---------------------------------------------------------------------- /compare


async def test_compare_radar_and_table(rec: DiscordRecorder, renderer: FakeRenderer) -> None:
    a, b, c = ranked(n=3)
    payload = p.slash_command(
        "compare",
        [p.option("player1", guid(a)), p.option("player2", guid(b)), p.option("player3", guid(c))],
    )
    edit = await _edit(rec, payload)
    assert edit.attachments == [("compare.png", TINY_PNG)]
    [embed] = edit.embeds
    data = stats.compare([a.id, b.id, c.id], ALL)
    assert [f["name"] for f in embed["fields"]] == [a.name, b.name, c.name]
    first = data.players[0]
    assert f"Rounds: {first.rounds:,}" in embed["fields"][0]["value"]
    assert f"K/D: **{first.raw[0]:.2f}**" in embed["fields"][0]["value"]
    assert f"DPM: **{first.raw[1]:.1f}**" in embed["fields"][0]["value"]
    [fig] = renderer.figures
    assert [t.name for t in fig.data] == [a.name, b.name, c.name]
    assert list(fig.data[0].r)[:-1] == pytest.approx(first.percentiles)


async def test_compare_rejects_duplicates(rec: DiscordRecorder) -> None:
    a = ranked(n=1)[0]
    payload = p.slash_command(
        "compare", [p.option("player1", guid(a)), p.option("player2", a.name)]
    )
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for_response(payload)
    assert reply.ephemeral and "different players" in reply.embeds[0]["description"]


# ---------------------------------------------------------------------- /activity


async def test_activity_server_heatmap(rec: DiscordRecorder, renderer: FakeRenderer) -> None:
    payload = p.slash_command("activity", [p.option("weeks", 520)])
    edit = await _edit(rec, payload)
    counts = stats.activity(None, 520)
    assert edit.attachments == [("activity.png", TINY_PNG)]
    [embed] = edit.embeds
    assert embed["title"] == "Server · activity over 520 weeks"
    total = sum(map(sum, counts))
    assert embed["description"].startswith(f"{total:,} rounds · busiest (Europe/Berlin)")
    [fig] = renderer.figures
    assert [list(row) for row in fig.data[0].z] == counts
    assert "Europe/Berlin" in fig.layout.xaxis.title.text


async def test_activity_of_player(rec: DiscordRecorder) -> None:
    ref = ranked(n=1)[0]
    payload = p.slash_command("activity", [p.option("player", guid(ref)), p.option("weeks", 520)])
    edit = await _edit(rec, payload)
    total = sum(map(sum, stats.activity(ref.id, 520)))
    assert edit.embeds[0]["title"].startswith(ref.name)
    assert edit.embeds[0]["description"].startswith(f"{total:,} rounds")


# ---------------------------------------------------------------------- /sessions


async def test_sessions(rec: DiscordRecorder) -> None:
    edit = await _edit(rec, p.slash_command("sessions"))
    [embed] = edit.embeds
    recent = stats.recent_sessions(5)
    assert embed["title"] == "Recent sessions"
    names = [f["name"] for f in embed["fields"]]
    assert len(names) == len(recent) + 1 and names[-1] == "Weekly pattern"
    newest = recent[0]
    assert newest.server in names[0]
    assert "<t:" in embed["fields"][0]["value"]
    assert f"{newest.round_count} rounds" in embed["fields"][0]["value"]
    if newest.top_fragger:
        assert f"({newest.top_fragger_kills} kills)" in embed["fields"][0]["value"]


async def test_sessions_next_session_timestamp(
    rec: DiscordRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    nxt = datetime(2030, 5, 7, 19, 0, tzinfo=UTC)
    slot = stats.PatternSlot(weekday=1, hour=21, minute=0, weeks_seen=10)
    pattern = stats.WeeklyPattern([slot], 12, 30, nxt, "Europe/Berlin")
    monkeypatch.setattr(stats, "weekly_pattern", lambda tz, now: pattern)
    edit = await _edit(rec, p.slash_command("sessions"))
    value = edit.embeds[0]["fields"][-1]["value"]
    assert "Usually Tuesday 21:00 (Europe/Berlin)" in value
    ts = int(nxt.timestamp())
    assert f"<t:{ts}:R>" in value and f"<t:{ts}:F>" in value


async def test_sessions_without_data_is_friendly(
    rec: DiscordRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def nothing(limit: int) -> list[stats.SessionInfo]:
        raise stats.NoData("No gaming sessions recorded yet.")

    monkeypatch.setattr(stats, "recent_sessions", nothing)
    payload = p.slash_command("sessions")
    await rec.invoke_slash(payload, raise_errors=False)
    followup = await rec.wait_for(lambda r: r.method == "POST" and "webhooks" in (r.route or ""))
    assert followup.ephemeral
    assert followup.embeds[0]["description"] == "No gaming sessions recorded yet."
    # the empty public "thinking…" message was removed first
    assert any(r.method == "DELETE" for r in rec.for_interaction(payload))


async def test_chart_commands_have_a_cooldown(rec: DiscordRecorder) -> None:
    for _ in range(3):
        await rec.invoke_slash(p.slash_command("activity", [p.option("weeks", 4)]))
    payload = p.slash_command("activity", [p.option("weeks", 4)])
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for_response(payload)
    assert reply.ephemeral and reply.embeds[0]["description"].startswith("Slow down")


async def test_trend_window_ends_now_like_the_leaderboard_periods(rec: DiscordRecorder) -> None:
    """/trend days:N means the N days before now (server time), as /leaderboard period:30d
    does — not the N days before the newest round in the database."""
    ref = ranked()[0]
    latest = stats.latest_round_time()
    assert latest is not None
    options = [p.option("player", guid(ref)), p.option("stat", "kd"), p.option("days", 3650)]
    # The corpus ended long ago: nothing in the last 30 days, said kindly.
    short = [*options[:2], p.option("days", 30)]
    payload = p.slash_command("trend", short)
    await rec.invoke_slash(payload, raise_errors=False)
    error = await rec.wait_for(lambda r: r.route == FOLLOWUP)  # after the defer
    assert error.ephemeral and "played no sessions in the last 30 days" in str(error.json)
    # Back on the day of the player's last session, the same command finds sessions.
    player_last = max(pt.started_at for pt in stats.trend(ref.id, "kd", 3650).points)
    back_then = player_last.replace(tzinfo=ZoneInfo("Europe/Berlin")) + timedelta(hours=6)
    rec.clear()
    with time_machine.travel(back_then, tick=False):
        await rec.invoke_slash(p.slash_command("trend", short))
    [edit] = rec.by_route(ORIGINAL_EDIT)
    assert "in the last 30 days" in edit.embeds[0]["description"]

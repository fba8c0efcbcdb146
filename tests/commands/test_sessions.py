"""/sessions: recent sessions, the weekly pattern and friendly errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commands.helpers import run_deferred
from discordkit import (
    DiscordRecorder,
)
from discordkit import payloads as p
from etbot import sessions
from etbot.commands.matchnight import final_score_text
from etbot.errors import NoData
from etbot.sessions import PatternSlot, SessionInfo, WeeklyPattern, recent_sessions


async def test_sessions(rec: DiscordRecorder) -> None:
    edit = await run_deferred(rec, p.slash_command("sessions"))
    [embed] = edit.embeds
    recent = recent_sessions(5)
    assert embed["title"] == "Recent sessions"
    names = [f["name"] for f in embed["fields"]]
    assert len(names) == len(recent) + 1
    assert names[-1] == "Weekly pattern"
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
    slot = PatternSlot(weekday=1, hour=21, minute=0, weeks_seen=10)
    pattern = WeeklyPattern([slot], 12, 30, nxt, "Europe/Berlin")
    monkeypatch.setattr(sessions, "weekly_pattern", lambda tz, now: pattern)
    edit = await run_deferred(rec, p.slash_command("sessions"))
    value = edit.embeds[0]["fields"][-1]["value"]
    assert "Usually Tuesday 21:00 (Europe/Berlin)" in value
    ts = int(nxt.timestamp())
    assert f"<t:{ts}:R>" in value
    assert f"<t:{ts}:F>" in value


async def test_sessions_without_data_is_friendly(
    rec: DiscordRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def nothing(limit: int) -> list[SessionInfo]:
        raise NoData("No gaming sessions recorded yet.")

    monkeypatch.setattr(sessions, "recent_sessions", nothing)
    payload = p.slash_command("sessions")
    await rec.invoke_slash(payload, raise_errors=False)
    followup = await rec.wait_for(lambda r: r.method == "POST" and "webhooks" in (r.route or ""))
    assert followup.ephemeral
    assert followup.embeds[0]["description"] == "No gaming sessions recorded yet."
    # the empty public "thinking…" message was removed first
    assert any(r.method == "DELETE" for r in rec.for_interaction(payload))


async def test_sessions_show_the_stopwatch_score(rec: DiscordRecorder) -> None:
    edit = await run_deferred(rec, p.slash_command("sessions"))
    recent = recent_sessions(5)
    with_score = [(i, s) for i, s in enumerate(recent) if any(m.decided for m in s.matches)]
    assert with_score, "a recent session has a decided map"
    for index, session in with_score:
        value = edit.embeds[0]["fields"][index]["value"]
        first = next(m for m in session.matches if m.decided)
        assert f"Score: {final_score_text(first)}" in value
        assert f"{first.wins_a}–{first.wins_b}" in value

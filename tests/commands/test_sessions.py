"""/sessions: recent sessions, the weekly pattern and friendly errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from commands.helpers import run_deferred
from discordkit import ORIGINAL_EDIT, DiscordRecorder
from discordkit import payloads as p
from etbot import availability, forecast, sessions
from etbot.availability import NextSession
from etbot.commands.matchnight import final_score_text
from etbot.errors import NoData
from etbot.sessions import PatternSlot, SessionInfo, WeeklyPattern, recent_sessions


async def test_sessions(rec: DiscordRecorder) -> None:
    edit = await run_deferred(rec, p.slash_command("sessions"))
    [embed] = edit.embeds
    recent = recent_sessions(5)
    assert embed["title"] == "Recent sessions"
    names = [f["name"] for f in embed["fields"]]
    assert len(names) == len(recent) + 2
    assert names[-2:] == ["Weekly pattern", "Next session"]
    newest = recent[0]
    assert newest.server in names[0]
    assert "<t:" in embed["fields"][0]["value"]
    assert f"{newest.round_count} rounds" in embed["fields"][0]["value"]
    if newest.top_fragger:
        assert f"({newest.top_fragger_kills} kills)" in embed["fields"][0]["value"]


async def test_sessions_next_session_timestamp(
    rec: DiscordRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The weekly pattern is still shown; the next session comes from the forecast (or a
    # poll), no longer from the pattern's slots.
    old_guess = datetime(2030, 5, 7, 19, 0, tzinfo=UTC)
    slot = PatternSlot(weekday=1, hour=21, minute=0, weeks_seen=10)
    pattern = WeeklyPattern([slot], 12, 30, old_guess, "Europe/Berlin")
    monkeypatch.setattr(sessions, "weekly_pattern", lambda tz, now: pattern)
    nxt = datetime(2030, 5, 8, 18, 45, tzinfo=UTC)
    monkeypatch.setattr(availability, "next_session", lambda now, tz, **_: NextSession(nxt, False))
    edit = await run_deferred(rec, p.slash_command("sessions"))
    pattern_value, next_value = (f["value"] for f in edit.embeds[0]["fields"][-2:])
    assert "Usually Tuesday 21:00 (Europe/Berlin)" in pattern_value
    assert "<t:" not in pattern_value
    ts = int(nxt.timestamp())
    assert f"<t:{ts}:R>" in next_value
    assert f"<t:{ts}:F>" in next_value
    assert "predicted from past sessions" in next_value


async def test_sessions_fits_the_forecast_once_a_minute_and_reads_polls_every_time(
    rec: DiscordRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The forecast re-reads months of rounds and refits (the slowest part of /sessions on
    # a big history): the questions of one minute share one fit, until an import.
    fits: list[datetime] = []
    load = forecast.load_sessions

    def counting(before: datetime, *args: object) -> list[forecast.PastSession]:
        fits.append(before)
        return load(before, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(forecast, "load_sessions", counting)
    agreed = datetime(2030, 5, 9, 19, 30, tzinfo=UTC)

    async def ask() -> str:
        await rec.invoke_slash(p.slash_command("sessions"))
        value: str = rec.by_route(ORIGINAL_EDIT)[-1].embeds[0]["fields"][-1]["value"]
        return value

    with time_machine.travel(datetime(2030, 5, 7, 12, 0, 5, tzinfo=UTC), tick=False) as clock:
        first = await ask()
        clock.move_to(datetime(2030, 5, 7, 12, 0, 50, tzinfo=UTC))
        assert await ask() == first
        assert len(fits) == 1  # the same minute: one fit
        # A poll agrees on a start: no import, and yet it shows at once.
        monkeypatch.setattr(availability, "agreed_starts", lambda now: [agreed])
        assert f"<t:{int(agreed.timestamp())}:R>" in await ask()
        monkeypatch.setattr(availability, "agreed_starts", lambda now: [])
        clock.move_to(datetime(2030, 5, 7, 12, 1, 10, tzinfo=UTC))
        await ask()
    assert len(fits) == 2  # 12:00 and 12:01
    assert f"<t:{int(agreed.timestamp())}:R>" not in first


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

"""The one error path: friendly private messages for user errors, a reference for the rest."""

from __future__ import annotations

import re

import pytest

from commands.helpers import top_player
from discordkit import (
    DiscordRecorder,
)
from discordkit import payloads as p
from etbot import summary
from etbot.players import (
    get_player,
)


async def test_unknown_player_is_a_friendly_ephemeral_error(rec: DiscordRecorder) -> None:
    payload = p.slash_command("stats", [p.option("player", "nobody-at-all-xyz")])
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for_response(payload)
    assert reply.ephemeral
    assert "No player called" in reply.embeds[0]["description"]
    assert "Traceback" not in str(reply.json)


async def test_unexpected_error_shows_reference(
    rec: DiscordRecorder, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("kaboom in the database")

    monkeypatch.setattr(summary, "player_summary", broken)
    row = top_player()
    payload = p.slash_command(
        "stats", [p.option("player", f"guid:{get_player(row.player_id).guid}")]
    )
    await rec.invoke_slash(payload, raise_errors=False)
    # deferred first, so the error arrives as an ephemeral follow-up
    followup = await rec.wait_for(
        lambda r: r.route is not None and "webhooks" in r.route and r.method == "POST"
    )
    assert followup.ephemeral
    text = followup.embeds[0]["description"]
    ref = re.search(r"ref ([0-9a-f]{8})", text)
    assert ref is not None
    assert "kaboom" not in text
    assert any(ref.group(1) in r.getMessage() and r.exc_info for r in caplog.records)

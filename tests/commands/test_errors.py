"""The one error path: friendly private messages for user errors, a reference for the rest."""

from __future__ import annotations

import re

import pytest

from commands.helpers import add_player_round, top_player
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


# --------------------------------------------------------------------------- hostile names
# A name is chosen by the player (in game) or typed by the user: either way it must show
# literally in an embed, never as Discord markdown (issue 12, item 13).

MASKED_LINK = "[click](https://evil.example)"
#: A masked link Discord would render: ``[text](url)`` whose ``[`` is not escaped.
RENDERED_LINK = re.compile(r"(?<!\\)\[[^\]]*\]\([^)]*\)")


async def test_typed_markdown_link_is_not_rendered_in_unknown_player_error(
    rec: DiscordRecorder,
) -> None:
    payload = p.slash_command("stats", [p.option("player", MASKED_LINK)])
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for_response(payload)
    assert reply.ephemeral
    text = reply.embeds[0]["description"]
    assert "No player called" in text
    assert "evil.example" in text  # shown, as text
    assert not RENDERED_LINK.search(text), text


async def test_player_name_with_markdown_link_is_escaped_in_no_rounds_error(
    rec: DiscordRecorder,
) -> None:
    add_player_round(MASKED_LINK, "E71C0DE5")
    payload = p.slash_command(
        "stats", [p.option("player", "guid:E71C0DE5"), p.option("period", "7d")]
    )
    await rec.invoke_slash(payload, raise_errors=False)
    followup = await rec.wait_for(
        lambda r: r.route is not None and "webhooks" in r.route and r.method == "POST"
    )
    assert followup.ephemeral
    text = followup.embeds[0]["description"]
    assert "has no rounds in this period" in text
    assert "evil.example" in text
    assert not RENDERED_LINK.search(text), text


async def test_player_name_with_markdown_link_is_escaped_in_stats_title(
    rec: DiscordRecorder,
) -> None:
    from discordkit import ORIGINAL_EDIT

    add_player_round(MASKED_LINK, "E71C0DE5")
    await rec.invoke_slash(p.slash_command("stats", [p.option("player", "guid:E71C0DE5")]))
    [edit] = rec.by_route(ORIGINAL_EDIT)
    title = edit.embeds[0]["title"]
    assert "evil.example" in title
    assert not RENDERED_LINK.search(title), title

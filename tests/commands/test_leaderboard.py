"""/leaderboard and its paginator, on the real corpus."""

from __future__ import annotations

import re

import pytest

from commands.helpers import ALL
from discordkit import (
    ORIGINAL_EDIT,
    DiscordRecorder,
)
from discordkit import payloads as p
from etbot import leaderboard as leaderboard_module
from etbot.bot import EtBot
from etbot.commands.formatting import fmt_stat
from etbot.leaderboard import leaderboard
from etbot.periods import PERIODS
from etbot.statdefs import STATS


async def test_leaderboard_first_page(rec: DiscordRecorder) -> None:
    await rec.invoke_slash(
        p.slash_command("leaderboard", [p.option("stat", "kd"), p.option("min_rounds", 3)])
    )
    [edit] = rec.by_route(ORIGINAL_EDIT)
    [embed] = edit.embeds
    expected = leaderboard("kd", ALL, min_rounds=3, limit=10)
    assert embed["title"] == "Leaderboard · K/D"
    for row in expected.rows:
        assert fmt_stat("kd", row.value) in embed["description"]
        assert row.name[:19] in embed["description"]
    pages = -(-expected.total // 10)
    assert embed["footer"]["text"].startswith(f"Page 1 of {pages}")
    buttons = edit.components[0]["components"]
    assert [b["label"] for b in buttons] == ["◀ Previous", f"1 / {pages}", "Next ▶"]
    assert buttons[0]["disabled"]
    assert not buttons[2].get("disabled", False)


async def _leaderboard_message(rec: DiscordRecorder) -> dict:
    await rec.invoke_slash(
        p.slash_command("leaderboard", [p.option("stat", "kills"), p.option("min_rounds", 1)])
    )
    [edit] = rec.by_route(ORIGINAL_EDIT)
    return edit.response


async def test_paginator_next_page(rec: DiscordRecorder) -> None:
    message = await _leaderboard_message(rec)
    next_id = message["components"][0]["components"][2]["custom_id"]
    click = p.button_click(next_id, message=message)
    await rec.dispatch(click)
    reply = await rec.wait_for_response(click)
    assert reply.callback_type == 7
    expected = leaderboard("kills", ALL, min_rounds=1, limit=10, offset=10)
    [embed] = reply.embeds
    assert embed["footer"]["text"].startswith("Page 2 of")
    assert expected.rows[0].name[:19] in embed["description"]
    assert f"{expected.rows[0].rank:>3}." in embed["description"]
    buttons = reply.components[0]["components"]
    assert not buttons[0].get("disabled", False)  # Previous is enabled on page 2


async def test_paginator_rejects_other_members(rec: DiscordRecorder) -> None:
    message = await _leaderboard_message(rec)
    next_id = message["components"][0]["components"][2]["custom_id"]
    click = p.button_click(next_id, message=message, admin=True)  # the owner, not the invoker
    await rec.dispatch(click)
    reply = await rec.wait_for_response(click)
    assert reply.callback_type == 4
    assert reply.ephemeral
    assert reply.content is not None
    assert "Only the person who ran the command" in reply.content


async def test_paginator_timeout_removes_buttons(
    rec: DiscordRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etbot.views import paginator

    monkeypatch.setattr(paginator, "DEFAULT_TIMEOUT", 0.2)
    message = await _leaderboard_message(rec)
    assert message["components"]
    removed = await rec.wait_for(
        lambda r: r.route == ORIGINAL_EDIT and r.json.get("components") == [], timeout=5
    )
    assert removed.response["embeds"] == message["embeds"]  # the page itself stays


@pytest.mark.parametrize("period", ["7d", "365d"])
async def test_leaderboard_period_without_data(rec: DiscordRecorder, period: str) -> None:
    payload = p.slash_command("leaderboard", [p.option("stat", "dpm"), p.option("period", period)])
    await rec.invoke_slash(payload)
    [edit] = rec.by_route(ORIGINAL_EDIT)
    # the corpus ends in 2025: recent periods are empty, which is shown, not an error
    assert "nobody qualifies" in edit.embeds[0]["description"]
    assert edit.components == []


async def test_paginator_error_is_reported(
    rec: DiscordRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = await _leaderboard_message(rec)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("page query failed")

    monkeypatch.setattr(leaderboard_module, "leaderboard", broken)
    next_id = message["components"][0]["components"][2]["custom_id"]
    click = p.button_click(next_id, message=message)
    await rec.dispatch(click)
    reply = await rec.wait_for_response(click)
    assert reply.ephemeral
    assert re.fullmatch(
        r"Something went wrong \(ref [0-9a-f]{8}\)\..*", reply.embeds[0]["description"]
    )


async def test_options_are_validated(bot: EtBot) -> None:
    leaderboard = bot.get_slash_command("leaderboard")
    assert leaderboard is not None
    options = {o.name: o for o in leaderboard.body.options}
    assert {c.value for c in options["stat"].choices} == set(STATS)
    assert {c.value for c in options["period"].choices} == set(PERIODS)
    assert (options["min_rounds"].min_value, options["min_rounds"].max_value) == (1, 10_000)
    assert options["stat"].required
    assert not options["period"].required
    stats = bot.get_slash_command("stats")
    assert stats is not None
    player = {o.name: o for o in stats.body.options}["player"]
    assert player.autocomplete
    assert not player.required


async def test_pages_are_cached_per_page(rec: DiscordRecorder, bot: EtBot) -> None:
    cache = bot.resources.cache
    message = await _leaderboard_message(rec)
    assert (cache.hits, cache.misses) == (0, 1)
    for position in (2, 0):  # Next, then Previous: page 2 is new, page 1 is cached
        button = message["components"][0]["components"][position]["custom_id"]
        click = p.button_click(button, message=message)
        await rec.dispatch(click)
        reply = await rec.wait_for_response(click)
        message = {**message, **reply.json["data"]}
    assert (cache.hits, cache.misses, len(cache)) == (1, 2, 2)
    assert message["embeds"][0]["footer"]["text"].startswith("Page 1 of")

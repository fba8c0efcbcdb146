"""/stats, /leaderboard (+ paginator), autocomplete and the error path, on the corpus."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from discordkit import INTERACTION_CALLBACK, ORIGINAL_EDIT, OWNER_ID, PLAYER_ID, DiscordRecorder
from discordkit import payloads as p
from etbot import stats
from etbot.bot import EtBot

ALL = stats.parse_period("all", datetime(2030, 1, 1))


def top_player(stat: str = "rounds") -> stats.LeaderRow:
    return stats.leaderboard(stat, ALL, limit=1).rows[0]


def fields(embed: dict) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


async def test_stats_card_matches_summary(rec: DiscordRecorder) -> None:
    row = top_player()
    ref = stats.get_player(row.player_id)
    await rec.invoke_slash(p.slash_command("stats", [p.option("player", f"guid:{ref.guid}")]))
    callback, *_ = rec.by_route(INTERACTION_CALLBACK)
    assert callback.callback_type == 5  # deferred: the card needs DB work
    [edit] = rec.by_route(ORIGINAL_EDIT)
    [embed] = edit.embeds
    summary = stats.player_summary(row.player_id, ALL)
    assert embed["title"] == summary.name
    assert summary.guid in embed["description"] and "All time" in embed["description"]
    shown = fields(embed)
    assert shown["Rounds"] == f"{summary.rounds:,}"
    assert shown["K/D"] == stats.STATS["kd"].fmt(summary.kd)
    assert shown["DPM"] == stats.STATS["dpm"].fmt(summary.dpm)
    assert shown["Kills / Deaths"] == f"{summary.kills:,} / {summary.deaths:,}"
    assert shown["Accuracy"] == stats.STATS["accuracy"].fmt(summary.accuracy)
    assert shown["DPM rank"] == f"#{summary.rank} of {summary.community_size}"
    assert shown["Maps won / lost"] == f"{summary.maps_won} / {summary.maps_lost}"
    assert summary.favourite_weapon and summary.favourite_weapon in shown["Favourite weapon"]
    assert "Also known as" in shown


async def test_stats_by_typed_name(rec: DiscordRecorder) -> None:
    row = top_player("kills")
    await rec.invoke_slash(p.slash_command("stats", [p.option("player", row.name.upper())]))
    [edit] = rec.by_route(ORIGINAL_EDIT)
    assert edit.embeds[0]["title"] == row.name


async def test_stats_without_player_needs_link(rec: DiscordRecorder) -> None:
    payload = p.slash_command("stats")
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for_response(payload)
    assert reply.callback_type == 4 and reply.ephemeral
    [embed] = reply.embeds
    assert "/link" in embed["description"]
    assert embed["color"] == 0xED4245


async def test_stats_without_player_uses_link(rec: DiscordRecorder) -> None:
    row = top_player()
    stats.link_discord(PLAYER_ID, row.player_id)
    await rec.invoke_slash(p.slash_command("stats"))
    [edit] = rec.by_route(ORIGINAL_EDIT)
    assert edit.embeds[0]["title"] == row.name


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

    monkeypatch.setattr(stats, "player_summary", broken)
    row = top_player()
    payload = p.slash_command(
        "stats", [p.option("player", f"guid:{stats.get_player(row.player_id).guid}")]
    )
    await rec.invoke_slash(payload, raise_errors=False)
    # deferred first, so the error arrives as an ephemeral follow-up
    followup = await rec.wait_for(
        lambda r: r.route is not None and "webhooks" in r.route and r.method == "POST"
    )
    assert followup.ephemeral
    text = followup.embeds[0]["description"]
    ref = re.search(r"ref ([0-9a-f]{8})", text)
    assert ref is not None and "kaboom" not in text
    assert any(ref.group(1) in r.getMessage() and r.exc_info for r in caplog.records)


async def test_autocomplete_players(rec: DiscordRecorder) -> None:
    row = top_player()
    prefix = row.name[:2]
    await rec.invoke_autocomplete(
        p.autocomplete("stats", [p.option("player", prefix, focused=True)])
    )
    reply = rec.requests[-1]
    assert reply.callback_type == 8
    expected = stats.autocomplete_players(prefix)
    assert [c["value"] for c in reply.choices] == [c.value for c in expected]
    assert 0 < len(reply.choices) <= 25
    assert all(c["value"].startswith("guid:") for c in reply.choices)


async def test_autocomplete_empty_text_lists_active_players(rec: DiscordRecorder) -> None:
    await rec.invoke_autocomplete(p.autocomplete("stats", [p.option("player", "", focused=True)]))
    assert len(rec.requests[-1].choices) == min(25, len(stats.autocomplete_players("")))


async def test_leaderboard_first_page(rec: DiscordRecorder) -> None:
    await rec.invoke_slash(
        p.slash_command("leaderboard", [p.option("stat", "kd"), p.option("min_rounds", 3)])
    )
    [edit] = rec.by_route(ORIGINAL_EDIT)
    [embed] = edit.embeds
    expected = stats.leaderboard("kd", ALL, min_rounds=3, limit=10)
    assert embed["title"] == "Leaderboard · K/D"
    for row in expected.rows:
        assert stats.STATS["kd"].fmt(row.value) in embed["description"]
        assert row.name[:19] in embed["description"]
    pages = -(-expected.total // 10)
    assert embed["footer"]["text"].startswith(f"Page 1 of {pages}")
    buttons = edit.components[0]["components"]
    assert [b["label"] for b in buttons] == ["◀ Previous", f"1 / {pages}", "Next ▶"]
    assert buttons[0]["disabled"] and not buttons[2].get("disabled", False)


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
    expected = stats.leaderboard("kills", ALL, min_rounds=1, limit=10, offset=10)
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
    assert reply.callback_type == 4 and reply.ephemeral
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


async def test_owner_id_and_mentions(bot: EtBot) -> None:
    assert bot.owner_id == OWNER_ID
    assert bot.allowed_mentions is not None and not bot.allowed_mentions.everyone


async def test_autocomplete_failure_answers_no_choices(
    rec: DiscordRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(text: str, limit: int = 25) -> list[stats.PlayerChoice]:
        raise RuntimeError("database gone")

    monkeypatch.setattr(stats, "autocomplete_players", broken)
    payload = p.autocomplete("compare", [p.option("player2", "ab", focused=True)])
    await rec.invoke_autocomplete(payload)
    reply = rec.requests[-1]
    assert reply.callback_type == 8 and reply.choices == []


async def test_ambiguous_player_lists_candidates(
    rec: DiscordRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = (stats.get_player(r.player_id) for r in stats.leaderboard("kills", ALL, limit=2).rows)

    def ambiguous(value: str) -> stats.PlayerRef:
        raise stats.AmbiguousPlayer(f"2 players have used the name: {a.name}, {b.name}.", [a, b])

    monkeypatch.setattr(stats, "resolve_player", ambiguous)
    payload = p.slash_command("trend", [p.option("player", "x"), p.option("stat", "kd")])
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for_response(payload)
    assert reply.callback_type == 4 and reply.ephemeral
    assert a.name in reply.embeds[0]["description"]


async def test_paginator_error_is_reported(
    rec: DiscordRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = await _leaderboard_message(rec)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("page query failed")

    monkeypatch.setattr(stats, "leaderboard", broken)
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
    assert {c.value for c in options["stat"].choices} == set(stats.STATS)
    assert {c.value for c in options["period"].choices} == set(stats.PERIODS)
    assert (options["min_rounds"].min_value, options["min_rounds"].max_value) == (1, 10_000)
    assert options["stat"].required and not options["period"].required
    player = {o.name: o for o in bot.get_slash_command("stats").body.options}["player"]
    assert player.autocomplete and not player.required


async def test_player_option_accepts_a_linked_member_mention(rec: DiscordRecorder) -> None:
    row = top_player("kills")
    stats.link_discord(PLAYER_ID, row.player_id)
    await rec.invoke_slash(p.slash_command("stats", [p.option("player", f"<@{PLAYER_ID}>")]))
    [edit] = rec.by_route(ORIGINAL_EDIT)
    assert edit.embeds[0]["title"] == row.name


async def test_mention_of_an_unlinked_member_is_a_friendly_error(rec: DiscordRecorder) -> None:
    payload = p.slash_command("stats", [p.option("player", f"<@!{OWNER_ID}>")])
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for_response(payload)
    assert reply.ephemeral
    assert "has not linked a game profile" in reply.embeds[0]["description"]

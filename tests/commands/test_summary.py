"""/stats: the player card, on the real corpus."""

from __future__ import annotations

from commands.helpers import ALL, add_player_round, fields, guid, ranked, top_player
from discordkit import (
    INTERACTION_CALLBACK,
    ORIGINAL_EDIT,
    PLAYER_ID,
    DiscordRecorder,
)
from discordkit import payloads as p
from etbot.bot import EtBot
from etbot.commands.formatting import escape, fmt_stat
from etbot.players import (
    get_player,
    link_discord,
)
from etbot.summary import player_summary


async def test_stats_card_matches_summary(rec: DiscordRecorder) -> None:
    row = top_player()
    ref = get_player(row.player_id)
    await rec.invoke_slash(p.slash_command("stats", [p.option("player", f"guid:{ref.guid}")]))
    callback, *_ = rec.by_route(INTERACTION_CALLBACK)
    assert callback.callback_type == 5  # deferred: the card needs DB work
    [edit] = rec.by_route(ORIGINAL_EDIT)
    [embed] = edit.embeds
    summary = player_summary(row.player_id, ALL)
    assert embed["title"] == summary.name
    assert summary.guid in embed["description"]
    assert "All time" in embed["description"]
    shown = fields(embed)
    assert shown["Rounds"] == f"{summary.rounds:,}"
    assert shown["K/D"] == fmt_stat("kd", summary.kd)
    assert shown["DPM"] == fmt_stat("dpm", summary.dpm)
    assert shown["Kills / Deaths"] == f"{summary.kills:,} / {summary.deaths:,}"
    assert shown["Accuracy"] == fmt_stat("accuracy", summary.accuracy)
    assert shown["DPM rank"] == f"#{summary.rank} of {summary.community_size}"
    assert shown["Maps won / lost"] == f"{summary.maps_won} / {summary.maps_lost}"
    assert summary.favourite_weapon
    assert summary.favourite_weapon in shown["Favourite weapon"]
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
    assert reply.callback_type == 4
    assert reply.ephemeral
    [embed] = reply.embeds
    assert "/link" in embed["description"]
    assert embed["color"] == 0xED4245


async def test_stats_without_player_uses_link(rec: DiscordRecorder) -> None:
    row = top_player()
    link_discord(PLAYER_ID, row.player_id)
    await rec.invoke_slash(p.slash_command("stats"))
    [edit] = rec.by_route(ORIGINAL_EDIT)
    assert edit.embeds[0]["title"] == row.name


async def test_cards_are_cached_per_player(rec: DiscordRecorder, bot: EtBot) -> None:
    cache = bot.resources.cache
    first, second = ranked(n=2)
    for ref in (first, first, second):
        await rec.invoke_slash(p.slash_command("stats", [p.option("player", guid(ref))]))
    # The second /stats of the same player is a hit; another player is another entry.
    assert (cache.hits, cache.misses, len(cache)) == (1, 2, 2)
    titles = [r.embeds[0]["title"] for r in rec.by_route(ORIGINAL_EDIT)]
    assert titles == [escape(first.name), escape(first.name), escape(second.name)]


async def test_a_very_long_name_fits_discords_title_limit(rec: DiscordRecorder) -> None:
    """Discord refuses an embed whose title is over 256 characters: a crafted name (here
    1,000 underscores, each escaped for markdown) is cut to fit (issue 12, item 12)."""
    add_player_round("_" * 1000, "70A9BEEF")
    await rec.invoke_slash(p.slash_command("stats", [p.option("player", "guid:70A9BEEF")]))
    [edit] = rec.by_route(ORIGINAL_EDIT)
    title = edit.embeds[0]["title"]
    assert title.startswith("\\_\\_")
    assert len(title) <= 256

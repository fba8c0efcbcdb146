"""/announce: admin-gated, lists every kind of automatic post, switches one on or off."""

from __future__ import annotations

import disnake

from conftest import corpus_files, first_pair
from discordkit import (
    CHANNEL_ID,
    CHANNEL_MESSAGE,
    GUILD_ID,
    INTERACTION_CALLBACK,
    DiscordRecorder,
)
from discordkit import payloads as p
from etbot import announce
from etbot.models import Announcement, GuildSetting, Round

MANAGER = disnake.Permissions(manage_guild=True, send_messages=True).value


def as_admin(name: str, *options: dict) -> dict:
    return p.slash_command(name, list(options), permissions=MANAGER)


async def answer(rec: DiscordRecorder, payload: dict) -> dict:
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for_response(payload)
    assert reply.ephemeral
    [embed] = reply.embeds
    return embed


async def test_announce_is_for_admins_only(rec: DiscordRecorder) -> None:
    command = rec.bot.get_slash_command("announce")
    assert command is not None
    assert command.default_member_permissions == disnake.Permissions(manage_guild=True)
    payload = p.slash_command(
        "announce", [p.option("kind", "map_summary"), p.option("enabled", False)]
    )
    embed = await answer(rec, payload)
    assert "Manage Server" in embed["description"]
    assert GuildSetting.select().count() == 0  # nothing switched


async def test_announce_lists_every_kind_on_by_default(rec: DiscordRecorder) -> None:
    embed = await answer(rec, as_admin("announce"))
    for kind in rec.bot.poster.kinds:
        assert f"✅ on  `{kind}`" in embed["description"]
    assert "ANNOUNCE_CHANNEL_ID` is not set" in embed["description"]
    rec.bot.resources.settings.announce_channel_id = CHANNEL_ID
    embed = await answer(rec, as_admin("announce"))
    assert f"Posts go to <#{CHANNEL_ID}>." in embed["description"]


async def test_switching_a_kind_off_stops_its_posts(rec: DiscordRecorder) -> None:
    embed = await answer(
        rec, as_admin("announce", p.option("kind", "map_summary"), p.option("enabled", False))
    )
    assert "`map_summary` is now **off**" in embed["description"]
    assert "⛔ off `map_summary`" in embed["description"]
    assert announce.kind_enabled(GUILD_ID, "map_summary") is False
    assert announce.kind_enabled(GUILD_ID, "round_summary") is True
    # The poster now leaves map summaries out (and does not post them later either).
    r1, r2 = first_pair(corpus_files())
    announce.enqueue("round_summary", Round.get(Round.file_name == r1.name).id)
    announce.enqueue("map_summary", Round.get(Round.file_name == r2.name).id)
    rec.bot.poster.channel_id = CHANNEL_ID
    assert await rec.bot.poster.drain() == 1
    [post] = rec.by_route(CHANNEL_MESSAGE)
    assert post.embeds[0]["title"].endswith("round 1")
    assert Announcement.get(Announcement.kind == "map_summary").status == "silent"
    # And back on.
    embed = await answer(
        rec, as_admin("announce", p.option("kind", "map_summary"), p.option("enabled", True))
    )
    assert "`map_summary` is now **on**" in embed["description"]
    assert announce.kind_enabled(GUILD_ID, "map_summary") is True


async def test_one_kind_without_enabled_shows_it(rec: DiscordRecorder) -> None:
    announce.set_kind_enabled(GUILD_ID, "milestone", False)
    embed = await answer(rec, as_admin("announce", p.option("kind", "milestone")))
    assert "⛔ off `milestone`" in embed["description"]
    assert "round_summary" not in embed["description"]


async def test_bad_options_get_friendly_errors(rec: DiscordRecorder) -> None:
    embed = await answer(
        rec, as_admin("announce", p.option("kind", "@everyone spam"), p.option("enabled", True))
    )
    assert "There is no kind of post called" in embed["description"]
    assert "@everyone" not in embed["description"]  # echoed defused
    assert r"map\_summary" in embed["description"]  # names from the data, escaped
    embed = await answer(rec, as_admin("announce", p.option("enabled", False)))
    assert "Say which `kind`" in embed["description"]
    assert GuildSetting.select().count() == 0


async def test_kind_autocomplete(rec: DiscordRecorder) -> None:
    payload = p.autocomplete("announce", [p.option("kind", "summ", focused=True)])
    await rec.invoke_autocomplete(payload)
    [reply] = rec.by_route(INTERACTION_CALLBACK)
    values = [c["value"] for c in reply.choices]
    assert values == [k for k in rec.bot.poster.kinds if "summ" in k]
    assert "map_summary" in values

"""/link, /unlink and the admin-gated /link-member."""

from __future__ import annotations

import disnake

from commands.helpers import ALL
from discordkit import (
    INTERACTION_CALLBACK,
    OWNER_ID,
    PLAYER_ID,
    DiscordRecorder,
)
from discordkit import payloads as p
from etbot.leaderboard import leaderboard
from etbot.players import (
    PlayerRef,
    get_player,
    link_discord,
    player_for_discord,
)


def two_players() -> tuple[PlayerRef, PlayerRef]:
    rows = leaderboard("rounds", ALL, limit=2).rows
    return get_player(rows[0].player_id), get_player(rows[1].player_id)


async def test_link_self(rec: DiscordRecorder) -> None:
    ref, _ = two_players()
    await rec.invoke_slash(p.slash_command("link", [p.option("player", f"guid:{ref.guid}")]))
    [reply] = rec.by_route(INTERACTION_CALLBACK)
    assert reply.ephemeral
    assert reply.embeds[0]["title"] == "Linked"
    assert ref.guid in reply.embeds[0]["description"]
    assert player_for_discord(PLAYER_ID) == ref


async def test_link_taken_guid_is_refused(rec: DiscordRecorder) -> None:
    ref, _ = two_players()
    link_discord(OWNER_ID, ref.id)
    payload = p.slash_command("link", [p.option("player", f"guid:{ref.guid}")])
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for_response(payload)
    assert reply.ephemeral
    assert "already linked" in reply.embeds[0]["description"]
    assert player_for_discord(PLAYER_ID) is None


async def test_unlink(rec: DiscordRecorder) -> None:
    ref, _ = two_players()
    link_discord(PLAYER_ID, ref.id)
    await rec.invoke_slash(p.slash_command("unlink"))
    assert rec.requests[-1].content == "Your link was removed."
    assert player_for_discord(PLAYER_ID) is None


async def test_link_member_is_gated(rec: DiscordRecorder) -> None:
    command = rec.bot.get_slash_command("link-member")
    assert command is not None
    assert command.default_member_permissions == disnake.Permissions(manage_guild=True)
    ref, _ = two_players()
    member = p.user_option("member", rec.world.owner, world=rec.world)
    # An ordinary member: the server-side check refuses even if the client shows the command.
    payload = p.slash_command("link-member", [member, p.option("player", f"guid:{ref.guid}")])
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for_response(payload)
    assert reply.ephemeral
    assert "Manage Server" in reply.embeds[0]["description"]
    assert player_for_discord(OWNER_ID) is None


async def test_link_member_by_admin_moves_link(rec: DiscordRecorder) -> None:
    ref, _ = two_players()
    link_discord(OWNER_ID, ref.id)  # taken by someone else: an admin may move it
    manager = disnake.Permissions(manage_guild=True, send_messages=True).value
    member = p.user_option("member", rec.world.player, world=rec.world)
    payload = p.slash_command(
        "link-member",
        [member, p.option("player", f"guid:{ref.guid}")],
        user=rec.world.player,
        permissions=manager,
    )
    await rec.invoke_slash(payload)
    [reply] = rec.by_route(INTERACTION_CALLBACK)
    assert reply.ephemeral
    assert reply.embeds[0]["title"] == "Linked"
    assert reply.json["data"]["allowed_mentions"]["parse"] == []
    assert player_for_discord(PLAYER_ID) == ref
    assert player_for_discord(OWNER_ID) is None

"""/achievements, and milestone posts that ping only the linked member they name."""

from __future__ import annotations

import disnake

from commands.helpers import guid, ranked, run_deferred
from discordkit import CHANNEL_ID, CHANNEL_MESSAGE, PLAYER_ID, DiscordRecorder
from discordkit import payloads as p
from etbot import announce
from etbot.achievements import achievements, milestone_key
from etbot.commands.achievements import progress_bar
from etbot.models import Announcement, PlayerMilestone
from etbot.players import PlayerRef, link_discord

esc = disnake.utils.escape_markdown


def test_progress_bar() -> None:
    assert progress_bar(0) == "▱" * 10
    assert progress_bar(0.35) == "▰" * 3 + "▱" * 7
    assert progress_bar(0.999) == "▰" * 9 + "▱"  # full only when reached
    assert progress_bar(1.5) == "▰" * 10


async def test_achievements_command(rec: DiscordRecorder) -> None:
    ref = ranked("rounds", 1)[0]
    edit = await run_deferred(rec, p.slash_command("achievements", [p.option("player", guid(ref))]))
    [embed] = edit.embeds
    data = achievements(ref.id)
    assert embed["title"] == f"Achievements · {esc(ref.name)}"
    earned, upcoming = embed["fields"]
    assert earned["name"] == f"Earned ({len(data.earned)})"
    assert data.earned, "the busiest player of the corpus has milestones"
    newest = data.earned[0]
    assert earned["value"].startswith(
        f"{newest.reached_on:%Y-%m-%d} · **{newest.threshold:,} {newest.label}**"
    )
    lines = upcoming["value"].split("\n")
    assert len(lines) == len(data.next)
    first = data.next[0]
    assert lines[0] == (
        f"`{progress_bar(first.progress)}` {first.current:,} / {first.threshold:,} {first.label}"
    )


async def test_achievements_of_yourself_needs_a_link(rec: DiscordRecorder) -> None:
    payload = p.slash_command("achievements")
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for_response(payload)
    assert reply.ephemeral
    assert "/link" in reply.embeds[0]["description"]


def pending_milestone(ref: PlayerRef) -> str:
    """One of the player's milestones (recorded silently by the corpus import) queued
    again as a fresh post."""
    row = PlayerMilestone.select().where(PlayerMilestone.player == ref.id).first()
    key = milestone_key(ref.id, row.stat, row.threshold)
    Announcement.delete().where(Announcement.key == key).execute()
    assert announce.enqueue("milestone", key)
    return key


async def test_a_milestone_pings_only_the_linked_member(rec: DiscordRecorder) -> None:
    ref = ranked("rounds", 1)[0]
    link_discord(PLAYER_ID, ref.id)
    pending_milestone(ref)
    rec.bot.poster.channel_id = CHANNEL_ID
    assert await rec.bot.poster.drain() == 1
    [post] = rec.by_route(CHANNEL_MESSAGE)
    assert post.content is not None
    assert post.content.startswith(f"🏅 <@{PLAYER_ID}> (**{esc(ref.name)}**) reached **")
    # Exactly that member may be pinged: no @everyone, no roles, nobody else.
    assert post.json["allowed_mentions"] == {"parse": [], "users": [PLAYER_ID]}


async def test_an_unlinked_player_is_named_without_a_ping(rec: DiscordRecorder) -> None:
    ref = ranked("rounds", 2)[1]
    pending_milestone(ref)
    rec.bot.poster.channel_id = CHANNEL_ID
    assert await rec.bot.poster.drain() == 1
    [post] = rec.by_route(CHANNEL_MESSAGE)
    assert post.content is not None
    assert "<@" not in post.content
    assert f"**{esc(ref.name)}** reached" in post.content
    assert post.json["allowed_mentions"] == {"parse": []}

"""The poster sends each outbox row once to the announcement channel, and survives a
missing channel, a missing permission, a switched-off kind and a failing builder."""

from __future__ import annotations

import asyncio
import logging

import disnake
import pytest

from discordkit import CHANNEL_ID, CHANNEL_MESSAGE, GUILD_ID, DiscordRecorder
from etbot import announce
from etbot.bot import EtBot
from etbot.models import Announcement
from etbot.poster import Post, Poster


def make_poster(bot: EtBot, channel_id: int | None = CHANNEL_ID) -> Poster:
    poster = Poster(bot, bot.resources.db, channel_id)

    async def build(key: str) -> Post | None:
        if key == "gone":
            return None
        if key == "broken":
            raise RuntimeError("the data behind this post is broken")
        return Post(content=f"round {key} @everyone", embeds=[disnake.Embed(title=key)])

    poster.register("round_summary", build)
    return poster


def queue(*keys: str, kind: str = "round_summary") -> None:
    for key in keys:
        announce.enqueue(kind, key)


def status_of(key: str) -> str:
    return str(Announcement.get(Announcement.key == key).status)


async def test_each_post_is_sent_once(rec: DiscordRecorder) -> None:
    poster = make_poster(rec.bot)
    queue("1", "2")
    assert await poster.drain() == 2
    assert await poster.drain() == 0  # a second drain (or a restart) sends nothing again
    posts = rec.by_route(CHANNEL_MESSAGE)
    assert [p.content for p in posts] == ["round 1 @everyone", "round 2 @everyone"]
    assert all(p.params["channel_id"] == str(CHANNEL_ID) for p in posts)
    # Nobody is pinged by an announcement unless its builder says so.
    assert all(p.json["allowed_mentions"] == {"parse": []} for p in posts)
    row = Announcement.get(Announcement.key == "1")
    assert row.status == "sent"
    assert row.message_id == int(posts[0].response["id"])


async def test_two_posters_share_the_outbox_without_doubles(rec: DiscordRecorder) -> None:
    first, second = make_poster(rec.bot), make_poster(rec.bot)
    assert first.worker != second.worker
    queue(*[str(i) for i in range(12)])
    counts = await asyncio.gather(first.drain(), second.drain())
    assert sum(counts) == 12
    contents = sorted(p.content or "" for p in rec.by_route(CHANNEL_MESSAGE))
    assert contents == sorted(f"round {i} @everyone" for i in range(12))


async def test_missing_permission_is_logged_and_not_retried(
    rec: DiscordRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    rec.api.forbidden_channels.add(CHANNEL_ID)
    poster = make_poster(rec.bot)
    queue("5")
    with caplog.at_level(logging.WARNING, logger="etbot.poster"):
        assert await poster.drain() == 0
    assert "check the bot's permissions" in caplog.text
    assert status_of("5") == "failed"
    rec.api.forbidden_channels.clear()
    assert await poster.drain() == 0  # not posted later either: it stays failed


async def test_unknown_channel_is_logged(
    rec: DiscordRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    poster = make_poster(rec.bot, channel_id=424242424242424242)
    queue("6")
    with caplog.at_level(logging.WARNING, logger="etbot.poster"):
        assert await poster.drain() == 0
    assert "channel not found" in caplog.text
    assert status_of("6") == "failed"
    assert rec.by_route(CHANNEL_MESSAGE) == []


async def test_switched_off_kind_nothing_to_say_and_broken_builder(rec: DiscordRecorder) -> None:
    poster = make_poster(rec.bot)
    announce.set_kind_enabled(GUILD_ID, "milestone", False)
    poster.register("milestone", poster._builders["round_summary"])
    queue("7", kind="milestone")
    queue("gone", "broken")
    assert await poster.drain() == 0
    assert rec.by_route(CHANNEL_MESSAGE) == []
    assert status_of("7") == "silent"  # switched off by an admin
    assert status_of("gone") == "silent"  # its builder had nothing to say
    assert status_of("broken") == "pending"  # retried later
    assert "broken" in Announcement.get(Announcement.key == "broken").error


async def test_no_channel_means_no_posting(rec: DiscordRecorder) -> None:
    poster = make_poster(rec.bot, channel_id=None)
    queue("8")
    assert not poster.enabled
    assert await poster.drain() == 0
    assert status_of("8") == "pending"


async def test_woken_poster_posts_promptly(rec: DiscordRecorder) -> None:
    poster = make_poster(rec.bot)
    poster.poll_seconds = 3600  # only the wake-up can make it post in this test
    task = asyncio.create_task(poster.run())
    try:
        await asyncio.sleep(0)
        queue("9")
        poster.wake()
        sent = await rec.wait_for(lambda r: r.route == CHANNEL_MESSAGE, timeout=10)
        assert sent.content == "round 9 @everyone"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_a_kind_has_one_builder(bot: EtBot) -> None:
    poster = make_poster(bot)
    with pytest.raises(ValueError, match="already registered"):
        poster.register("round_summary", poster._builders["round_summary"])
    assert poster.kinds == ["round_summary"]

"""/availability through the recorder: the poll's layout, votes by several members (and a
change of mind) updating the counts in place, the buttons after a restart, friendly
errors, the reminder that pings only the yes group exactly once across a restart, and
/sessions showing an agreed start."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
import time_machine
from peewee import Database

from commands.conftest import FakeRenderer, make_settings
from commands.helpers import fields, run_deferred
from discordkit import (
    CHANNEL_ID,
    CHANNEL_MESSAGE,
    FOLLOWUP,
    OWNER_ID,
    PLAYER_ID,
    DiscordRecorder,
    FakeUser,
    RecordedRequest,
)
from discordkit import payloads as p
from etbot import availability
from etbot.bot import EtBot
from etbot.commands.availability import AvailabilityCog
from etbot.db import Db
from etbot.models import Announcement, AvailabilityPoll, AvailabilityVote

BERLIN = ZoneInfo("Europe/Berlin")
#: Monday 3 November 2025, noon in server time (after the last real corpus file).
NOW = datetime(2025, 11, 3, 12, 0, tzinfo=BERLIN)
CAROL = FakeUser(424242424242424242, "carol", global_name="Carol")


def buttons(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [row["components"] for row in rows]


def poll_id_of(message: dict[str, Any] | RecordedRequest) -> int:
    rows = message.components if isinstance(message, RecordedRequest) else message["components"]
    return int(rows[0]["components"][0]["custom_id"].split(":")[3])


def vote_id(poll_id: int, day: str, answer: str) -> str:
    return f"etbot:poll:vote:{poll_id}:{day}:{answer}"


async def post_poll(rec: DiscordRecorder[EtBot], *options: dict) -> RecordedRequest:
    """Run /availability at :data:`NOW` and return the edit with its first message."""
    with time_machine.travel(NOW, tick=False):
        return await run_deferred(rec, p.slash_command("availability", list(options)))


async def click(
    rec: DiscordRecorder[EtBot], message: dict[str, Any], cid: str, user: FakeUser
) -> RecordedRequest:
    payload = p.button_click(cid, message=message, user=user)
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        await rec.dispatch(payload)
        return await rec.wait_for_response(payload)


def labels(reply: RecordedRequest, row: int) -> list[str]:
    return [b["label"] for b in buttons(reply.components)[row]]


async def test_a_poll_has_one_row_per_day_in_messages_of_five(rec: DiscordRecorder[EtBot]) -> None:
    edit = await post_poll(rec, p.option("at", "21:00"))  # 7 days by default
    [more] = rec.by_route(FOLLOWUP)
    first, second = buttons(edit.components), buttons(more.components)
    assert (len(first), len(second)) == (5, 2)  # Discord: at most 5 rows per message
    assert all(len(row) == 3 for row in first + second)
    poll_id = poll_id_of(edit)
    days = ["20251103", "20251104", "20251105", "20251106", "20251107", "20251108", "20251109"]
    ids = [[b["custom_id"] for b in row] for row in first + second]
    assert ids == [[vote_id(poll_id, d, a) for a in ("yes", "maybe", "no")] for d in days]
    assert first[0][0]["label"] == "Mon 03: yes (0)"
    assert [b["label"] for b in first[0][1:]] == ["maybe (0)", "no (0)"]
    [embed] = edit.embeds
    assert embed["title"] == "Who can play? (1/2)"
    assert list(fields(embed)) == [
        "Mon 03 Nov",
        "Tue 04 Nov",
        "Wed 05 Nov",
        "Thu 06 Nov",
        "Fri 07 Nov",
    ]
    assert [f["name"] for f in more.embeds[0]["fields"]] == ["Sat 08 Nov", "Sun 09 Nov"]
    # 21:00 in Berlin as a Discord timestamp, shown in each reader's own timezone.
    nine = int(datetime(2025, 11, 3, 21, 0, tzinfo=BERLIN).timestamp())
    assert f"<t:{nine}:t> (proposed" in fields(embed)["Mon 03 Nov"]
    assert "**21:00** server time" in embed["description"]


async def test_option_bounds_and_a_bad_time(rec: DiscordRecorder[EtBot]) -> None:
    command = rec.bot.get_slash_command("availability")
    assert command is not None
    options = {o.name: o for o in command.body.options}
    assert (options["days"].min_value, options["days"].max_value) == (1, 14)
    assert not options["days"].required
    assert not options["at"].required
    payload = p.slash_command("availability", [p.option("at", "25:99")])
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for_response(payload)
    assert reply.ephemeral
    assert "HH:MM" in reply.embeds[0]["description"]
    assert "25:99" in reply.embeds[0]["description"]
    assert AvailabilityPoll.select().count() == 0


async def test_a_member_cannot_flood_the_channel_with_polls(rec: DiscordRecorder[EtBot]) -> None:
    for _ in range(2):
        await post_poll(rec, p.option("days", 1))
        rec.clear()
    with time_machine.travel(NOW, tick=False):  # the id (a snowflake) carries the time
        payload = p.slash_command("availability", [p.option("days", 1)])
        await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for_response(payload)
    assert reply.ephemeral
    assert "Slow down" in reply.embeds[0]["description"]
    assert AvailabilityPoll.select().count() == 2


async def test_predicted_starts_without_a_time(rec: DiscordRecorder[EtBot]) -> None:
    edit = await post_poll(rec, p.option("days", 2))
    assert rec.by_route(FOLLOWUP) == []
    poll = availability.get_poll(poll_id_of(edit))
    [embed] = edit.embeds
    assert embed["title"] == "Who can play?"
    for entry, value in zip(poll.days, fields(embed).values(), strict=True):
        if entry.start is None:
            assert "start open" in value
        else:
            assert (
                f"<t:{int(entry.start.replace(tzinfo=BERLIN).timestamp())}:t> (predicted" in value
            )


async def test_members_vote_change_their_mind_and_counts_update_in_place(
    rec: DiscordRecorder[EtBot],
) -> None:
    edit = await post_poll(rec, p.option("days", 3), p.option("at", "21:00"))
    message, poll_id = edit.response, poll_id_of(edit)
    owner, player = rec.world.owner, rec.world.player
    reply = await click(rec, message, vote_id(poll_id, "20251104", "yes"), owner)
    assert reply.callback_type == 7  # the poll message itself is edited
    assert labels(reply, 1) == ["Tue 04: yes (1)", "maybe (0)", "no (0)"]
    assert labels(reply, 0) == ["Mon 03: yes (0)", "maybe (0)", "no (0)"]
    reply = await click(rec, message, vote_id(poll_id, "20251104", "maybe"), player)
    assert labels(reply, 1) == ["Tue 04: yes (1)", "maybe (1)", "no (0)"]
    tuesday = fields(reply.embeds[0])["Tue 04 Nov"]
    assert f"yes **1** · <@{OWNER_ID}>" in tuesday
    assert f"maybe **1** · <@{PLAYER_ID}>" in tuesday
    # The owner changes their mind: one vote per member and day, so yes drops to 0.
    reply = await click(rec, message, vote_id(poll_id, "20251104", "no"), owner)
    assert labels(reply, 1) == ["Tue 04: yes (0)", "maybe (1)", "no (1)"]
    rows = AvailabilityVote.select().where(AvailabilityVote.member_id == OWNER_ID)
    assert [(r.answer) for r in rows] == ["no"]
    # A third member says yes on Wednesday; the poll embed never pings (mentions in embeds).
    reply = await click(rec, message, vote_id(poll_id, "20251105", "yes"), CAROL)
    assert labels(reply, 2) == ["Wed 05: yes (1)", "maybe (0)", "no (0)"]
    assert f"<@{CAROL.id}>" in fields(reply.embeds[0])["Wed 05 Nov"]


async def test_a_vote_on_the_second_message_edits_that_message(rec: DiscordRecorder[EtBot]) -> None:
    edit = await post_poll(rec, p.option("at", "21:00"))
    [more] = rec.by_route(FOLLOWUP)
    reply = await click(
        rec, more.response, vote_id(poll_id_of(edit), "20251109", "yes"), rec.world.player
    )
    assert reply.embeds[0]["title"] == "Who can play? (2/2)"
    assert labels(reply, 1) == ["Sun 09: yes (1)", "maybe (0)", "no (0)"]


@pytest.mark.parametrize(
    ("suffix", "expected"),
    [
        ("abc:20251103:yes", "outdated"),
        ("{poll}:20251303:yes", "outdated"),
        ("{poll}:20251103:perhaps", "outdated"),
        ("{poll}:20251120:yes", "not part of this poll"),
        ("999999:20251103:yes", "no longer exists"),
    ],
)
async def test_bad_or_stale_buttons_get_a_friendly_private_answer(
    rec: DiscordRecorder[EtBot], suffix: str, expected: str
) -> None:
    edit = await post_poll(rec, p.option("days", 2), p.option("at", "21:00"))
    cid = "etbot:poll:vote:" + suffix.format(poll=poll_id_of(edit))
    reply = await click(rec, edit.response, cid, rec.world.player)
    assert reply.ephemeral
    assert expected in reply.embeds[0]["description"]
    assert AvailabilityVote.select().count() == 0


async def test_days_that_are_over_are_closed(rec: DiscordRecorder[EtBot]) -> None:
    edit = await post_poll(rec, p.option("days", 3), p.option("at", "21:00"))
    poll_id = poll_id_of(edit)
    payload = p.button_click(
        vote_id(poll_id, "20251104", "yes"), message=edit.response, user=rec.world.player
    )
    with time_machine.travel(NOW + timedelta(days=2), tick=False):  # Wednesday noon
        await rec.dispatch(payload)
        reply = await rec.wait_for_response(payload)
        assert reply.ephemeral  # a stale client could still click Tuesday
        assert "over" in reply.embeds[0]["description"]
        later = p.button_click(
            vote_id(poll_id, "20251105", "yes"), message=edit.response, user=rec.world.player
        )
        await rec.dispatch(later)
        reply = await rec.wait_for_response(later)
    disabled = [[b.get("disabled", False) for b in row] for row in buttons(reply.components)]
    assert disabled == [[True] * 3, [True] * 3, [False] * 3]


async def test_buttons_keep_working_after_a_restart(
    rec: DiscordRecorder[EtBot], corpus_database: Database, renderer: FakeRenderer
) -> None:
    edit = await post_poll(rec, p.option("days", 2), p.option("at", "21:00"))
    message, poll_id = edit.response, poll_id_of(edit)
    await click(rec, message, vote_id(poll_id, "20251103", "yes"), rec.world.owner)
    # A new process: a new bot over the same database, nothing registered for this poll.
    async with new_bot(corpus_database, renderer) as again:
        with DiscordRecorder(again) as rec2:
            reply = await click(
                rec2, message, vote_id(poll_id, "20251103", "yes"), rec2.world.player
            )
    assert reply.callback_type == 7
    assert labels(reply, 0) == ["Mon 03: yes (2)", "maybe (0)", "no (0)"]


# --------------------------------------------------------------------------- reminders


@contextlib.asynccontextmanager
async def new_bot(
    database: Database, renderer: FakeRenderer, **settings: Any
) -> AsyncIterator[EtBot]:
    """A fresh EtBot (all cogs) over ``database``, as after a restart."""
    db = Db(database)
    settings.setdefault("announce_channel_id", CHANNEL_ID)
    url = f"sqlite:///{database.database}"
    bot = EtBot(make_settings(url, **settings), db, renderer=renderer)  # type: ignore[arg-type]
    try:
        yield bot
    finally:
        db._pool.shutdown(wait=True)


def cog_of(bot: EtBot) -> AvailabilityCog:
    # load_extension imports the cog module afresh, so the class is not this module's one.
    cog = bot.get_cog("AvailabilityCog")
    assert type(cog).__name__ == "AvailabilityCog"
    return cast(AvailabilityCog, cog)


@pytest.fixture
async def announcing(
    corpus_database: Database, renderer: FakeRenderer
) -> AsyncIterator[DiscordRecorder[EtBot]]:
    """A bot with an announcement channel, recorded."""
    async with new_bot(corpus_database, renderer) as bot:
        with DiscordRecorder(bot) as recorder:
            yield recorder


async def test_the_yes_group_is_reminded_once_even_across_a_restart(
    announcing: DiscordRecorder[EtBot], corpus_database: Database, renderer: FakeRenderer
) -> None:
    rec = announcing
    edit = await post_poll(rec, p.option("days", 2), p.option("at", "21:00"))
    message, poll_id = edit.response, poll_id_of(edit)
    await click(rec, message, vote_id(poll_id, "20251103", "yes"), rec.world.owner)
    await click(rec, message, vote_id(poll_id, "20251103", "no"), rec.world.player)
    await click(rec, message, vote_id(poll_id, "20251103", "yes"), CAROL)
    await click(rec, message, vote_id(poll_id, "20251104", "yes"), rec.world.player)
    start = datetime(2025, 11, 3, 21, 0, tzinfo=BERLIN)
    cog = cog_of(rec.bot)
    with time_machine.travel(start - timedelta(minutes=31), tick=False):
        assert await cog.check_reminders() == 0  # not yet
        assert await rec.bot.poster.drain() == 0
    with time_machine.travel(start - timedelta(minutes=29), tick=False):
        assert await cog.check_reminders() == 1
        assert await rec.bot.poster.drain() == 1
        assert await cog.check_reminders() == 0  # the next check finds it done
        assert await rec.bot.poster.drain() == 0
    [post] = rec.by_route(CHANNEL_MESSAGE)
    assert post.params["channel_id"] == str(CHANNEL_ID)
    content = post.content or ""
    assert f"<@{OWNER_ID}>" in content
    assert f"<@{CAROL.id}>" in content
    assert f"<@{PLAYER_ID}>" not in content  # said no on Monday
    assert f"<t:{int(start.timestamp())}:t>" in content
    assert "Monday 03 Nov" in content
    # Only the yes group may be pinged: no @everyone, no roles, no one else.
    mentions = post.json["allowed_mentions"]
    assert mentions["parse"] == []
    assert sorted(int(u) for u in mentions["users"]) == sorted([OWNER_ID, CAROL.id])
    assert not mentions.get("roles")
    # A restart a few minutes later (new bot, new poster): nothing is posted again.
    async with new_bot(corpus_database, renderer) as again:
        with DiscordRecorder(again) as rec2, time_machine.travel(start - timedelta(minutes=20)):
            assert await cog_of(again).check_reminders() == 0
            assert await again.poster.drain() == 0
            assert rec2.by_route(CHANNEL_MESSAGE) == []
    [row] = Announcement.select().where(Announcement.kind == "availability_reminder")
    assert (row.key, row.status) == (f"{poll_id}:20251103", "sent")


async def test_no_reminder_without_yes_or_after_the_start(
    announcing: DiscordRecorder[EtBot],
) -> None:
    rec = announcing
    edit = await post_poll(rec, p.option("days", 1), p.option("at", "21:00"))
    await click(rec, edit.response, vote_id(poll_id_of(edit), "20251103", "no"), rec.world.owner)
    start = datetime(2025, 11, 3, 21, 0, tzinfo=BERLIN)
    with time_machine.travel(start - timedelta(minutes=10), tick=False):
        assert await cog_of(rec.bot).check_reminders() == 0
    # A reminder still queued when its start has passed (the bot was down) says nothing.
    key = availability.reminder_key(poll_id_of(edit), start.date())
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        assert await cog_of(rec.bot).build_reminder(key) is None
        assert await cog_of(rec.bot).build_reminder("garbage") is None
    assert rec.by_route(CHANNEL_MESSAGE) == []


# --------------------------------------------------------------------------- /sessions


async def test_sessions_shows_the_agreed_start(rec: DiscordRecorder[EtBot]) -> None:
    with time_machine.travel(NOW, tick=False):
        predicted = availability.next_session(NOW, BERLIN)
        edit = await run_deferred(rec, p.slash_command("sessions"))
    value = fields(edit.embeds[0])["Next session"]
    if predicted.start is None:
        assert "No prediction yet" in value
    else:
        ts = int(predicted.start.timestamp())
        assert f"<t:{ts}:R>" in value
        assert "predicted from past sessions" in value
    assert list(fields(edit.embeds[0]))[-2:] == ["Weekly pattern", "Next session"]
    rec.clear()
    poll = await post_poll(rec, p.option("days", 3), p.option("at", "22:30"))
    for user in (rec.world.owner, rec.world.player):
        await click(rec, poll.response, vote_id(poll_id_of(poll), "20251104", "yes"), user)
    rec.clear()
    with time_machine.travel(NOW, tick=False):
        edit = await run_deferred(rec, p.slash_command("sessions"))
    value = fields(edit.embeds[0])["Next session"]
    agreed = int(datetime(2025, 11, 4, 22, 30, tzinfo=BERLIN).astimezone(UTC).timestamp())
    assert f"<t:{agreed}:R>" in value
    assert "agreed in an availability poll" in value
    assert re.search(r"<t:\d+:F>", value)

"""/availability: a poll for the coming days with yes / maybe / no buttons per day, counts
updated in place, and a reminder for the members who said yes shortly before each day's
start (domain: :mod:`etbot.availability`).

Layout within Discord's limits (5 action rows per message, 5 buttons per row): one row per
day holding its three buttons, so one message shows up to :data:`DAYS_PER_MESSAGE` days; a
longer poll continues in follow-up messages (7 days = 5 + 2). A click edits the message it
was on. The buttons are persistent components (``etbot:poll:vote:<poll>:<YYYYMMDD>:<answer>``)
handled by one listener that reads the poll from the database, so they keep working after
a restart.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction, MessageInteraction

from etbot import availability
from etbot.availability import ANSWERS, Poll, PollDay, Reminder
from etbot.commands._base import COLOUR_INFO, BaseCog, Resources, get_resources
from etbot.errors import UserError
from etbot.poster import Post, Poster
from etbot.views.components import CustomIdError, component_listener, custom_id, int_arg

log = logging.getLogger(__name__)

#: Discord allows 5 action rows per message; each day takes one row of 3 buttons.
DAYS_PER_MESSAGE = 5
#: How often the bot looks for reminders that are due.
CHECK_SECONDS = 60.0
#: Members named per answer in the poll (the count is always complete).
NAMES_SHOWN = 10
#: Members pinged by one reminder (a mention is ~22 characters; a message holds 2000).
MENTIONS_SHOWN = 60

EMOJI = {"yes": "✅", "maybe": "🤔", "no": "❌"}
STYLE = {
    "yes": disnake.ButtonStyle.success,
    "maybe": disnake.ButtonStyle.secondary,
    "no": disnake.ButtonStyle.danger,
}


def blocks(poll: Poll) -> list[list[PollDay]]:
    """The poll's days, one message's worth (:data:`DAYS_PER_MESSAGE`) per block."""
    return [poll.days[i : i + DAYS_PER_MESSAGE] for i in range(0, len(poll.days), DAYS_PER_MESSAGE)]


def block_of(poll: Poll, day: date) -> int:
    """Which message of the poll shows ``day``."""
    return next(i for i, block in enumerate(blocks(poll)) if any(d.day == day for d in block))


def unix(local: datetime, zone: ZoneInfo) -> int:
    """Seconds since the epoch of a naive server-local datetime."""
    return int(local.replace(tzinfo=zone).timestamp())


def people(members: list[int]) -> str:
    """Mentions of up to :data:`NAMES_SHOWN` members (in an embed they ping nobody)."""
    shown = " ".join(f"<@{m}>" for m in members[:NAMES_SHOWN])
    more = len(members) - NAMES_SHOWN
    return shown + (f" +{more}" if more > 0 else "")


def start_text(entry: PollDay, zone: ZoneInfo) -> str:
    """When the day's session would start, in every reader's own timezone."""
    if entry.start is None:
        return "🕘 start open (no sessions to predict from yet)"
    ts = unix(entry.start, zone)
    kind = "proposed" if entry.proposed else "predicted"
    return f"🕘 <t:{ts}:t> ({kind}, <t:{ts}:R>)"


def day_value(entry: PollDay, zone: ZoneInfo) -> str:
    """An embed field value: the start, then each answer with its count and who."""
    lines = [start_text(entry, zone)]
    for answer in ANSWERS:
        members: list[int] = getattr(entry, answer)
        line = f"{EMOJI[answer]} {answer} **{len(members)}**"
        if members:
            line += " · " + people(members)
        lines.append(line)
    return "\n".join(lines)[:1024]


def poll_embed(poll: Poll, block: int, zone: ZoneInfo) -> disnake.Embed:
    """The embed of one message of a poll (``block``): one field per day."""
    parts = blocks(poll)
    title = "Who can play?"
    if len(parts) > 1:
        title += f" ({block + 1}/{len(parts)})"
    if poll.start_time is not None:
        asked = f"Start: **{poll.start_time}** server time each day."
    else:
        asked = "Start: the predicted start of each evening."
    embed = disnake.Embed(
        title=title,
        description=(
            f"{asked} One answer per member and day; click another button to change it. "
            f"Members who say yes get a reminder shortly before the start."
        ),
        colour=COLOUR_INFO,
    )
    for entry in parts[block]:
        name = f"{entry.day:%a %d %b}"
        if entry.agreed:
            name += " · agreed ✔"
        embed.add_field(name, day_value(entry, zone), inline=False)
    embed.set_footer(text=f"Poll {poll.id}")
    return embed


def poll_rows(poll: Poll, block: int, today: date) -> list[disnake.ui.ActionRow]:
    """One row per day of the block: yes / maybe / no with their counts; days that are
    over are disabled."""
    rows = []
    for entry in blocks(poll)[block]:
        row = disnake.ui.ActionRow()
        for answer in ANSWERS:
            count = len(getattr(entry, answer))
            label = (
                f"{entry.day:%a %d}: {answer} ({count})"
                if answer == "yes"
                else f"{answer} ({count})"
            )
            row.append_item(
                disnake.ui.Button(
                    label=label,
                    emoji=EMOJI[answer],
                    style=STYLE[answer],
                    custom_id=custom_id(
                        "poll", "vote", poll.id, availability.day_key(entry.day), answer
                    ),
                    disabled=entry.day < today,
                )
            )
        rows.append(row)
    return rows


def reminder_post(found: Reminder, zone: ZoneInfo) -> Post:
    """The reminder message: mentions of the members who said yes, pinging only them."""
    ts = unix(found.start, zone)
    shown = found.yes[:MENTIONS_SHOWN]
    more = len(found.yes) - len(shown)
    mentions = " ".join(f"<@{m}>" for m in shown) + (f" +{more}" if more > 0 else "")
    kind = "proposed" if found.proposed else "expected"
    content = (
        f"⏰ {mentions}\nYou said yes for **{found.day:%A %d %b}**: the {kind} start is "
        f"<t:{ts}:t> (<t:{ts}:R>). See you on the server!"
    )
    return Post(
        content=content,
        allowed_mentions=disnake.AllowedMentions(
            everyone=False,
            roles=False,
            replied_user=False,
            users=[disnake.Object(id=m) for m in shown],
        ),
    )


class AvailabilityCog(BaseCog):
    """Availability polls and their reminders."""

    def __init__(self, resources: Resources, bot: commands.InteractionBot) -> None:
        super().__init__(resources)
        self.bot = bot
        self._reminders: asyncio.Task[None] | None = None

    def server_now(self) -> datetime:
        """Now in server time, naive (how the database stores times)."""
        return self.res.local_now().replace(tzinfo=None)

    @commands.slash_command(
        name="availability", description="Ask who can play on the coming days (yes / maybe / no)"
    )
    @commands.cooldown(2, 60.0, commands.BucketType.user)  # a poll is a few messages: no spam
    async def availability_command(
        self,
        inter: ApplicationCommandInteraction,
        days: int = commands.Param(
            default=availability.DEFAULT_DAYS,
            ge=1,
            le=availability.MAX_DAYS,
            description="How many days from today (1-14)",
        ),
        at: str | None = commands.Param(
            default=None,
            max_length=8,
            description="Start to ask about, HH:MM server time (default: the predicted start)",
        ),
    ) -> None:
        if inter.guild_id is None:
            raise UserError("Availability polls work in a server channel.")
        start_time = availability.parse_start_time(at) if at is not None else None
        await inter.response.defer()
        poll = await self.res.run(
            availability.create_poll,
            guild_id=inter.guild_id,
            channel_id=inter.channel_id,
            created_by=inter.author.id,
            now=self.server_now(),
            days=days,
            start_time=start_time,
        )
        zone = self.res.settings.tz
        today = self.server_now().date()
        for block in range(len(blocks(poll))):
            embed, rows = poll_embed(poll, block, zone), poll_rows(poll, block, today)
            if block == 0:
                await inter.edit_original_response(embed=embed, components=rows)
            else:
                await inter.followup.send(embed=embed, components=rows)

    @component_listener("poll")
    async def on_poll_button(self, inter: MessageInteraction, action: str, args: list[str]) -> None:
        """A yes / maybe / no click: store it, then show the new counts on that message."""
        if action != "vote" or len(args) != 3 or args[2] not in ANSWERS:
            raise CustomIdError(f"unknown poll component {action!r} {args!r}")
        poll_id = int_arg(args, 0)
        try:
            day = availability.parse_day_key(args[1])
        except ValueError:
            raise CustomIdError(f"malformed poll day {args[1]!r}") from None
        now = self.server_now()
        poll = await self.res.run(
            availability.vote, poll_id, day, inter.author.id, args[2], now=now
        )
        block = block_of(poll, day)
        await inter.response.edit_message(
            embed=poll_embed(poll, block, self.res.settings.tz),
            components=poll_rows(poll, block, now.date()),
        )

    # ------------------------------------------------------------------ reminders

    async def check_reminders(self) -> int:
        """Queue the reminders that are due (each one once, ever) and wake the poster;
        returns how many were queued now."""
        added = await self.res.db.run(availability.queue_due_reminders, self.server_now())
        poster = getattr(self.bot, "poster", None)
        if added and isinstance(poster, Poster):
            poster.wake()
        return added

    async def build_reminder(self, key: str) -> Post | None:
        """The poster's builder for ``availability_reminder`` rows."""
        try:
            found = await self.res.db.run(availability.reminder, key, self.server_now())
        except ValueError:
            log.warning("malformed availability reminder key %r", key)
            return None
        return None if found is None else reminder_post(found, self.res.settings.tz)

    async def _remind_forever(self) -> None:
        while True:
            try:
                await self.check_reminders()
            except Exception:  # one failed check must not stop the next ones
                log.exception("checking availability reminders failed")
            await asyncio.sleep(CHECK_SECONDS)

    @commands.Cog.listener("on_ready")
    async def start_reminders(self) -> None:
        """Start the reminder checks once the bot is connected (on_ready may repeat)."""
        if self._reminders is not None and not self._reminders.done():
            return
        spawn = getattr(self.bot, "spawn", None)
        coro = self._remind_forever()
        if callable(spawn):
            self._reminders = spawn(coro, name="etbot-availability-reminders")
        else:
            self._reminders = asyncio.get_running_loop().create_task(coro)

    def cog_unload(self) -> None:
        if self._reminders is not None:
            self._reminders.cancel()


def setup(bot: commands.InteractionBot) -> None:
    cog = AvailabilityCog(get_resources(bot), bot)
    bot.add_cog(cog)
    poster = getattr(bot, "poster", None)
    if isinstance(poster, Poster):
        poster.register(availability.REMINDER_KIND, cog.build_reminder)

"""/sessions: the latest gaming sessions, the weekly pattern and when the next one is due."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from etbot import charts, stats
from etbot.commands._base import COLOUR_INFO, BaseCog, get_resources

log = logging.getLogger(__name__)

SESSIONS_SHOWN = 5
MAPS_SHOWN = 6


def unix(local: datetime, zone: ZoneInfo) -> int:
    """Seconds since the epoch of a naive server-local datetime (or an aware one)."""
    aware = local if local.tzinfo is not None else local.replace(tzinfo=zone)
    return int(aware.timestamp())


def fmt_length(seconds: float) -> str:
    minutes = max(0, round(seconds / 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


def session_field(session: stats.SessionInfo, zone: ZoneInfo) -> tuple[str, str]:
    """(field name, value) describing one session; times as Discord timestamps, so every
    reader sees them in their own timezone."""
    start = unix(session.started_at, zone)
    name = f"{session.started_at:%a %d %b %Y} · {session.server}"[:256]
    maps = session.maps[:MAPS_SHOWN]
    more = f" +{len(session.maps) - len(maps)}" if len(session.maps) > len(maps) else ""
    lines = [
        f"<t:{start}:f> · {fmt_length(session.duration.total_seconds())} · "
        f"{session.round_count} rounds · {session.player_count} players",
        "Maps: " + (disnake.utils.escape_markdown(", ".join(maps)) + more if maps else "–"),
    ]
    if session.top_fragger:
        top = disnake.utils.escape_markdown(session.top_fragger)
        lines.append(f"Top fragger: **{top}** ({session.top_fragger_kills} kills)")
    return name, "\n".join(lines)[:1024]


def pattern_text(pattern: stats.WeeklyPattern) -> str:
    """Usual session starts (server time) and the next expected one."""
    if not pattern.slots:
        return (
            f"No regular pattern in the last {stats.PATTERN_WEEKS} weeks "
            f"({pattern.sessions} sessions)."
        )
    usual = ", ".join(
        f"{charts.WEEKDAYS[s.weekday]} {s.hour:02d}:{s.minute:02d}" for s in pattern.slots
    )
    text = f"Usually {usual} ({pattern.timezone}), over {pattern.weeks_observed} weeks."
    if pattern.next_session is not None:
        ts = int(pattern.next_session.timestamp())
        text += f"\nNext expected: <t:{ts}:F> (<t:{ts}:R>)"
    return text


def sessions_embed(
    sessions: list[stats.SessionInfo], pattern: stats.WeeklyPattern, zone: ZoneInfo
) -> disnake.Embed:
    embed = disnake.Embed(title="Recent sessions", colour=COLOUR_INFO)
    for session in sessions:
        name, value = session_field(session, zone)
        embed.add_field(name, value, inline=False)
    embed.add_field("Weekly pattern", pattern_text(pattern), inline=False)
    return embed


class SessionsCog(BaseCog):
    """Gaming sessions."""

    @commands.slash_command(
        name="sessions", description="Recent gaming sessions and when the next one is due"
    )
    async def sessions(self, inter: ApplicationCommandInteraction) -> None:
        await inter.response.defer()
        recent = await self.res.query(
            ("recent_sessions", SESSIONS_SHOWN), stats.recent_sessions, SESSIONS_SHOWN
        )
        tz = self.res.settings.server_timezone
        # Not cached: "next session" depends on the current minute.
        pattern = await self.res.uncached(stats.weekly_pattern, tz, disnake.utils.utcnow())
        await inter.edit_original_response(
            embed=sessions_embed(recent, pattern, self.res.settings.tz)
        )


def setup(bot: commands.InteractionBot) -> None:
    bot.add_cog(SessionsCog(get_resources(bot)))

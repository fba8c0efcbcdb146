"""/sessions: the latest gaming sessions, the weekly pattern and when the next one is due
(domain: :mod:`etbot.sessions`)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from etbot import availability, charts, sessions
from etbot.commands._base import COLOUR_INFO, BaseCog, get_resources
from etbot.commands.converters import server_param
from etbot.commands.formatting import (
    FIELD_NAME_MAX,
    TITLE_MAX,
    clip_markdown,
    duration,
    escape,
)
from etbot.commands.matchnight import final_score_text
from etbot.servers import ServerRef

SESSIONS_SHOWN = 5
MAPS_SHOWN = 6
#: Matches (line-ups) of one session whose score is shown.
MATCHES_SHOWN = 3
#: Discord limit: characters of a field value.
FIELD_MAX = 1024


def unix(local: datetime, zone: ZoneInfo) -> int:
    """Seconds since the epoch of a naive server-local datetime (or an aware one)."""
    aware = local if local.tzinfo is not None else local.replace(tzinfo=zone)
    return int(aware.timestamp())


def session_field(session: sessions.SessionInfo, zone: ZoneInfo) -> tuple[str, str]:
    """(field name, value) describing one session; times as Discord timestamps, so every
    reader sees them in their own timezone."""
    start = unix(session.started_at, zone)
    name = clip_markdown(
        f"{session.started_at:%a %d %b %Y} · {escape(session.server)}", FIELD_NAME_MAX
    )
    maps = session.maps[:MAPS_SHOWN]
    more = f" +{len(session.maps) - len(maps)}" if len(session.maps) > len(maps) else ""
    lines = [
        f"<t:{start}:f> · {duration(session.duration.total_seconds())} · "
        f"{session.round_count} rounds · {session.player_count} players",
        "Maps: " + (escape(", ".join(maps)) + more if maps else "–"),
    ]
    if session.top_fragger:
        top = escape(session.top_fragger)
        lines.append(f"Top fragger: **{top}** ({session.top_fragger_kills} kills)")
    decided = [m for m in session.matches if m.decided]
    if decided:
        scores = "; ".join(final_score_text(m) for m in decided[:MATCHES_SHOWN])
        hidden = len(decided) - MATCHES_SHOWN
        lines.append(f"Score: {scores}" + (f" (+{hidden} more line-ups)" if hidden > 0 else ""))
    return name, "\n".join(lines)[:FIELD_MAX]


def pattern_text(pattern: sessions.WeeklyPattern) -> str:
    """Usual session starts (server time)."""
    if not pattern.slots:
        return (
            f"No regular pattern in the last {sessions.PATTERN_WEEKS} weeks "
            f"({pattern.sessions} sessions)."
        )
    usual = ", ".join(
        f"{charts.WEEKDAYS[s.weekday]} {s.hour:02d}:{s.minute:02d}" for s in pattern.slots
    )
    return f"Usually {usual} ({pattern.timezone}), over {pattern.weeks_observed} weeks."


def next_session_text(upcoming: availability.NextSession) -> str:
    """When the next session starts, as Discord timestamps, and where that comes from."""
    if upcoming.start is None:
        return "No prediction yet: no rounds in the last year and no agreed start."
    ts = int(upcoming.start.timestamp())
    source = (
        "agreed in an availability poll"
        if upcoming.agreed
        else "predicted from past sessions (see /availability to agree on one)"
    )
    return f"<t:{ts}:F> (<t:{ts}:R>) · {source}"


def sessions_embed(
    recent: list[sessions.SessionInfo],
    pattern: sessions.WeeklyPattern,
    zone: ZoneInfo,
    upcoming: availability.NextSession | None = None,
    server: str | None = None,
) -> disnake.Embed:
    """The /sessions embed: one field per recent session, the weekly pattern, then the
    next session; ``server`` names the game server the sessions and pattern are of."""
    title = "Recent sessions"
    if server is not None:
        title = clip_markdown(f"{title} on {escape(server)}", TITLE_MAX)
    embed = disnake.Embed(title=title, colour=COLOUR_INFO)
    for session in recent:
        name, value = session_field(session, zone)
        embed.add_field(name, value, inline=False)
    embed.add_field("Weekly pattern", pattern_text(pattern), inline=False)
    if upcoming is not None:
        embed.add_field("Next session", next_session_text(upcoming), inline=False)
    return embed


class SessionsCog(BaseCog):
    """Gaming sessions."""

    @commands.slash_command(
        name="sessions", description="Recent gaming sessions and when the next one is due"
    )
    async def sessions_command(
        self,
        inter: ApplicationCommandInteraction,
        server: ServerRef | None = server_param("Only this game server's sessions"),
    ) -> None:
        await inter.response.defer()
        # Without a server, the very calls (and cache keys) of every server's answer.
        one: dict[str, int] = {"server": server.id} if server else {}
        recent = await self.res.run(sessions.recent_sessions, SESSIONS_SHOWN, **one)
        tz = self.res.settings.server_timezone
        now = disnake.utils.utcnow()
        pattern = await self.res.run(sessions.weekly_pattern, tz, now, **one)
        # Not cached: the next session depends on the current minute and on poll answers.
        upcoming = await self.res.run(availability.next_session, now, tz)
        await inter.edit_original_response(
            embed=sessions_embed(
                recent, pattern, self.res.settings.tz, upcoming, server.name if server else None
            )
        )


def setup(bot: commands.InteractionBot) -> None:
    bot.add_cog(SessionsCog(get_resources(bot)))

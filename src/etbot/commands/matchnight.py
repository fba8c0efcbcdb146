"""Live match night in Discord: round and map summaries in the announcement channel, and a
presence that says what is going on (domain: :mod:`etbot.matchnight`, :mod:`etbot.stopwatch`).

The summaries are built here from the domain's data when the poster (:mod:`etbot.poster`)
sends the outbox rows the import queued (``round_summary`` / ``map_summary``). The
presence is refreshed by a background loop every :attr:`MatchNightCog.presence_seconds`
seconds, and only sent when its text changed (Discord rate-limits presence updates).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import disnake
from disnake.ext import commands

from etbot import availability, charts, matchnight
from etbot.commands._base import COLOUR_INFO, COLOUR_OK, BaseCog, Resources, get_resources
from etbot.commands.formatting import clip, escape
from etbot.matchnight import MapSummary, Notable, PlayerLine, PresenceState, RoundSummary
from etbot.poster import Post
from etbot.stopwatch import TEAM_A, Match, ScoredMap

log = logging.getLogger(__name__)

#: Players listed per team in a round summary, and overall in a map summary.
TOP_PER_TEAM = 3
TOP_OVERALL = 5
#: Discord limits: characters of an embed description / field value, and of a presence.
DESCRIPTION_MAX = 4096
FIELD_MAX = 1024
PRESENCE_MAX = 128
#: Team members named in a sentence before "+N".
NAMES_SHOWN = 6


# --------------------------------------------------------------------------- text pieces


def counted(n: int, word: str) -> str:
    """ "1 kill", "3 kills"."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def clock(seconds: int | None) -> str:
    """12:00, 4:07; "?" when unknown."""
    if seconds is None:
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def score_text(match: Match, *, markdown: bool = True) -> str:
    """The score of a match: "Team vid leads 2–1", "Team vid and Team olz are level at
    1–1", "Team vid vs Team olz, 0–0"; draws in brackets."""
    a, b = match.team_a.name, match.team_b.name
    if markdown:
        a, b = f"**{escape(a)}**", f"**{escape(b)}**"
    wa, wb = match.wins_a, match.wins_b
    if wa == wb == 0:
        text = f"{a} vs {b}, 0–0"
    elif wa == wb:
        text = f"{a} and {b} are level at {wa}–{wb}"
    elif wa > wb:
        text = f"{a} leads {wa}–{wb}"
    else:
        text = f"{b} leads {wb}–{wa}"
    if match.draws:
        text += f" ({counted(match.draws, 'draw')})"
    return text


def final_score_text(match: Match) -> str:
    """A match's score, neutrally: "**Team vid** 2–7 **Team olz** (1 draw)"."""
    a, b = escape(match.team_a.name), escape(match.team_b.name)
    text = f"**{a}** {match.wins_a}–{match.wins_b} **{b}**"
    if match.draws:
        text += f" ({counted(match.draws, 'draw')})"
    return text


def names_text(names: tuple[str, ...]) -> str:
    shown = ", ".join(escape(n) for n in names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    return shown + (f" +{more}" if more > 0 else "")


def player_line(p: PlayerLine, *, points: bool = False) -> str:
    """ "**vid** 22 K · 351 DPM · 1 obj · 3 rev" (+ points)."""
    text = (
        f"**{escape(p.name)}** {p.kills} K · {p.dpm:.0f} DPM · {p.objectives} obj · {p.revives} rev"
    )
    if points:
        text += f" · {p.points:g} pts"
    return text


def notable_text(item: Notable | None) -> str | None:
    """One sentence for a notable line."""
    if item is None:
        return None
    who = f"**{escape(item.player)}**"
    if item.kind == "multikill":
        return f"{who} made a {item.value:.0f}-kill multikill."
    if item.kind == "revives":
        return f"{who} revived team-mates {item.value:.0f} times."
    if item.kind == "accuracy":
        return f"{who} hit {item.value:.1f}% of {item.shots} shots."
    if item.kind == "headshots":
        return f"{who} scored {item.value:.0f} headshot kills."
    return None


def _after_map(summary: MapSummary) -> str:
    """ "**Team vid** (vid, endekk) wins **supply** and leads 2–1" and its variants."""
    map_name = f"**{escape(summary.map)}**"
    winner = summary.winning_side
    scored = summary.scored
    match = summary.match
    if winner is None:
        text = f"{map_name} ends in a draw"
        if match is not None and scored is not None:
            return f"{text}; {_score_after(match, scored)}."
        return f"{text}."
    text = f"**{escape(winner.name)}** ({names_text(winner.player_names)}) wins {map_name}"
    if match is None or scored is None or winner.label is None:
        return f"{text}."
    mine = scored.wins_a if winner.label == TEAM_A else scored.wins_b
    theirs = scored.wins_b if winner.label == TEAM_A else scored.wins_a
    if mine > theirs:
        return f"{text} and leads {mine}–{theirs}."
    if mine == theirs:
        return f"{text} and levels the score at {mine}–{theirs}."
    return f"{text} but trails {mine}–{theirs}."


def _score_after(match: Match, scored: ScoredMap) -> str:
    a, b = f"**{escape(match.team_a.name)}**", f"**{escape(match.team_b.name)}**"
    if scored.wins_a == scored.wins_b:
        return f"{a} and {b} are level at {scored.wins_a}–{scored.wins_b}"
    if scored.wins_a > scored.wins_b:
        return f"{a} leads {scored.wins_a}–{scored.wins_b}"
    return f"{b} leads {scored.wins_b}–{scored.wins_a}"


def stopwatch_text(summary: MapSummary) -> str:
    """Both times by the stopwatch rule, as two short lines."""
    first, second = summary.first_attack, summary.first_defence
    limit = clock(summary.time_limit_s)
    t1, t2 = summary.round1_time_s, summary.round2_time_s
    first_name, second_name = f"**{escape(first.name)}**", f"**{escape(second.name)}**"
    if summary.outcome == "draw":
        return f"Both defences held the full {limit}: a draw."
    if summary.outcome == "held":
        return (
            f"Round 1: {first_name} set **{clock(t1)}**.\n"
            f"Round 2: {second_name} did not beat it (defence held)."
        )
    # beat_time: the second attack completed faster than the first.
    if t1 is None or t1 >= summary.time_limit_s:
        round1 = f"Round 1: {first_name} did not complete in {limit} (defence held)."
    else:
        round1 = f"Round 1: {first_name} set **{clock(t1)}**."
    return f"{round1}\nRound 2: {second_name} completed in **{clock(t2)}** and wins."


# --------------------------------------------------------------------------- embeds


def round_summary_embed(summary: RoundSummary) -> disnake.Embed:
    """The ``round_summary`` post: map, the time set, top three per team, one notable."""
    attack, defence = summary.attack, summary.defence
    attackers = f"**{escape(attack.name)}**"
    if summary.completed:
        result = f"{attackers} attacked and set **{clock(summary.time_s)}**."
    else:
        result = (
            f"{attackers} attacked; **{escape(defence.name)}** held the full "
            f"{clock(summary.time_limit_s)}: **defence held**."
        )
    lines = [result]
    if summary.match is not None and summary.match.decided:
        lines.append(f"Match: {score_text(summary.match)}.")
    embed = disnake.Embed(
        title=f"{escape(summary.map)} · round 1",
        description="\n".join(lines)[:DESCRIPTION_MAX],
        colour=COLOUR_INFO,
    )
    for side, role in ((attack, "attack"), (defence, "defence")):
        top = "\n".join(player_line(p) for p in side.players[:TOP_PER_TEAM]) or "–"
        embed.add_field(clip(f"{side.name} ({role})", 256), top[:FIELD_MAX], inline=False)
    note = notable_text(summary.notable)
    if note:
        embed.add_field("Notable", note[:FIELD_MAX], inline=False)
    embed.set_footer(text=clip(f"{summary.server} · {summary.ended_at:%Y-%m-%d %H:%M}", 2048))
    return embed


def map_summary_embed(summary: MapSummary, image: str | None) -> disnake.Embed:
    """The ``map_summary`` post: the winner by the stopwatch rule with both times, the
    score, the best players of both teams, the MVP (and the chart as ``image``)."""
    description = f"{_after_map(summary)}\n{stopwatch_text(summary)}"
    embed = disnake.Embed(
        title=f"{escape(summary.map)} · map result",
        description=description[:DESCRIPTION_MAX],
        colour=COLOUR_OK,
    )
    mvp = summary.mvp
    if mvp is not None:
        embed.add_field(
            "MVP",
            (
                f"**{escape(mvp.name)}**: {mvp.points:g} points ("
                + ", ".join(
                    (
                        counted(mvp.kills, "kill"),
                        counted(mvp.revives, "revive"),
                        counted(mvp.kill_assists, "assist"),
                        counted(mvp.objectives, "objective"),
                        counted(mvp.team_kills, "team kill"),
                    )
                )
                + ")"
            )[:FIELD_MAX],
            inline=False,
        )
    team_of = {p.player_id: summary.first_attack.name for p in summary.first_attack.players}
    team_of.update({p.player_id: summary.first_defence.name for p in summary.first_defence.players})
    top = "\n".join(
        f"{i}. {player_line(p, points=True)} ({escape(team_of.get(p.player_id, '?'))})"
        for i, p in enumerate(summary.players[:TOP_OVERALL], start=1)
    )
    embed.add_field("Top players (both rounds)", (top or "–")[:FIELD_MAX], inline=False)
    note = notable_text(summary.notable)
    if note:
        embed.add_field("Notable", note[:FIELD_MAX], inline=False)
    if image is not None:
        embed.set_image(url=f"attachment://{image}")
    embed.set_footer(
        text=clip(
            f"{summary.server} · {summary.ended_at:%Y-%m-%d %H:%M} · MVP points: kills + "
            "revives + assists/2 + 3 × objectives − team kills",
            2048,
        )
    )
    return embed


def dpm_bars(summary: MapSummary) -> list[charts.TeamBars]:
    """Both teams' DPM per player (the map summary's chart data)."""
    return [
        charts.TeamBars(
            side.name, [p.name for p in side.players], [round(p.dpm, 1) for p in side.players]
        )
        for side in (summary.first_attack, summary.first_defence)
    ]


# --------------------------------------------------------------------------- presence


def presence_text(state: PresenceState, zone: ZoneInfo) -> str | None:
    """What the bot's presence says (plain text, at most 128 characters); None: nothing.

    * during a match: "supply · round 2 · Team vid leads 2–1" (the map whose round 2 is
      being played), or "after supply · Team vid leads 3–1" between maps;
    * after a session: "last session: Team vid won 5–3";
    * otherwise the next predicted session: "next session Wed 29 Oct 21:30 CET".
    """
    match = state.match
    if state.kind == "live":
        score = score_text(match, markdown=False) if match is not None else None
        waiting = state.next_round == 2  # round 1 of this map done, round 2 being played
        parts = [state.map or "?", "round 2"] if waiting else [f"after {state.map}"]
        if score:
            parts.append(score)
        return clip(" · ".join(parts), PRESENCE_MAX)
    if state.kind == "after":
        if match is None or not match.decided:
            return clip(f"last session: {state.rounds} rounds", PRESENCE_MAX)
        a, b = match.team_a.name, match.team_b.name
        if match.wins_a == match.wins_b:
            text = f"last session: {a} and {b} drew {match.wins_a}–{match.wins_b}"
        elif match.wins_a > match.wins_b:
            text = f"last session: {a} won {match.wins_a}–{match.wins_b}"
        else:
            text = f"last session: {b} won {match.wins_b}–{match.wins_a}"
        if match.draws:
            text += f" ({counted(match.draws, 'draw')})"
        return clip(text, PRESENCE_MAX)
    if state.kind == "next" and state.next_start is not None:
        local = state.next_start.astimezone(zone)
        return clip(f"next session {local:%a %d %b %H:%M} {local.tzname()}", PRESENCE_MAX)
    return None


# --------------------------------------------------------------------------- the cog


class MatchNightCog(BaseCog):
    """Round and map summaries (poster builders) and the presence loop."""

    #: Seconds between two presence checks (Discord allows a few updates per minute).
    presence_seconds: float = 60.0

    def __init__(self, bot: commands.InteractionBot, resources: Resources) -> None:
        super().__init__(resources)
        self.bot = bot
        #: "Now" for the presence (tests replace it).
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.presence: str | None = None
        self._presence_task: asyncio.Task[None] | None = None

    # ---- posts

    async def build_round_summary(self, key: str) -> Post | None:
        """Poster builder of ``round_summary`` (key: the round 1 id)."""
        summary = await self.res.run(matchnight.round_summary, int(key))
        if summary is None:
            return None
        return Post(embeds=[round_summary_embed(summary)])

    async def build_map_summary(self, key: str) -> Post | None:
        """Poster builder of ``map_summary`` (key: the round 2 id). Without a chart when
        it cannot be rendered."""
        summary = await self.res.run(matchnight.map_summary, int(key))
        if summary is None:
            return None
        title = f"{summary.map}: DPM per player"
        png = await self.res.try_render(charts.team_bars_figure, dpm_bars(summary), title, "DPM")
        name = f"map-{summary.round2_id}.png"
        embed = map_summary_embed(summary, name if png is not None else None)
        files = [(name, png)] if png is not None else []
        return Post(embeds=[embed], files=files)

    # ---- presence

    async def refresh_presence(self, now: datetime | None = None) -> bool:
        """Compute the presence and send it when it changed; True when sent."""
        tz = self.res.settings.server_timezone
        now = now or self.clock()
        # The forecast as of the minute, from the cache until the next import (the loop
        # asks every minute; fitting it each time cost the /sessions figures, see README).
        minute = now.replace(second=0, microsecond=0)
        predicted = await self.res.run(availability.predicted_start, minute, tz)
        state = await self.res.run(matchnight.presence_state, now, tz, predicted=predicted)
        text = presence_text(state, self.res.settings.tz)
        if text == self.presence:
            return False
        activity = disnake.CustomActivity(text) if text else None
        await self.bot.change_presence(activity=activity)
        self.presence = text
        log.debug("presence: %s", text)
        return True

    async def _presence_loop(self) -> None:
        while True:
            try:
                await self.refresh_presence()
            except asyncio.CancelledError:
                raise
            except Exception:  # the next tick tries again; the bot keeps running
                log.exception("updating the presence failed")
            await asyncio.sleep(self.presence_seconds)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        if self._presence_task is None or self._presence_task.done():
            spawn: Any = getattr(self.bot, "spawn", None)
            if spawn is not None:  # EtBot: cancelled when the bot closes
                self._presence_task = spawn(self._presence_loop(), name="etbot-presence")
            else:
                self._presence_task = asyncio.get_running_loop().create_task(self._presence_loop())

    def cog_unload(self) -> None:
        if self._presence_task is not None:
            self._presence_task.cancel()


def setup(bot: commands.InteractionBot) -> None:
    cog = MatchNightCog(bot, get_resources(bot))
    bot.add_cog(cog)
    poster = getattr(bot, "poster", None)
    if poster is not None:
        poster.register(matchnight.ROUND_SUMMARY, cog.build_round_summary)
        poster.register(matchnight.MAP_SUMMARY, cog.build_map_summary)

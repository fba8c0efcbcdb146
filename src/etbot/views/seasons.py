"""The ``/season`` message: a season's standings, a select menu of every season with data
and page buttons, all persistent; and the season recap post.

Nothing here is kept in memory between clicks: every component's custom id carries the
whole state (:class:`SeasonState`: season key, stat, minimum rounds, page, owner, menu
page, and the game server when one was chosen), and the cog
(:mod:`etbot.commands.seasons`) reads the data again from the database for each click,
so the message keeps working after a restart. This module only builds
Discord objects from domain data (:class:`etbot.seasons.SeasonPage`); it never queries.

Discord allows 25 options per select menu: with more seasons the menu is paged, 23
seasons per page plus "Newer seasons" / "Older seasons" options that switch the menu's
page (the standings shown stay the same).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from datetime import date

import disnake
from disnake.ui.select.string import StringSelect

from etbot.commands.formatting import clip, escape, fmt_stat
from etbot.seasons import SEASON_KEY, AwardRow, Recap, Season, SeasonPage
from etbot.statdefs import STATS
from etbot.views.components import CustomIdError, custom_id, int_arg

log = logging.getLogger(__name__)

NAMESPACE = "season"
#: Standings rows per page.
PAGE_SIZE = 10
#: Discord's limit of options in one select menu.
MENU_OPTIONS = 25
#: Seasons per menu page once the menu is paged (two options are for navigation).
MENU_PAGE = MENU_OPTIONS - 2
#: Value prefix of the menu's navigation options ("@menu:2").
MENU_NAV = "@menu:"
#: Upper bounds of the numbers in a custom id (they come back from clients).
MAX_MIN_ROUNDS = 10_000
MAX_PAGE = 100_000
#: Largest game server id a custom id carries (the ids fit the 100-character limit).
MAX_SERVER_ID = 99_999_999
#: Characters of one embed field.
FIELD_MAX = 1024


@dataclass(frozen=True)
class SeasonState:
    """Everything a ``/season`` message shows, as carried in its custom ids."""

    key: str
    stat: str
    min_rounds: int
    page: int
    owner: int
    menu: int = 0
    #: The game server of the standings (0: every server).
    server: int = 0

    def custom_id(self, action: str) -> str:
        """``etbot:season:<action>:<key>:<stat>:<min_rounds>:<page>:<owner>:<menu>``, then
        ``:<server>`` when a game server was chosen (so the ids of messages about every
        server are the same as before servers could be chosen)."""
        parts: list[int | str] = [
            self.key,
            self.stat,
            self.min_rounds,
            self.page,
            self.owner,
            self.menu,
        ]
        if self.server:
            parts.append(self.server)
        return custom_id(NAMESPACE, action, *parts)

    @classmethod
    def parse(cls, args: list[str]) -> SeasonState:
        """The state of a custom id's arguments, validated (ids come back from clients).

        Raises:
            CustomIdError: malformed or out-of-range arguments.
        """
        if len(args) not in (6, 7) or not SEASON_KEY.match(args[0]) or args[1] not in STATS:
            raise CustomIdError(f"malformed season component arguments {args!r}")
        state = cls(
            key=args[0],
            stat=args[1],
            min_rounds=int_arg(args, 2),
            page=int_arg(args, 3),
            owner=int_arg(args, 4),
            menu=int_arg(args, 5),
            server=int_arg(args, 6) if len(args) == 7 else 0,
        )
        if not (
            1 <= state.min_rounds <= MAX_MIN_ROUNDS
            and 0 <= state.page <= MAX_PAGE
            and 0 <= state.menu <= MAX_PAGE
            and state.owner > 0
            and (len(args) == 6 or 1 <= state.server <= MAX_SERVER_ID)
        ):
            raise CustomIdError(f"season component arguments out of range {args!r}")
        return state

    def with_(self, **changes: object) -> SeasonState:
        return replace(self, **changes)  # type: ignore[arg-type]


def page_count(page: SeasonPage) -> int:
    """Pages of standings (at least 1)."""
    return max(1, math.ceil(page.page.total / PAGE_SIZE))


def menu_pages(choices: list[Season]) -> list[list[Season]]:
    """The seasons of each page of the select menu (one page when they fit)."""
    if len(choices) <= MENU_OPTIONS:
        return [choices]
    return [choices[i : i + MENU_PAGE] for i in range(0, len(choices), MENU_PAGE)]


def menu_page_of(choices: list[Season], key: str) -> int:
    """The menu page that lists ``key`` (0 when it is not listed)."""
    for index, seasons in enumerate(menu_pages(choices)):
        if any(s.key == key for s in seasons):
            return index
    return 0


def date_range(first: date, last: date) -> str:
    """``1 Oct 2025 – 31 Dec 2025``."""
    return f"{first.day} {first:%b %Y} – {last.day} {last:%b %Y}"


#: What follows an award's number.
_UNITS = {
    "dpm": "DPM",
    "kd": "K/D",
    "objectives": "objectives",
    "revives": "revives",
    "rounds": "rounds",
}


def award_value(award: AwardRow) -> str:
    """How an award's number is shown (``+25.2 DPM (247.7 → 272.8)`` for improvement)."""
    if award.category == "improved" and award.baseline is not None:
        after = award.baseline + award.value
        return (
            f"+{fmt_stat('dpm', award.value)} DPM "
            f"({fmt_stat('dpm', award.baseline)} → {fmt_stat('dpm', after)})"
        )
    unit = _UNITS.get(award.category, "")
    return f"{fmt_stat(award.category, award.value)} {unit}".strip()


def awards_text(awards: list[AwardRow]) -> str:
    """One line per award: ``**Highest DPM**: name · 367.1 DPM``."""
    lines = [f"**{a.label}**: {escape(a.player_name)} · {award_value(a)}" for a in awards]
    return clip("\n".join(lines), FIELD_MAX)


def season_embed(page: SeasonPage, state: SeasonState) -> disnake.Embed:
    """The standings embed (the table in a code block, like ``/leaderboard``)."""
    from etbot.commands.leaderboard import NAME_WIDTH

    season = page.season
    label = STATS[page.stat].label
    embed = disnake.Embed(
        title=clip(f"Season {escape(season.name)} · {label}", 256), colour=0x5865F2
    )
    status = "ended" if page.ended else "running"
    lines = []
    for row in page.page.rows:
        name = clip(row.name.replace("`", "'"), NAME_WIDTH)  # a backtick would end the block
        value = fmt_stat(page.stat, row.value)
        lines.append(f"{row.rank:>3}. {name:<{NAME_WIDTH}} {value:>10}  {row.rounds:>5}")
    header = f"{'#':>3}  {'Player':<{NAME_WIDTH}} {label[:10]:>10}  {'Rnds':>5}"
    if lines:
        body = "\n".join(lines)
    elif page.players:
        body = f"(nobody has {page.min_rounds} rounds yet; {page.players} played)"
    else:
        body = "(no rounds in this season)"
    where = f"on **{escape(clip(page.server, 100))}** · " if page.server is not None else ""
    embed.description = (
        f"{where}{date_range(season.first_day, season.last_day)} · {status} · "
        f"at least {page.min_rounds} rounds\n```\n{header}\n{body}\n```"
    )
    # The awards are the community's, whichever server the standings count.
    awards = "Awards (every server)" if page.server is not None else "Awards"
    if page.awards:
        embed.add_field(awards, awards_text(page.awards), inline=False)
    elif page.ended and not page.closed:
        embed.add_field(awards, "Awarded within an hour after the season's end.", inline=False)
    count = page_count(page)
    embed.set_footer(text=f"Page {state.page + 1} of {count} · {page.page.total} players ranked")
    return embed


def season_components(page: SeasonPage, state: SeasonState) -> list[disnake.ui.ActionRow]:
    """The select menu of the seasons with data (newest first) and the page buttons."""
    rows: list[disnake.ui.ActionRow] = []
    pages = menu_pages(page.choices)
    menu = min(state.menu, len(pages) - 1)
    listed = pages[menu] if pages else []
    options: list[disnake.SelectOption] = []
    if menu > 0:
        options.append(disnake.SelectOption(label="◀ Newer seasons", value=f"{MENU_NAV}{menu - 1}"))
    for season in listed:
        options.append(
            disnake.SelectOption(
                label=clip(season.name, 100),
                value=season.key,
                description=date_range(season.first_day, season.last_day),
                default=season.key == page.season.key,
            )
        )
    if menu < len(pages) - 1:
        options.append(disnake.SelectOption(label="Older seasons ▶", value=f"{MENU_NAV}{menu + 1}"))
    if listed:
        select = StringSelect(
            custom_id=state.with_(menu=menu).custom_id("pick"),
            placeholder="Choose another season",
            options=options,
        )
        rows.append(disnake.ui.ActionRow(select))
    count = page_count(page)
    if count > 1:
        rows.append(
            disnake.ui.ActionRow(
                disnake.ui.Button(
                    label="◀ Previous",
                    style=disnake.ButtonStyle.secondary,
                    custom_id=state.custom_id("prev"),
                    disabled=state.page <= 0,
                ),
                disnake.ui.Button(
                    label=f"{state.page + 1} / {count}",
                    style=disnake.ButtonStyle.secondary,
                    custom_id=state.custom_id("pos"),
                    disabled=True,
                ),
                disnake.ui.Button(
                    label="Next ▶",
                    style=disnake.ButtonStyle.primary,
                    custom_id=state.custom_id("next"),
                    disabled=state.page >= count - 1,
                ),
            )
        )
    return rows


def recap_embed(recap: Recap) -> disnake.Embed:
    """The recap post of an ended season."""
    embed = disnake.Embed(
        title=clip(f"Season {escape(recap.name)} is over", 256),
        description=(
            f"{date_range(recap.first_day, recap.last_day)} · {recap.rounds:,} rounds, "
            f"{recap.players:,} players. Champions among players with at least "
            f"{recap.min_rounds} rounds:"
        ),
        colour=0xF1C40F,
    )
    for award in recap.awards:
        embed.add_field(award.label, f"{escape(award.player_name)}\n{award_value(award)}")
    embed.set_footer(text=f"/season season:{recap.key} shows the final standings")
    return embed

"""/season and the admin-only /season-admin: season standings with a season select menu,
awards and recaps (domain: :mod:`etbot.seasons`, message: :mod:`etbot.views.seasons`).

The ``/season`` message is persistent: its select menu and buttons carry their whole state
in their custom ids (:class:`~etbot.views.seasons.SeasonState`) and are handled by this
cog's ``component_listener("season")`` handlers whatever message they are on, so they work
after a restart. Only the member who ran the command can drive them.

Once the bot is ready (and the stats already in ``STATS_DIR`` are imported), a background
check closes the seasons that ended (:func:`etbot.seasons.close_ended_seasons`: awards
stored and the ``season_recap`` post queued, exactly once) every :data:`CHECK_SECONDS`; the
poster posts the recap with :meth:`SeasonsCog.build_recap`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction, Interaction, MessageInteraction

from etbot import seasons
from etbot.commands._base import COLOUR_INFO, COLOUR_OK, BaseCog, get_resources, stat_param
from etbot.commands.converters import server_param
from etbot.commands.formatting import MAX_CHOICES, clip, escape
from etbot.poster import Post
from etbot.seasons import SEASON_KEY, SEASON_MIN_ROUNDS, Season
from etbot.servers import ServerRef
from etbot.views.components import CustomIdError, component_listener, int_arg
from etbot.views.seasons import (
    MAX_MIN_ROUNDS,
    MENU_NAV,
    PAGE_SIZE,
    SeasonState,
    date_range,
    menu_page_of,
    page_count,
    recap_embed,
    season_components,
    season_embed,
)

log = logging.getLogger(__name__)

#: How often the bot looks for seasons that ended.
CHECK_SECONDS = 600.0
#: Typed text longer than this is not looked up for autocomplete.
AUTOCOMPLETE_TEXT_MAX = 64
OWNER_ONLY = (
    "Only the person who ran `/season` can use this menu. Run `/season` yourself to browse."
)


def season_choice(season: Season) -> disnake.OptionChoice:
    """An autocomplete choice: the name and the dates; the value is the key."""
    label = f"{season.name} ({date_range(season.first_day, season.last_day)})"
    return disnake.OptionChoice(clip(label, 100), season.key)


async def _season_choices(cog: BaseCog, value: str, *, with_data: bool) -> list[Any]:
    text = (value or "").strip()[:AUTOCOMPLETE_TEXT_MAX].casefold()
    now = cog.res.local_now()
    try:
        if with_data:
            found = await cog.res.run(seasons.seasons_with_data, now)
        else:
            found = list(reversed(await cog.res.run(seasons.timeline, now)))
    except Exception:
        log.exception("season autocomplete failed for %r", text)
        return []
    matches = [s for s in found if text in s.name.casefold() or text in s.key.casefold()]
    return [season_choice(s) for s in matches[:MAX_CHOICES]]


async def autocomplete_season(cog: BaseCog, inter: Interaction, value: str) -> Any:
    """Autocomplete of a season option: the seasons with data, newest first."""
    return await _season_choices(cog, value, with_data=True)


async def autocomplete_any_season(cog: BaseCog, inter: Interaction, value: str) -> Any:
    """Autocomplete for admins: every season of the timeline, newest first."""
    return await _season_choices(cog, value, with_data=False)


def season_param(
    description: str = "Which season (default: the current one)", **kwargs: Any
) -> Any:
    """An optional season option (a key or a name), autocompleted with the seasons that
    have data; empty means the current season (or the newest with data)."""
    kwargs.setdefault("default", "")
    return commands.Param(
        description=description,
        autocomplete=autocomplete_season,
        max_length=seasons.NAME_MAX,
        **kwargs,
    )


def _admin_season_param(description: str) -> Any:
    return commands.Param(
        description=description,
        autocomplete=autocomplete_any_season,
        max_length=seasons.NAME_MAX,
    )


class SeasonsCog(BaseCog):
    """Seasons: standings, awards, recaps, admin changes."""

    def __init__(self, bot: commands.InteractionBot) -> None:
        super().__init__(get_resources(bot))
        self.bot = bot
        self.check_seconds = CHECK_SECONDS
        self._checker: asyncio.Task[None] | None = None

    def cog_unload(self) -> None:
        if self._checker is not None:
            self._checker.cancel()

    # ------------------------------------------------------------------ /season

    @commands.slash_command(
        name="season", description="Season standings, awards, and every past season"
    )
    async def season_command(
        self,
        inter: ApplicationCommandInteraction,
        season: str = season_param(),
        stat: str = stat_param("Rank by this statistic (default DPM)", default="dpm"),
        min_rounds: int = commands.Param(
            default=SEASON_MIN_ROUNDS,
            ge=1,
            le=MAX_MIN_ROUNDS,
            description="Only players with at least this many rounds in the season",
        ),
        server: ServerRef | None = server_param("Standings of this game server's rounds only"),
    ) -> None:
        await inter.response.defer()
        now = self.res.local_now()
        chosen = await self.res.run(seasons.find_season, season, now)
        state = SeasonState(
            chosen.key, stat, min_rounds, 0, inter.author.id, server=server.id if server else 0
        )
        embed, components = await self.render(state, place_menu=True)
        await inter.edit_original_response(embed=embed, components=components)

    async def render(
        self, state: SeasonState, *, place_menu: bool = False
    ) -> tuple[disnake.Embed, list[disnake.ui.ActionRow]]:
        """The message for ``state``, read from the database (a page past the end shows
        the last page; ``place_menu`` opens the menu on the page listing the season)."""
        now = self.res.local_now()
        page = await self.res.run(
            seasons.season_page,
            state.key,
            state.stat,
            state.min_rounds,
            PAGE_SIZE,
            state.page * PAGE_SIZE,
            now,
            state.server or None,
        )
        last = page_count(page) - 1
        if state.page > last:  # fewer players since the message was made
            state = state.with_(page=last)
            page = await self.res.run(
                seasons.season_page,
                state.key,
                state.stat,
                state.min_rounds,
                PAGE_SIZE,
                last * PAGE_SIZE,
                now,
                state.server or None,
            )
        if place_menu:
            state = state.with_(menu=menu_page_of(page.choices, state.key))
        return season_embed(page, state), season_components(page, state)

    async def _owner_only(self, inter: MessageInteraction, state: SeasonState) -> bool:
        if inter.author.id == state.owner:
            return True
        await inter.response.send_message(OWNER_ONLY, ephemeral=True)
        return False

    @component_listener("season")
    async def on_season_button(
        self, inter: MessageInteraction, action: str, args: list[str]
    ) -> None:
        state = SeasonState.parse(args)
        if action not in ("prev", "next"):
            raise CustomIdError(f"unknown season button {action!r}")
        if not await self._owner_only(inter, state):
            return
        step = -1 if action == "prev" else 1
        state = state.with_(page=max(0, state.page + step))
        embed, components = await self.render(state)
        await inter.response.edit_message(embed=embed, components=components)

    @component_listener("season", event="dropdown")
    async def on_season_select(
        self, inter: MessageInteraction, action: str, args: list[str]
    ) -> None:
        state = SeasonState.parse(args)
        values = inter.values or []
        if action != "pick" or len(values) != 1:
            raise CustomIdError(f"unknown season menu {action!r} {values!r}")
        if not await self._owner_only(inter, state):
            return
        value = values[0]
        if value.startswith(MENU_NAV):
            menu = int_arg([value[len(MENU_NAV) :]], 0)
            state = state.with_(menu=max(0, menu))
        elif SEASON_KEY.match(value):
            state = state.with_(key=value, page=0)
        else:
            raise CustomIdError(f"unknown season {value!r}")
        embed, components = await self.render(state)
        await inter.response.edit_message(embed=embed, components=components)

    # ------------------------------------------------------------------ /season-admin

    @commands.slash_command(
        name="season-admin",
        description="Admins: rename seasons, add or remove custom seasons",
        default_member_permissions=disnake.Permissions(manage_guild=True),
    )
    @commands.guild_only()
    @commands.app_check_any(commands.is_owner(), commands.has_permissions(manage_guild=True))
    async def season_admin(self, inter: ApplicationCommandInteraction) -> None:
        """Checked here for every sub-command (Discord's permission is only a default)."""

    @season_admin.sub_command(name="list", description="Every season with its dates")
    async def admin_list(self, inter: ApplicationCommandInteraction) -> None:
        overview = await self.res.run(seasons.season_overview, self.res.local_now())
        lines = []
        for item in overview:
            s = item.season
            notes = [
                "custom" if s.custom else "quarter",
                *(["renamed"] if item.renamed else []),
                "awarded" if item.closed else ("has rounds" if item.has_data else "no rounds"),
            ]
            lines.append(
                f"`{s.key}` **{escape(s.name)}** · {date_range(s.first_day, s.last_day)} · "
                + ", ".join(notes)
            )
        embed = disnake.Embed(
            title="Seasons",
            description=clip("\n".join(lines) or "No seasons yet.", 4096),
            colour=COLOUR_INFO,
        )
        await inter.response.send_message(embed=embed, ephemeral=True)

    @season_admin.sub_command(name="rename", description="Rename a season")
    async def admin_rename(
        self,
        inter: ApplicationCommandInteraction,
        season: str = _admin_season_param("The season to rename"),
        name: str = commands.Param(description="Its new name", max_length=seasons.NAME_MAX),
    ) -> None:
        renamed = await self.res.run(
            seasons.rename_season,
            season,
            name,
            self.res.local_now(),
            changed_by=inter.author.id,
        )
        log.info("%s renamed season %s to %r", inter.author.id, renamed.key, renamed.name)
        await self._done(inter, f"Season `{renamed.key}` is now called **{escape(renamed.name)}**.")

    @season_admin.sub_command(
        name="add",
        description="Add a custom season (it replaces the quarters it overlaps)",
    )
    async def admin_add(
        self,
        inter: ApplicationCommandInteraction,
        name: str = commands.Param(description="Its name", max_length=seasons.NAME_MAX),
        first_day: str = commands.Param(description="First day, YYYY-MM-DD", max_length=10),
        last_day: str = commands.Param(
            description="Last day (included), YYYY-MM-DD", max_length=10
        ),
    ) -> None:
        first = seasons.parse_day(first_day, "The first day")
        last = seasons.parse_day(last_day, "The last day")
        added = await self.res.run(
            seasons.add_season, name, first, last, self.res.local_now(), changed_by=inter.author.id
        )
        log.info("%s added season %s %r", inter.author.id, added.key, added.name)
        await self._done(
            inter,
            f"Added **{escape(added.name)}** (`{added.key}`): "
            f"{date_range(added.first_day, added.last_day)}. It replaces the quarters it "
            "overlaps.",
        )

    @season_admin.sub_command(name="remove", description="Remove a custom season (and its awards)")
    async def admin_remove(
        self,
        inter: ApplicationCommandInteraction,
        season: str = _admin_season_param("The custom season to remove"),
    ) -> None:
        removed = await self.res.run(seasons.remove_season, season, self.res.local_now())
        log.info("%s removed season %s %r", inter.author.id, removed.key, removed.name)
        await self._done(
            inter,
            f"Removed **{escape(removed.name)}** (`{removed.key}`); the quarters it replaced "
            "are seasons again.",
        )

    async def _done(self, inter: ApplicationCommandInteraction, text: str) -> None:
        self.res.cache.invalidate()  # season names and ranges are part of cached answers
        embed = disnake.Embed(title="Seasons", description=text, colour=COLOUR_OK)
        await inter.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=disnake.AllowedMentions.none()
        )

    # ------------------------------------------------------------------ closing and recaps

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Start the periodic check once (``on_ready`` fires again after reconnects)."""
        if self._checker is not None and not self._checker.done():
            return
        spawn = getattr(self.bot, "spawn", None)
        coro = self.check_forever()
        if callable(spawn):
            self._checker = spawn(coro, name="etbot-seasons")
        else:  # pragma: no cover - a plain test bot
            self._checker = asyncio.get_running_loop().create_task(coro)

    async def check_seasons(self) -> list[seasons.ClosedSeason]:
        """Close the seasons that ended (awards, recap queued); wake the poster if a recap
        was queued."""
        closed = await self.res.run(seasons.close_ended_seasons, self.res.local_now())
        if any(c.announced for c in closed):
            poster = getattr(self.bot, "poster", None)
            if poster is not None:
                poster.wake()
        return closed

    async def check_forever(self) -> None:
        """:meth:`check_seasons` every ``check_seconds``, once the history is imported (a
        season must not be judged on half of its files)."""
        loaded = getattr(self.bot, "history_loaded", None)
        if loaded is not None:
            await loaded.wait()
        while True:
            try:
                await self.check_seasons()
            except asyncio.CancelledError:
                raise
            except Exception:  # one failed check must not stop the later ones
                log.exception("checking for ended seasons failed")
            await asyncio.sleep(self.check_seconds)

    async def build_recap(self, key: str) -> Post | None:
        """The ``season_recap`` post of a closed season (None: nothing to say)."""
        recap = await self.res.run(seasons.recap, key, self.res.local_now())
        if recap is None:
            return None
        return Post(embeds=[recap_embed(recap)])


def setup(bot: commands.InteractionBot) -> None:
    cog = SeasonsCog(bot)
    bot.add_cog(cog)
    poster = getattr(bot, "poster", None)
    if poster is not None:
        poster.register(seasons.RECAP_KIND, cog.build_recap)

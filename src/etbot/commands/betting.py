"""/bet: betting pools on the next map, with buttons and a modal (domain: :mod:`etbot.betting`).

* ``/bet open`` (pool managers) answers publicly with the pool: line-ups, win chance, pot,
  one button per side. A side button opens a modal for the amount; the bet is placed
  exactly once per modal submission (its interaction id is the ledger key) and the pool
  message is edited in place.
* ``/bet lock | settle | cancel`` (pool managers), ``/bet balance | topup | leaderboard |
  history`` (everyone), ``/bet-settings`` (Manage Server: the manager role and the
  own-team rule).

Pool managers are members with Manage Server, the bot owner, and members with the role
an admin set with ``/bet-settings``; this is checked on the server for every action
(``/bet`` cannot be hidden by permission in the client, because members need its other
sub-commands). ``/bet-settings`` is also hidden from members without Manage Server.

Persistence: buttons and modals are handled by one listener per event for the ``bet``
namespace (:mod:`etbot.views.components`); their custom ids carry the pool id, and all
state is read from the database. The pool message is re-rendered whenever the pool
changes, also when the change happened elsewhere (an import locked or settled it, another
bot process, the lock time): a background loop locks pools whose time has come and
refreshes every message that does not show its pool's state yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import disnake
from disnake.ext import commands
from disnake.interactions import (
    ApplicationCommandInteraction,
    Interaction,
    MessageInteraction,
    ModalInteraction,
)

from etbot import betting
from etbot.betting import Rules
from etbot.commands._base import COLOUR_INFO, COLOUR_OK, BaseCog, get_resources
from etbot.commands.converters import optional_player_param
from etbot.commands.formatting import MAX_CHOICES, clip, escape, whole
from etbot.errors import UserError
from etbot.ingest import ImportReport
from etbot.players import PlayerRef
from etbot.poster import Post
from etbot.views import betting as views
from etbot.views.components import component_listener, int_arg

log = logging.getLogger(__name__)

#: Longest pause of the lock loop (it also refreshes messages changed by other processes).
LOOP_SECONDS = 30.0
NONE = disnake.AllowedMentions.none()

LEDGER_LABELS = {
    "grant": "starting points",
    "topup": "daily top-up",
    "stake": "bet",
    "payout": "payout",
    "refund": "refund",
}


class NotManager(UserError):
    """The member may not manage betting pools."""


@dataclass
class _Refresh:
    """Per pool: one message edit at a time, and at most one waiting behind it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: bool = False


def pool_param(description: str) -> Any:
    return commands.Param(default=None, ge=1, description=description)


class BettingCog(BaseCog):
    """Betting pools: commands, the pool buttons and modal, the lock loop, result posts."""

    def __init__(self, bot: commands.InteractionBot) -> None:
        super().__init__(get_resources(bot))
        self.bot = bot
        settings = self.res.settings
        self.rules = Rules(settings.betting_start_points, settings.betting_topup_points)
        self._refreshes: dict[int, _Refresh] = {}
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None

    def now(self) -> datetime:
        return betting.utcnow()

    def cog_unload(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()

    # ------------------------------------------------------------------ checks

    async def require_manager(self, inter: Interaction) -> int:
        """The server's id, if the member may manage pools there (NotManager otherwise)."""
        guild_id = inter.guild_id
        if guild_id is None:
            raise commands.NoPrivateMessage()
        if await self.bot.is_owner(inter.author) or inter.permissions.manage_guild:
            return guild_id
        settings = await self.res.run(betting.guild_settings, guild_id)
        roles = getattr(inter.author, "roles", [])
        if settings.role_id is not None and any(r.id == settings.role_id for r in roles):
            return guild_id
        raise NotManager(
            "Only members with the Manage Server permission"
            + (" or the betting role" if settings.role_id is not None else "")
            + " can manage betting pools."
        )

    @staticmethod
    def guild_of(inter: Interaction) -> int:
        if inter.guild_id is None:
            raise commands.NoPrivateMessage()
        return inter.guild_id

    async def pool_or_latest(self, guild_id: int, pool: int | None) -> int:
        if pool is not None:
            return pool
        return await self.res.run(betting.latest_pool, guild_id)

    # ------------------------------------------------------------------ /bet

    @commands.slash_command(name="bet", description="Bet points on the next map")
    @commands.guild_only()
    async def bet(self, inter: ApplicationCommandInteraction) -> None:
        """The /bet group (sub-commands below)."""

    @bet.sub_command(
        name="open",
        description="Open a pool on the next map (default: the teams of the latest round)",
    )
    async def bet_open(
        self,
        inter: ApplicationCommandInteraction,
        title: str | None = commands.Param(
            default=None, max_length=betting.MAX_TITLE, description="What the pool is about"
        ),
        lock_in: int | None = commands.Param(
            default=None, ge=1, le=7 * 24 * 60, description="Close betting after N minutes"
        ),
        map_name: str | None = commands.Param(
            default=None,
            name="map",
            max_length=64,
            description="Only a round of this map counts (default: any map)",
        ),
        team_a1: PlayerRef | None = optional_player_param("Team A player (else: latest round)"),
        team_a2: PlayerRef | None = optional_player_param("Team A player"),
        team_a3: PlayerRef | None = optional_player_param("Team A player"),
        team_a4: PlayerRef | None = optional_player_param("Team A player"),
        team_a5: PlayerRef | None = optional_player_param("Team A player"),
        team_a6: PlayerRef | None = optional_player_param("Team A player"),
        team_b1: PlayerRef | None = optional_player_param("Team B player (else: latest round)"),
        team_b2: PlayerRef | None = optional_player_param("Team B player"),
        team_b3: PlayerRef | None = optional_player_param("Team B player"),
        team_b4: PlayerRef | None = optional_player_param("Team B player"),
        team_b5: PlayerRef | None = optional_player_param("Team B player"),
        team_b6: PlayerRef | None = optional_player_param("Team B player"),
    ) -> None:
        guild_id = await self.require_manager(inter)
        picked_a = [p.guid for p in (team_a1, team_a2, team_a3, team_a4, team_a5, team_a6) if p]
        picked_b = [p.guid for p in (team_b1, team_b2, team_b3, team_b4, team_b5, team_b6) if p]
        if picked_a or picked_b:
            if not picked_a or not picked_b:
                raise UserError("Pick players for both teams, or none to use the latest round.")
            team_a, team_b = picked_a, picked_b
        else:
            team_a, team_b = await self.res.run(betting.lineups_from_last_round)
        await inter.response.defer()
        pool_id = await self.res.run(
            betting.open_pool,
            guild_id,
            inter.author.id,
            team_a,
            team_b,
            not_before=self.res.local_now().replace(tzinfo=None),
            title=title,
            map_name=map_name,
            lock_in=timedelta(minutes=lock_in) if lock_in else None,
        )
        view = await self.res.run(betting.pool_view, pool_id)
        message = await inter.edit_original_response(
            embed=views.pool_embed(view, self.now()),
            components=views.pool_components(view, self.now()),
            allowed_mentions=NONE,
        )
        await self.res.run(betting.set_pool_message, pool_id, message.channel.id, message.id)
        await self.res.run(betting.mark_shown, pool_id, view.state)
        self._wake.set()  # the lock loop learns the new lock time
        # A bet that landed before the message's id was stored found no message to edit
        # (a fast click on a loaded machine): show it now.
        now_view = await self.res.run(betting.pool_view, pool_id)
        if (now_view.sides, now_view.state) != (view.sides, view.state):
            await self.refresh(pool_id)

    @bet.sub_command(name="lock", description="Pool managers: close a pool to new bets")
    async def bet_lock(
        self,
        inter: ApplicationCommandInteraction,
        pool: int | None = pool_param("Pool number (default: the newest open one)"),
    ) -> None:
        guild_id = await self.require_manager(inter)
        pool_id = await self.pool_or_latest(guild_id, pool)
        if not await self.res.run(betting.lock_pool, pool_id, guild_id=guild_id):
            view = await self.res.run(betting.pool_view, pool_id, guild_id)
            raise betting.PoolClosed(
                "Pool #{pool} is not open (it is {state}).", pool=pool_id, state=view.state
            )
        await inter.response.send_message(f"Pool #{pool_id} is locked.", ephemeral=True)
        await self.refresh(pool_id)

    @bet.sub_command(name="settle", description="Pool managers: say who won and pay out")
    async def bet_settle(
        self,
        inter: ApplicationCommandInteraction,
        winner: int = commands.Param(
            description="Who won the map",
            choices=[
                disnake.OptionChoice("Team A", betting.SIDE_A),
                disnake.OptionChoice("Team B", betting.SIDE_B),
                disnake.OptionChoice("Draw (refund everyone)", betting.DRAW),
            ],
        ),
        pool: int | None = pool_param("Pool number (default: the newest open or locked one)"),
    ) -> None:
        guild_id = await self.require_manager(inter)
        pool_id = await self.pool_or_latest(guild_id, pool)
        result = await self.res.run(betting.settle_pool, pool_id, winner, guild_id=guild_id)
        log.info("%s settled pool %s: winner %s", inter.author.id, pool_id, winner)
        await inter.response.send_message(
            embed=settled_embed(result), ephemeral=True, allowed_mentions=NONE
        )
        await self.after_close(pool_id)

    @bet.sub_command(name="cancel", description="Pool managers: cancel a pool, refund everyone")
    async def bet_cancel(
        self,
        inter: ApplicationCommandInteraction,
        pool: int | None = pool_param("Pool number (default: the newest open or locked one)"),
    ) -> None:
        guild_id = await self.require_manager(inter)
        pool_id = await self.pool_or_latest(guild_id, pool)
        result = await self.res.run(betting.cancel_pool, pool_id, guild_id=guild_id)
        log.info("%s cancelled pool %s", inter.author.id, pool_id)
        await inter.response.send_message(
            embed=settled_embed(result), ephemeral=True, allowed_mentions=NONE
        )
        await self.after_close(pool_id)

    @bet.sub_command(name="balance", description="Your points (or a member's)")
    async def bet_balance(
        self,
        inter: ApplicationCommandInteraction,
        member: disnake.Member | None = commands.Param(default=None, description="Whose points"),
    ) -> None:
        guild_id = self.guild_of(inter)
        who = member or inter.author
        found = await self.res.run(betting.balance, guild_id, who.id, self.rules)
        text = f"{who.mention} has **{whole(found.points)}** points"
        if found.at_stake:
            text += f", and **{whole(found.at_stake)}** riding on open pools"
        if not found.has_account:
            text += " (the starting amount: no bets yet)"
        text += "."
        if found.points == 0 and self.rules.topup_points > 0:
            topup = whole(self.rules.topup_points)
            text += f"\nAt 0, `/bet topup` gives {topup} points once a day."
        await inter.response.send_message(
            embed=disnake.Embed(title="Balance", description=text, colour=COLOUR_INFO),
            ephemeral=True,
            allowed_mentions=NONE,
        )

    @bet.sub_command(name="topup", description="At 0 points: claim today's top-up")
    async def bet_topup(self, inter: ApplicationCommandInteraction) -> None:
        guild_id = self.guild_of(inter)
        day = self.res.local_now().date()
        points = await self.res.run(betting.claim_topup, guild_id, inter.author.id, day, self.rules)
        await inter.response.send_message(
            f"Topped up: you have **{whole(points)}** points now. Good luck!", ephemeral=True
        )

    @bet.sub_command(name="leaderboard", description="The richest members and the best returns")
    async def bet_leaderboard(self, inter: ApplicationCommandInteraction) -> None:
        guild_id = self.guild_of(inter)
        rich = await self.res.run(betting.richest, guild_id, 10)
        best = await self.res.run(betting.best_returns, guild_id, 10)
        embed = disnake.Embed(title="Betting leaderboard", colour=COLOUR_INFO)
        embed.add_field(
            "Richest",
            "\n".join(
                f"{i}. {views.mention(r.member_id)} · {whole(r.points)}"
                for i, r in enumerate(rich, 1)
            )
            or "Nobody has bet yet.",
            inline=True,
        )
        embed.add_field(
            "Best return (settled pools)",
            "\n".join(
                f"{i}. {views.mention(r.member_id)} · {r.net:+,} ({r.roi:+.0%} on "
                f"{whole(r.staked)} staked)"
                for i, r in enumerate(best, 1)
            )
            or "No pool has been settled yet.",
            inline=True,
        )
        await inter.response.send_message(embed=embed, allowed_mentions=NONE)

    @bet.sub_command(name="history", description="Your latest bets and payouts (or a member's)")
    async def bet_history(
        self,
        inter: ApplicationCommandInteraction,
        member: disnake.Member | None = commands.Param(default=None, description="Whose bets"),
    ) -> None:
        guild_id = self.guild_of(inter)
        who = member or inter.author
        entries = await self.res.run(betting.history, guild_id, who.id, 15)
        lines = [history_line(e) for e in entries]
        embed = disnake.Embed(
            title="Betting history",
            description=(f"{who.mention}\n" + "\n".join(lines))
            if lines
            else f"{who.mention} has not bet yet.",
            colour=COLOUR_INFO,
        )
        await inter.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NONE)

    @bet_lock.autocomplete("pool")
    @bet_settle.autocomplete("pool")
    @bet_cancel.autocomplete("pool")
    async def autocomplete_pool(self, inter: ApplicationCommandInteraction, value: str) -> Any:
        if inter.guild_id is None:
            return []
        try:
            found = await self.res.run(betting.pools, inter.guild_id)
        except Exception:
            log.exception("pool autocomplete failed")
            return []
        text = str(value or "").strip().lower()
        choices = [
            disnake.OptionChoice(clip(f"#{p.id} · {p.title or 'Next map'} ({p.state})", 100), p.id)
            for p in found
            if not text or text in f"#{p.id} {p.title or ''}".lower()
        ]
        return choices[:MAX_CHOICES]

    @bet_open.autocomplete("map")
    async def autocomplete_map(self, inter: ApplicationCommandInteraction, value: str) -> Any:
        try:
            return await self.res.run(betting.known_maps, str(value or "")[:64], MAX_CHOICES)
        except Exception:
            log.exception("map autocomplete failed")
            return []

    # ------------------------------------------------------------------ /bet-settings

    @commands.slash_command(
        name="bet-settings",
        description="Admins: who may manage betting pools, and the own-team rule",
        default_member_permissions=disnake.Permissions(manage_guild=True),
    )
    @commands.guild_only()
    @commands.app_check_any(commands.is_owner(), commands.has_permissions(manage_guild=True))
    async def bet_settings(
        self,
        inter: ApplicationCommandInteraction,
        role: disnake.Role | None = commands.Param(
            default=None, description="Members with this role may open, lock and settle pools"
        ),
        remove_role: bool = commands.Param(
            default=False, description="Only admins manage pools again"
        ),
        own_team_only: bool | None = commands.Param(
            default=None, description="Players in a line-up may only bet on their own team"
        ),
    ) -> None:
        guild_id = self.guild_of(inter)
        if role is not None and remove_role:
            raise UserError("Give a role or remove it, not both.")
        if role is not None:
            await self.res.run(betting.set_manager_role, guild_id, role.id)
        elif remove_role:
            await self.res.run(betting.set_manager_role, guild_id, None)
        if own_team_only is not None:
            await self.res.run(betting.set_own_team_only, guild_id, own_team_only)
        current = await self.res.run(betting.guild_settings, guild_id)
        manager = f"<@&{current.role_id}>" if current.role_id else "admins only (Manage Server)"
        rule = "on" if current.own_team_only else "off"
        await inter.response.send_message(
            embed=disnake.Embed(
                title="Betting settings",
                description=(
                    f"Pool managers: {manager}\n"
                    f"Players may only bet on their own team: **{rule}**\n"
                    f"Starting points: {whole(self.rules.start_points)} · daily top-up at 0: "
                    f"{whole(self.rules.topup_points)} (BETTING_START_POINTS, "
                    "BETTING_TOPUP_POINTS)"
                ),
                colour=COLOUR_OK,
            ),
            ephemeral=True,
            allowed_mentions=NONE,
        )

    # ------------------------------------------------------------------ buttons and modal

    @component_listener(views.NAMESPACE)
    async def on_bet_button(self, inter: MessageInteraction, action: str, args: list[str]) -> None:
        pool_id = int_arg(args, 0)
        guild_id = self.guild_of(inter)
        if action == views.SIDE:
            side = int_arg(args, 1)
            try:
                balance = await self.res.run(
                    betting.prepare_bet, pool_id, guild_id, inter.author.id, side, self.rules
                )
            except betting.PoolClosed:
                self.spawn_refresh(pool_id)  # the message may still show open buttons
                raise
            await views.send_amount_modal(inter, pool_id, side, balance)
        elif action == views.LOCK:
            await self.require_manager(inter)
            if not await self.res.run(betting.lock_pool, pool_id, guild_id=guild_id):
                self.spawn_refresh(pool_id)
                raise betting.PoolClosed("Pool #{pool} is not open any more.", pool=pool_id)
            await inter.response.send_message(f"Pool #{pool_id} is locked.", ephemeral=True)
            await self.refresh(pool_id)
        else:
            raise betting.BettingError("This button is outdated; run the command again.")

    @component_listener(views.NAMESPACE, event="modal_submit")
    async def on_bet_modal(self, inter: ModalInteraction, action: str, args: list[str]) -> None:
        if action != views.AMOUNT:
            raise betting.BettingError("This form is outdated; click the button again.")
        pool_id, side = int_arg(args, 0), int_arg(args, 1)
        guild_id = self.guild_of(inter)
        amount = betting.parse_amount(inter.text_values.get(views.AMOUNT_FIELD, ""))
        # The modal submission's interaction id is the bet's idempotency key: Discord
        # retrying it, or a double submit, can never bet twice.
        try:
            receipt = await self.res.run(
                betting.place_bet,
                pool_id,
                guild_id,
                inter.author.id,
                side,
                amount,
                f"bet:{inter.id}",
                self.rules,
            )
        except betting.PoolClosed:
            self.spawn_refresh(pool_id)
            raise
        await inter.response.send_message(
            embed=views.receipt_embed(receipt), ephemeral=True, allowed_mentions=NONE
        )
        await self.refresh(pool_id)

    # ------------------------------------------------------------------ the pool message

    async def refresh(self, pool_id: int) -> None:
        """Re-render the pool's public message from the database.

        One edit per pool at a time; when an edit is already waiting, it will read the
        newest state anyway, so this call returns at once (a burst of bets makes two
        edits, not one per bet).
        """
        state = self._refreshes.setdefault(pool_id, _Refresh())
        if state.waiting:
            return
        state.waiting = True
        async with state.lock:
            state.waiting = False
            try:
                await self._edit_pool_message(pool_id)
            except Exception:  # the bet stands; the message catches up at the next change
                log.exception("refreshing the message of pool %s failed", pool_id)

    def spawn_refresh(self, pool_id: int) -> None:
        spawn = getattr(self.bot, "spawn", None)
        if callable(spawn):
            spawn(self.refresh(pool_id), name=f"etbot-bet-refresh-{pool_id}")

    async def _edit_pool_message(self, pool_id: int) -> None:
        view = await self.res.run(betting.pool_view, pool_id)
        if view.channel_id is None or view.message_id is None:
            return
        now = self.now()
        # Editing needs only the ids (the same REST call for a text channel or a thread).
        channel = self.bot.get_partial_messageable(view.channel_id, type=disnake.ChannelType.text)
        message = channel.get_partial_message(view.message_id)
        try:
            await message.edit(
                embed=views.pool_embed(view, now),
                components=views.pool_components(view, now),
                allowed_mentions=NONE,
            )
        except disnake.NotFound:
            log.info("the message of pool %s is gone", pool_id)
            await self.res.run(betting.forget_message, pool_id)
            return
        except disnake.Forbidden as exc:
            log.warning("cannot edit the message of pool %s: %s", pool_id, exc)
        except disnake.HTTPException as exc:  # temporary: the loop tries again
            log.warning("editing the message of pool %s failed: %s", pool_id, exc)
            return
        # A pool still open past its lock time shows "locked" already; the loop locks it.
        await self.res.run(betting.mark_shown, pool_id, view.state)

    async def after_close(self, pool_id: int) -> None:
        await self.refresh(pool_id)
        poster = getattr(self.bot, "poster", None)
        if poster is not None:
            poster.wake()

    async def refresh_stale(self) -> None:
        """Lock pools whose time has come and re-render every message that does not show
        its pool's state (changed by an import, the lock time or another process)."""
        locked = await self.res.run(betting.lock_due)
        stale = await self.res.run(betting.stale_messages)
        for pool_id in sorted({*locked, *stale}):
            await self.refresh(pool_id)

    async def after_import(self, report: ImportReport, live: bool) -> None:
        """Import listener: an import may have locked or settled pools."""
        await self.refresh_stale()

    async def lock_loop(self) -> None:
        """Forever: lock due pools and refresh stale messages, waking at the next lock
        time (stored in the database, so this works the same after a restart)."""
        while True:
            self._wake.clear()
            delay = LOOP_SECONDS
            try:
                await self.refresh_stale()
                next_lock = await self.res.run(betting.next_lock_at)
                if next_lock is not None:
                    delay = min(delay, (next_lock - self.now()).total_seconds() + 0.05)
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad round must not stop the loop
                log.exception("betting lock loop failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.05, delay))

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        if self._loop_task is None or self._loop_task.done():
            spawn = getattr(self.bot, "spawn", None)
            if callable(spawn):
                self._loop_task = spawn(self.lock_loop(), name="etbot-bet-lock-loop")

    # ------------------------------------------------------------------ result posts

    async def build_result(self, key: str) -> Post | None:
        """Outbox builder of ``bet_result`` posts: how the pool ended, every payout."""
        try:
            pool_id = int(key)
        except ValueError:
            return None
        try:
            result = await self.res.run(betting.result_view, pool_id)
        except betting.NoSuchPool:
            return None
        if result is None:
            return None
        return Post(embeds=[views.result_embed(result)], allowed_mentions=NONE)


def settled_embed(result: betting.Settlement) -> disnake.Embed:
    """The manager's private confirmation of a settle or cancel."""
    if result.state == betting.CANCELLED:
        text = f"Pool #{result.pool_id} cancelled: {whole(result.pot)} points refunded."
    elif result.refunded:
        text = f"Pool #{result.pool_id} settled with refunds: {whole(result.pot)} points back."
    else:
        won = betting.side_name(result.winner or 0)
        winners = len(result.payouts)
        text = (
            f"Pool #{result.pool_id} settled: {won} won; {whole(result.pot)} points "
            f"shared by {winners} winner{'s' if winners != 1 else ''}. The result is posted "
            "in the announcement channel."
        )
    return disnake.Embed(title="Done", description=text, colour=COLOUR_OK)


def history_line(entry: betting.LedgerEntry) -> str:
    label = LEDGER_LABELS.get(entry.kind, entry.kind)
    where = ""
    if entry.pool_id is not None:
        title = f" {escape(clip(entry.pool_title, 40))}" if entry.pool_title else ""
        staked = entry.side is not None and entry.kind == "stake"
        side = f" on {betting.side_name(entry.side or 0)}" if staked else ""
        where = f" · pool #{entry.pool_id}{title}{side}"
    return f"{views.timestamp(entry.created_at, 'd')} **{entry.amount:+,}** {label}{where}"


def setup(bot: commands.InteractionBot) -> None:
    cog = BettingCog(bot)
    bot.add_cog(cog)
    poster = getattr(bot, "poster", None)
    if poster is not None:
        poster.register(betting.RESULT_KIND, cog.build_result)
    listeners = getattr(bot, "import_listeners", None)
    if listeners is not None:
        listeners.append(cog.after_import)

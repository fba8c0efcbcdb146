"""The betting pool's message, buttons and amount modal, and the result post (built from
:mod:`etbot.betting` data; the cog in :mod:`etbot.commands.betting` sends them).

Everything here is persistent by construction: every custom id carries the pool id
(``etbot:bet:side:<pool>:<side>``, ``etbot:bet:lock:<pool>``, the modal
``etbot:bet:amount:<pool>:<side>``), and what a message shows is rebuilt from the
database whenever the pool changes, so the buttons of a pool keep working after a
restart and the embed always shows the pool's real state.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import disnake
from disnake.interactions import MessageInteraction

from etbot import betting
from etbot.betting import (
    CANCELLED,
    DRAW,
    LOCKED,
    OPEN,
    SETTLED,
    SIDE_A,
    SIDE_B,
    SIDES,
    PoolView,
    ResultView,
    side_name,
)
from etbot.commands._base import COLOUR_ERROR, COLOUR_INFO, COLOUR_OK
from etbot.commands.formatting import clip, escape, whole
from etbot.views.components import custom_id

log = logging.getLogger(__name__)

NAMESPACE = "bet"
#: Component actions of the namespace.
SIDE = "side"
AMOUNT = "amount"
LOCK = "lock"
#: The modal's text input.
AMOUNT_FIELD = "amount"

COLOUR_LOCKED = disnake.Colour(0xFEE75C)
#: Lines of payouts shown in a result post before "… and N more".
MAX_PAYOUT_LINES = 25
#: Discord's limit for an embed field value.
FIELD_LIMIT = 1024


def timestamp(utc_naive: datetime, style: str = "R") -> str:
    """A Discord timestamp (shown in each reader's own time zone)."""
    return disnake.utils.format_dt(utc_naive.replace(tzinfo=UTC), style)  # type: ignore[arg-type]


def pool_title(view: PoolView) -> str:
    name = escape(view.title) if view.title else "Next map"
    return clip(f"Pool #{view.id} · {name}", 256)


def lineup_text(view: PoolView, side: int) -> str:
    names = [escape(p.name) for p in view.side(side).players]
    return clip("\n".join(names) or "–", FIELD_LIMIT)


def state_line(view: PoolView, now: datetime) -> str:
    """What the pool is doing, in one line."""
    if view.state == OPEN and view.accepting(now):
        closes = f" Betting closes {timestamp(view.lock_at)}." if view.lock_at else ""
        return f"**Open**: pick a team below.{closes}"
    if view.state in (OPEN, LOCKED):
        return "**Locked**: the match has started, no more bets. Waiting for the result."
    if view.state == SETTLED:
        if view.winner == DRAW:
            return "**Settled: draw**. Every stake was refunded."
        won = side_name(view.winner or 0)
        if view.side(view.winner or 0).pot == 0:
            return f"**Settled: {won} won**, but nobody backed them: every stake was refunded."
        return f"**Settled: {won} won** and shared the pot."
    return "**Cancelled**: every stake was refunded."


def chance_text(view: PoolView) -> str:
    if view.p_side_a is None:
        return "no rating available"
    a = round(100 * view.p_side_a)
    return (
        f"Team A {a}% · Team B {100 - a}%\n"
        f"rating model; {view.rated_players} of {view.players} players rated"
    )


def pot_text(view: PoolView) -> str:
    if view.pot == 0:
        return "No bets yet."
    ratio = f"{whole(view.side(SIDE_A).pot)} : {whole(view.side(SIDE_B).pot)}"
    pays = []
    for side in SIDES:
        multiplier = view.multiplier(side)
        pays.append(
            f"{side_name(side)} pays ×{multiplier:.2f}"
            if multiplier is not None
            else f"{side_name(side)}: no bets yet"
        )
    return f"**{whole(view.pot)}** points · A : B = {ratio}\n" + " · ".join(pays)


def side_bets_text(view: PoolView, side: int) -> str:
    s = view.side(side)
    bettors = "bettor" if s.bettors == 1 else "bettors"
    return f"{whole(s.pot)} points · {s.bettors} {bettors}"


def pool_embed(view: PoolView, now: datetime) -> disnake.Embed:
    """The public pool message: line-ups, win chance, pot, and bets per side."""
    colour = {
        OPEN: COLOUR_INFO if view.accepting(now) else COLOUR_LOCKED,
        LOCKED: COLOUR_LOCKED,
        SETTLED: COLOUR_OK,
        CANCELLED: COLOUR_ERROR,
    }[view.state]
    description = state_line(view, now)
    if view.map:
        description += f"\nMap: **{escape(view.map)}**"
    embed = disnake.Embed(title=pool_title(view), description=description, colour=colour)
    embed.add_field("Team A", lineup_text(view, SIDE_A), inline=True)
    embed.add_field("Team B", lineup_text(view, SIDE_B), inline=True)
    embed.add_field("Win chance", chance_text(view), inline=False)
    embed.add_field("Pot", pot_text(view), inline=False)
    embed.add_field("Bets on Team A", side_bets_text(view, SIDE_A), inline=True)
    embed.add_field("Bets on Team B", side_bets_text(view, SIDE_B), inline=True)
    embed.set_footer(
        text=f"Pool {view.id} · winners share the whole pot in proportion to their stakes; "
        "a draw or a cancel refunds everyone"
    )
    return embed


def pool_components(view: PoolView, now: datetime) -> list[disnake.ui.ActionRow]:
    """One button per side first, then the admin's lock button; all disabled once the
    pool stops taking bets."""
    closed = not view.accepting(now)
    return [
        disnake.ui.ActionRow(
            disnake.ui.Button(
                style=disnake.ButtonStyle.primary,
                label="Bet on Team A",
                custom_id=custom_id(NAMESPACE, SIDE, view.id, SIDE_A),
                disabled=closed,
            ),
            disnake.ui.Button(
                style=disnake.ButtonStyle.danger,
                label="Bet on Team B",
                custom_id=custom_id(NAMESPACE, SIDE, view.id, SIDE_B),
                disabled=closed,
            ),
            disnake.ui.Button(
                style=disnake.ButtonStyle.secondary,
                label="Lock (admins)",
                custom_id=custom_id(NAMESPACE, LOCK, view.id),
                disabled=closed,
            ),
        )
    ]


async def send_amount_modal(
    inter: MessageInteraction, pool_id: int, side: int, balance: int
) -> None:
    """Ask for the amount. No Modal object is kept in memory: the submission goes to the
    cog's persistent listener, whatever process (or restart) receives it."""
    await inter.response.send_modal(
        title=clip(f"Bet on {side_name(side)} · pool #{pool_id}", 45),
        custom_id=custom_id(NAMESPACE, AMOUNT, pool_id, side),
        components=[
            disnake.ui.TextInput(
                label=clip(f"Points to bet (you have {whole(balance)})", 45),
                custom_id=AMOUNT_FIELD,
                placeholder=f"a whole number from 1 to {balance}",
                min_length=1,
                max_length=16,
            )
        ],
    )


def receipt_embed(receipt: betting.BetReceipt) -> disnake.Embed:
    """The bettor's private receipt."""
    side = side_name(receipt.side)
    if receipt.duplicate:
        title = "Already counted"
        text = f"This bet of **{whole(receipt.amount)}** points on {side} was already placed."
    else:
        title = "Bet placed"
        text = f"You bet **{whole(receipt.amount)}** points on {side} in pool #{receipt.pool_id}."
    return disnake.Embed(
        title=title,
        description=(
            f"{text}\nYour stake on {side}: **{whole(receipt.stake)}** points · "
            f"balance left: **{whole(receipt.balance)}** points."
        ),
        colour=COLOUR_OK,
    )


def mention(member_id: int) -> str:
    """A member mention: shows the member's name, and pings nobody as long as the message
    is sent with ``AllowedMentions.none()``."""
    return f"<@{member_id}>"


def result_embed(result: ResultView) -> disnake.Embed:
    """The post that announces how a pool ended, with every winner's payout."""
    view = result.pool
    if view.state == CANCELLED:
        headline, colour = "cancelled", COLOUR_ERROR
    else:
        headline, colour = "settled", COLOUR_OK
    name = escape(view.title) if view.title else "Next map"
    embed = disnake.Embed(
        title=clip(f"Pool #{view.id} {headline} · {name}", 256),
        description=state_line(view, datetime.max),
        colour=colour,
    )
    embed.add_field("Team A", lineup_text(view, SIDE_A), inline=True)
    embed.add_field("Team B", lineup_text(view, SIDE_B), inline=True)
    if result.payouts:
        refund = all(p.kind == "refund" for p in result.payouts)
        lines = [
            f"{mention(p.member_id)} gets {whole(p.amount)}"
            + ("" if refund else f" (staked {whole(p.stake)}, {p.profit:+,})")
            for p in result.payouts
        ]
        embed.add_field("Refunds" if refund else "Payouts", _lines(lines), inline=False)
    if result.losers:
        lost = [f"{mention(m)} lost {whole(a)}" for m, a in result.losers]
        embed.add_field("Lost", _lines(lost), inline=False)
    embed.set_footer(text=f"Pot {whole(view.pot)} points")
    return embed


def _lines(lines: list[str]) -> str:
    """Lines for one embed field, cut with "… and N more" to fit."""
    shown: list[str] = []
    for i, line in enumerate(lines[:MAX_PAYOUT_LINES]):
        more = len(lines) - i
        tail = f"\n… and {more} more"
        if len("\n".join([*shown, line])) + len(tail) > FIELD_LIMIT:
            return "\n".join(shown) + tail
        shown.append(line)
    if len(lines) > MAX_PAYOUT_LINES:
        return "\n".join(shown) + f"\n… and {len(lines) - MAX_PAYOUT_LINES} more"
    return "\n".join(shown)

"""/bet through recorded Discord interactions (SQLite and PostgreSQL): the public pool,
buttons and the amount modal, bad input answered privately with nothing changed, admin
checks, persistence across a restart, the lock loop and the result post."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import disnake
import pytest
from peewee import Database

from commands.conftest import FakeRenderer, make_settings
from conftest import corpus_files, first_pair
from discordkit import (
    ADMIN_ROLE_ID,
    CHANNEL_ID,
    CHANNEL_MESSAGE,
    GUILD_ID,
    MEMBER_PERMISSIONS,
    ORIGINAL_EDIT,
    DiscordRecorder,
    FakeUser,
    RecordedRequest,
)
from discordkit import payloads as p
from etbot import announce, betting
from etbot.bot import EtBot
from etbot.commands.betting import BettingCog
from etbot.db import Db
from etbot.ingest import Importer
from etbot.models import (
    Announcement,
    BetAccount,
    BetLedger,
    BetPool,
    BetStake,
    Player,
    PlayerRound,
    Round,
)

MESSAGE_EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"
ALICE = FakeUser(1_100_000_000_000_000_101, "alice", global_name="Alice")
BOB = FakeUser(1_100_000_000_000_000_102, "bob", global_name="Bob")


@pytest.fixture
def bet_db(db: Database) -> Database:
    """The ``db`` fixture (both backends) with one round 1 / round 2 pair imported."""
    Importer().import_paths(list(first_pair(corpus_files())))
    return db


def make_bot(database: Database) -> EtBot:
    settings = make_settings(
        "sqlite:///unused.db", betting_start_points=100, announce_channel_id=CHANNEL_ID
    )
    return EtBot(settings, Db(database), renderer=FakeRenderer())  # type: ignore[arg-type]


@pytest.fixture
async def rec(bet_db: Database) -> AsyncIterator[DiscordRecorder[EtBot]]:
    bot = make_bot(bet_db)
    with DiscordRecorder(bot) as recorder:
        yield recorder
    bot.resources.db._pool.shutdown(wait=True)


def cog(rec: DiscordRecorder[EtBot]) -> BettingCog:
    """The loaded cog (disnake loads cog modules as their own module objects, so the class
    is not identical to the one imported here)."""
    found = rec.bot.get_cog("BettingCog")
    assert type(found).__name__ == "BettingCog"
    return found  # type: ignore[return-value]


def snapshot() -> tuple[Any, ...]:
    """What a refused action must leave unchanged."""
    return (
        sorted(BetAccount.select(BetAccount.member_id, BetAccount.points).tuples()),
        sorted(BetStake.select(BetStake.member_id, BetStake.side, BetStake.amount).tuples()),
        sorted(BetLedger.select(BetLedger.key, BetLedger.amount).tuples()),
        sorted(BetPool.select(BetPool.id, BetPool.state, BetPool.bets).tuples()),
    )


def bet_command(sub: str, *options: dict, **ctx: Any) -> dict:
    return p.slash_command("bet", [p.subcommand(sub, *options)], **ctx)


async def open_pool(rec: DiscordRecorder[EtBot], *options: dict) -> tuple[int, dict]:
    """/bet open as the admin; the pool id and the public message."""
    payload = bet_command("open", *options, admin=True)
    await rec.invoke_slash(payload)
    [edit] = [r for r in rec.by_route(ORIGINAL_EDIT) if r.token == payload["token"]]
    message = edit.response
    pool_id = int(message["components"][0]["components"][0]["custom_id"].split(":")[3])
    return pool_id, message


async def answer(rec: DiscordRecorder[EtBot], payload: dict) -> RecordedRequest:
    """Dispatch an interaction (the bot's listeners and error path run) and wait for its
    first answer."""
    await rec.dispatch(payload)
    return await rec.wait_for_response(payload, timeout=10)


async def refused(rec: DiscordRecorder[EtBot], payload: dict, text: str) -> None:
    """The interaction is answered privately with ``text`` and changes nothing."""
    before = snapshot()
    reply = await answer(rec, payload)
    assert reply.ephemeral
    assert text in reply.embeds[0]["description"]
    assert snapshot() == before


async def place(
    rec: DiscordRecorder[EtBot], message: dict, pool_id: int, side: int, amount: str, user: FakeUser
) -> RecordedRequest:
    """Click a side button, then submit the modal it opened; returns the modal's answer."""
    button = message["components"][0]["components"][side - 1]["custom_id"]
    click = p.button_click(button, message=message, user=user)
    modal = await answer(rec, click)
    assert modal.callback_type == 9
    submit = p.modal_submit(
        modal.json["data"]["custom_id"], {"amount": amount}, message=message, user=user
    )
    start = len(rec.requests)
    receipt = await answer(rec, submit)
    if receipt.embeds[0]["title"] != "Sorry":  # a bet: wait for the pool message's edit
        await rec.wait_for(lambda r: r.route == MESSAGE_EDIT, start=start, timeout=10)
    return receipt


def latest_edit(rec: DiscordRecorder[EtBot], message: dict) -> RecordedRequest:
    edits = [r for r in rec.by_route(MESSAGE_EDIT) if r.params["message_id"] == message["id"]]
    return edits[-1]


def fields(embed: dict) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


def last_round_teams() -> dict[int, set[str]]:
    last = Round.select().order_by(Round.ended_at.desc(), Round.id.desc()).first()
    teams: dict[int, set[str]] = {1: set(), 2: set()}
    for pr in PlayerRound.select().where(PlayerRound.round == last.id):
        if pr.team in (1, 2):
            teams[pr.team].add(pr.player.name)
    return teams


# --------------------------------------------------------------------------- the pool


async def test_open_answers_with_the_public_pool(rec: DiscordRecorder[EtBot]) -> None:
    pool_id, message = await open_pool(
        rec, p.option("title", "Friday final"), p.option("lock_in", 30)
    )
    [callback] = rec.by_route("POST /interactions/{interaction_id}/{token}/callback")
    assert callback.callback_type == 5  # deferred in public, then the pool itself
    assert not callback.ephemeral
    [embed] = message["embeds"]
    assert embed["title"] == f"Pool #{pool_id} · Friday final"
    assert "Betting closes <t:" in embed["description"]
    teams = last_round_teams()  # default line-ups: the latest round's teams
    shown = fields(embed)
    assert set(shown["Team A"].split("\n")) == {disnake.utils.escape_markdown(n) for n in teams[1]}
    assert set(shown["Team B"].split("\n")) == {disnake.utils.escape_markdown(n) for n in teams[2]}
    assert "Team A" in shown["Win chance"]
    assert "rating model" in shown["Win chance"]
    assert shown["Pot"] == "No bets yet."
    assert shown["Bets on Team A"] == "0 points · 0 bettors"
    buttons = message["components"][0]["components"]
    assert [b["custom_id"] for b in buttons] == [
        f"etbot:bet:side:{pool_id}:1",
        f"etbot:bet:side:{pool_id}:2",
        f"etbot:bet:lock:{pool_id}",
    ]
    assert [b["label"] for b in buttons][:2] == ["Bet on Team A", "Bet on Team B"]
    pool = BetPool.get_by_id(pool_id)
    assert (pool.channel_id, pool.message_id) == (int(message["channel_id"]), int(message["id"]))
    assert pool.lock_at is not None


async def test_open_with_picked_players(rec: DiscordRecorder[EtBot]) -> None:
    players = list(Player.select().order_by(Player.guid).limit(3))
    pool_id, _message = await open_pool(
        rec,
        p.option("team_a1", f"guid:{players[0].guid}"),
        p.option("team_a2", f"guid:{players[1].guid}"),
        p.option("team_b1", f"guid:{players[2].guid}"),
    )
    view = betting.pool_view(pool_id)
    assert [x.guid for x in view.side(1).players] == [players[0].guid, players[1].guid]
    assert [x.guid for x in view.side(2).players] == [players[2].guid]
    # Only one team picked: a clear error, no pool.
    payload = bet_command("open", p.option("team_a1", f"guid:{players[0].guid}"), admin=True)
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for_response(payload)
    assert reply.ephemeral
    assert "both teams" in reply.embeds[0]["description"]
    assert BetPool.select().count() == 1


async def test_bets_through_buttons_and_the_modal(rec: DiscordRecorder[EtBot]) -> None:
    pool_id, message = await open_pool(rec)
    click = p.button_click(f"etbot:bet:side:{pool_id}:1", message=message, user=ALICE)
    modal = await answer(rec, click)
    assert modal.callback_type == 9
    data = modal.json["data"]
    assert data["custom_id"] == f"etbot:bet:amount:{pool_id}:1"
    [text_input] = data["components"][0]["components"]
    assert text_input["label"] == "Points to bet (you have 100)"
    receipt = await place(rec, message, pool_id, 1, "30", ALICE)
    assert receipt.ephemeral
    assert "You bet **30** points on Team A" in receipt.embeds[0]["description"]
    assert "balance left: **70** points" in receipt.embeds[0]["description"]
    await place(rec, message, pool_id, 2, "10", BOB)
    await place(rec, message, pool_id, 1, "20", ALICE)  # adds to her stake
    shown = fields(latest_edit(rec, message).embeds[0])
    assert shown["Bets on Team A"] == "50 points · 1 bettor"
    assert shown["Bets on Team B"] == "10 points · 1 bettor"
    assert shown["Pot"].startswith("**60** points · A : B = 50 : 10")
    assert "Team B pays ×6.00" in shown["Pot"]
    assert latest_edit(rec, message).json["allowed_mentions"] == {"parse": []}
    account = BetAccount.get(BetAccount.member_id == ALICE.id)
    assert account.points == 50


async def test_a_retried_modal_submission_bets_once(rec: DiscordRecorder[EtBot]) -> None:
    pool_id, message = await open_pool(rec)
    submit = p.modal_submit(f"etbot:bet:amount:{pool_id}:2", {"amount": "40"}, message=message)
    first = await answer(rec, submit)
    assert "You bet **40**" in first.embeds[0]["description"]
    rec.clear()
    second = await answer(rec, submit)  # the same interaction delivered again
    assert second.embeds[0]["title"] == "Already counted"
    assert BetLedger.select().where(BetLedger.kind == "stake").count() == 1
    assert BetStake.get().amount == 40


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "Bet at least 1 point"),
        ("-5", "negative"),
        ("abc", "not a whole number"),
        ("101", "You have only 100 points; you cannot bet 101."),
        ("", "how many points"),
    ],
)
async def test_bad_amounts_are_refused_privately(
    rec: DiscordRecorder[EtBot], amount: str, message: str
) -> None:
    pool_id, pool_message = await open_pool(rec)
    betting.ensure_account(GUILD_ID, ALICE.id, cog(rec).rules)
    submit = p.modal_submit(
        f"etbot:bet:amount:{pool_id}:1", {"amount": amount}, message=pool_message, user=ALICE
    )
    await refused(rec, submit, message)


async def test_clicks_on_a_closed_pool_are_refused(rec: DiscordRecorder[EtBot]) -> None:
    pool_id, message = await open_pool(rec)
    await place(rec, message, pool_id, 1, "10", ALICE)
    betting.lock_pool(pool_id)
    click = p.button_click(f"etbot:bet:side:{pool_id}:2", message=message, user=BOB)
    await refused(rec, click, "is locked")
    # A modal opened before the lock and submitted after it is refused too.
    submit = p.modal_submit(
        f"etbot:bet:amount:{pool_id}:1", {"amount": "5"}, message=message, user=BOB
    )
    await refused(rec, submit, "is locked")
    # The stale message got its buttons disabled.
    edit = await rec.wait_for(
        lambda r: r.route == MESSAGE_EDIT and "Locked" in r.embeds[0]["description"]
    )
    assert all(b["disabled"] for b in edit.components[0]["components"])
    betting.settle_pool(pool_id, 1)
    click = p.button_click(f"etbot:bet:side:{pool_id}:1", message=message, user=BOB)
    await refused(rec, click, "is settled")


async def test_the_other_side_and_a_tampered_button_are_refused(
    rec: DiscordRecorder[EtBot],
) -> None:
    pool_id, message = await open_pool(rec)
    await place(rec, message, pool_id, 1, "10", ALICE)
    click = p.button_click(f"etbot:bet:side:{pool_id}:2", message=message, user=ALICE)
    await refused(rec, click, "You already bet on Team A")
    await refused(rec, p.button_click(f"etbot:bet:side:{pool_id}:7", user=ALICE), "no side")
    await refused(rec, p.button_click("etbot:bet:side:x:1", user=ALICE), "outdated")
    await refused(rec, p.button_click(f"etbot:bet:side:{pool_id + 9}:1"), "no betting pool")


async def test_members_cannot_manage_pools(rec: DiscordRecorder[EtBot]) -> None:
    pool_id, message = await open_pool(rec)
    for payload in (
        bet_command("open"),
        bet_command("settle", p.option("winner", 1)),
        bet_command("lock"),
        bet_command("cancel"),
    ):
        before = snapshot()
        await rec.invoke_slash(payload, raise_errors=False)
        reply = await rec.wait_for_response(payload)
        assert reply.ephemeral
        assert "Manage Server" in reply.embeds[0]["description"]
        assert snapshot() == before
    await refused(
        rec, p.button_click(f"etbot:bet:lock:{pool_id}", message=message), "Manage Server"
    )
    assert BetPool.get_by_id(pool_id).state == "open"


async def test_the_betting_role_may_manage_pools(rec: DiscordRecorder[EtBot]) -> None:
    betting.set_manager_role(GUILD_ID, ADMIN_ROLE_ID)
    # A member with that role but without Manage Server.
    payload = bet_command("open", admin=True, user=ALICE, permissions=MEMBER_PERMISSIONS)
    await rec.invoke_slash(payload)
    assert BetPool.select().count() == 1
    settings = rec.bot.get_slash_command("bet-settings")
    assert settings is not None
    assert settings.default_member_permissions == disnake.Permissions(manage_guild=True)
    refused_payload = p.slash_command("bet-settings", [p.option("remove_role", True)])
    await rec.invoke_slash(refused_payload, raise_errors=False)
    reply = await rec.wait_for_response(refused_payload)
    assert "Manage Server" in reply.embeds[0]["description"]
    assert betting.guild_settings(GUILD_ID).role_id == ADMIN_ROLE_ID
    ok = p.slash_command("bet-settings", [p.option("own_team_only", False)], admin=True)
    await rec.invoke_slash(ok)
    assert betting.guild_settings(GUILD_ID).own_team_only is False


async def test_settle_posts_every_payout_without_pinging(rec: DiscordRecorder[EtBot]) -> None:
    pool_id, message = await open_pool(rec, p.option("title", "Cup"))
    await place(rec, message, pool_id, 1, "30", ALICE)
    await place(rec, message, pool_id, 2, "45", BOB)
    carol = FakeUser(1_100_000_000_000_000_103, "carol")
    await place(rec, message, pool_id, 1, "10", carol)
    payload = bet_command("settle", p.option("winner", 1), admin=True)
    await rec.invoke_slash(payload)
    [reply] = [r for r in rec.for_interaction(payload)]
    assert reply.ephemeral
    assert "Team A won; 85 points shared by 2 winners" in reply.embeds[0]["description"]
    edit = latest_edit(rec, message)
    assert "Settled: Team A won" in edit.embeds[0]["description"]
    assert all(b["disabled"] for b in edit.components[0]["components"])
    # The post, through the real poster: 85 * 30/40 = 63.75 -> 63 (+1), 85 * 10/40 = 21.25.
    assert await rec.bot.poster.drain() == 1
    [post] = rec.by_route(CHANNEL_MESSAGE)
    assert post.json["allowed_mentions"] == {"parse": []}
    [embed] = post.embeds
    assert embed["title"] == f"Pool #{pool_id} settled · Cup"
    payouts = fields(embed)["Payouts"].split("\n")
    assert payouts == [
        f"<@{ALICE.id}> gets 64 (staked 30, +34)",
        f"<@{carol.id}> gets 21 (staked 10, +11)",
    ]
    assert fields(embed)["Lost"] == f"<@{BOB.id}> lost 45"
    assert betting.audit().ok


async def test_cancel_refunds_and_balance_history_leaderboard(
    rec: DiscordRecorder[EtBot],
) -> None:
    pool_id, message = await open_pool(rec)
    await place(rec, message, pool_id, 1, "30", ALICE)
    balance = bet_command("balance", user=ALICE)
    await rec.invoke_slash(balance)
    [reply] = rec.for_interaction(balance)
    assert "has **70** points, and **30** riding on open pools" in reply.embeds[0]["description"]
    payload = bet_command("cancel", p.option("pool", pool_id), admin=True)
    await rec.invoke_slash(payload)
    assert BetAccount.get(BetAccount.member_id == ALICE.id).points == 100
    assert Announcement.get(Announcement.kind == "bet_result").key == str(pool_id)
    history = bet_command("history", user=ALICE)
    await rec.invoke_slash(history)
    [reply] = rec.for_interaction(history)
    lines = reply.embeds[0]["description"].split("\n")[1:]
    assert ["refund" in lines[0], "bet" in lines[1], "starting points" in lines[2]] == [True] * 3
    board = bet_command("leaderboard")
    await rec.invoke_slash(board)
    [reply] = rec.for_interaction(board)
    assert not reply.ephemeral
    assert reply.json["data"]["allowed_mentions"] == {"parse": []}
    assert f"1. <@{ALICE.id}> · 100" in fields(reply.embeds[0])["Richest"]
    topup = bet_command("topup", user=ALICE)
    await rec.invoke_slash(topup, raise_errors=False)
    reply = await rec.wait_for_response(topup)
    assert "only for members at 0 points; you have 100" in reply.embeds[0]["description"]


async def test_buttons_work_after_a_restart(bet_db: Database) -> None:
    first = make_bot(bet_db)
    with DiscordRecorder(first) as rec:
        pool_id, message = await open_pool(rec)
        await place(rec, message, pool_id, 1, "25", ALICE)
    first.resources.db._pool.shutdown(wait=True)
    # A new process: nothing in memory, the same database.
    second = make_bot(bet_db)
    with DiscordRecorder(second) as rec:
        receipt = await place(rec, message, pool_id, 2, "15", BOB)
        assert "You bet **15** points on Team B" in receipt.embeds[0]["description"]
        shown = fields(latest_edit(rec, message).embeds[0])
        assert shown["Bets on Team A"] == "25 points · 1 bettor"
        assert shown["Bets on Team B"] == "15 points · 1 bettor"
    second.resources.db._pool.shutdown(wait=True)


async def test_the_lock_loop_locks_at_lock_time_and_disables_buttons(
    rec: DiscordRecorder[EtBot],
) -> None:
    pool_id, message = await open_pool(rec, p.option("lock_in", 5))
    await cog(rec).refresh_stale()
    assert BetPool.get_by_id(pool_id).state == "open"
    later = betting.utcnow() + timedelta(minutes=6)
    assert betting.lock_due(later) == [pool_id]  # what the loop does once the time came
    await cog(rec).refresh_stale()
    edit = latest_edit(rec, message)
    assert "Locked" in edit.embeds[0]["description"]
    assert all(b["disabled"] for b in edit.components[0]["components"])
    assert BetPool.get_by_id(pool_id).shown_state == "locked"
    rec.clear()
    await cog(rec).refresh_stale()  # nothing stale any more: no edit
    assert rec.by_route(MESSAGE_EDIT) == []


async def test_the_lock_loop_wakes_up_at_the_stored_lock_time(
    rec: DiscordRecorder[EtBot],
) -> None:
    pool_id, message = await open_pool(rec, p.option("lock_in", 5))
    # As if the five minutes were nearly over (the loop reads the time from the database).
    soon = betting.utcnow() + timedelta(seconds=0.3)
    BetPool.update(lock_at=soon).where(BetPool.id == pool_id).execute()
    loop = asyncio.create_task(cog(rec).lock_loop())
    try:
        edit = await rec.wait_for(
            lambda r: r.route == MESSAGE_EDIT and "Locked" in r.embeds[0]["description"],
            timeout=10,
        )
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    assert edit.params["message_id"] == message["id"]
    assert BetPool.get_by_id(pool_id).state == "locked"


async def test_result_builder_has_nothing_to_say_for_active_or_unknown_pools(
    rec: DiscordRecorder[EtBot],
) -> None:
    pool_id, _message = await open_pool(rec)
    assert await cog(rec).build_result(str(pool_id)) is None
    assert await cog(rec).build_result("999999") is None
    assert await cog(rec).build_result("nonsense") is None
    assert announce.enqueue("bet_result", "999999")
    assert "bet_result" in rec.bot.poster.kinds

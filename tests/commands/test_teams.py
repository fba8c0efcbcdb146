"""/teams: the fairest split with its win chance, Next best split walking the ranking,
Accept finalising the message, buttons only for the member who asked, bad inputs, and the
buttons of an old message after a restart (new bot objects over the same database)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from peewee import Database

from commands.conftest import FakeRenderer, make_settings
from commands.helpers import fields, guid, run_deferred
from discordkit import (
    FOLLOWUP,
    ORIGINAL_EDIT,
    PLAYER_ID,
    DiscordRecorder,
)
from discordkit import payloads as p
from etbot import balance, rating
from etbot.bot import EtBot
from etbot.commands.formatting import escape
from etbot.db import Db
from etbot.models import Player, PlayerRating
from etbot.players import PlayerRef, get_player
from etbot.teams import Proposal, get_proposal
from rating_helpers import unrated_player


def top(n: int) -> list[PlayerRef]:
    return [get_player(r.player_id) for r in rating.ranking()[:n]]


def team_text(guids: tuple[str, ...]) -> list[str]:
    """The lines a team field should hold: name (rating), best rated first."""
    by_guid = {r.guid: r for r in rating.ranking()}
    rows = sorted((by_guid[g] for g in guids), key=lambda r: (-r.rating, r.name.lower(), r.guid))
    return [f"{escape(r.name)} ({r.rating})" for r in rows]


def assert_shows(message: dict[str, Any], split: balance.Split, index: int, count: int) -> None:
    [embed] = message["embeds"]
    shown = fields(embed)
    assert shown[f"Team A ({len(split.team_a)})"].split("\n") == team_text(split.team_a)
    assert shown[f"Team B ({len(split.team_b)})"].split("\n") == team_text(split.team_b)
    chances = f"**Team A {split.p_team_a:.0%}** · **Team B {1 - split.p_team_a:.0%}**"
    assert chances in embed["description"]
    if index == 0:
        assert f"The fairest of {count} splits" in embed["description"]
    else:
        assert f"Split {index + 1} of {count} (fairest first)" in embed["description"]


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = message.get("components") or []
    return {b["label"]: b for row in rows for b in row["components"]}


async def ask(rec: DiscordRecorder, refs: list[PlayerRef]) -> dict[str, Any]:
    options = [p.option(f"player{i}", guid(ref)) for i, ref in enumerate(refs, start=1)]
    edit = await run_deferred(rec, p.slash_command("teams", options))
    rec.clear()
    return edit.response


async def press(rec: DiscordRecorder, message: dict[str, Any], label: str, **context: Any) -> Any:
    click = p.button_click(buttons(message)[label]["custom_id"], message=message, **context)
    await rec.dispatch(click)
    return await rec.wait_for_response(click)


def stored(message: dict[str, Any]) -> Proposal:
    proposal_id = int(buttons(message)["Accept"]["custom_id"].split(":")[3])
    return get_proposal(proposal_id)


async def test_teams_shows_the_fairest_split_with_buttons(rec: DiscordRecorder) -> None:
    refs = top(6)
    message = await ask(rec, refs)
    ranked = balance.balance([r.guid for r in refs]).splits
    assert len(ranked) == math.comb(6, 3) // 2
    assert_shows(message, ranked[0], 0, len(ranked))
    proposal = stored(message)
    assert proposal.asked_by == PLAYER_ID
    shown = buttons(message)
    assert shown["Accept"]["custom_id"] == f"etbot:teams:accept:{proposal.id}:0"
    assert shown["Next best split"]["custom_id"] == f"etbot:teams:next:{proposal.id}:0"
    assert not shown["Next best split"].get("disabled", False)


async def test_next_best_split_shows_the_2nd_3rd_and_last(rec: DiscordRecorder) -> None:
    refs = top(4)  # three splits of 2 v 2
    message = await ask(rec, refs)
    ranked = balance.balance([r.guid for r in refs]).splits
    for index in (1, 2):
        reply = await press(rec, message, "Next best split")
        assert reply.callback_type == 7  # the message itself is updated
        message = {**message, **reply.json["data"]}
        assert_shows(message, ranked[index], index, len(ranked))
        assert buttons(message)["Accept"]["custom_id"].endswith(f":{index}")
    assert buttons(message)["Next best split"]["disabled"]  # nothing less fair is left


async def test_only_the_asker_can_press(rec: DiscordRecorder) -> None:
    message = await ask(rec, top(4))
    for label in ("Next best split", "Accept"):
        reply = await press(rec, message, label, admin=True)  # the owner, not the asker
        assert reply.callback_type == 4
        assert reply.ephemeral
        assert "Only the member who asked" in reply.embeds[0]["description"]
    assert not rec.by_route(ORIGINAL_EDIT)
    proposal = stored(message)
    assert (proposal.index, proposal.accepted_by) == (0, None)


async def test_accept_finalises_the_message(rec: DiscordRecorder) -> None:
    refs = top(5)
    message = await ask(rec, refs)
    ranked = balance.balance([r.guid for r in refs]).splits
    reply = await press(rec, message, "Next best split")
    message = {**message, **reply.json["data"]}
    reply = await press(rec, message, "Accept")
    assert reply.callback_type == 7
    assert reply.components == []  # buttons removed
    [embed] = reply.embeds
    assert embed["title"] == "Teams · accepted"
    assert f"Accepted by <@{PLAYER_ID}>" in embed["description"]
    assert_shows(reply.json["data"], ranked[1], 1, len(ranked))
    assert stored(message).accepted_by == PLAYER_ID
    # The old message's Next button (a client that did not refresh) changes nothing.
    again = await press(rec, message, "Next best split")
    assert again.components == []
    assert stored(message).index == 1


async def test_buttons_of_an_old_message_work_after_a_restart(
    rec: DiscordRecorder, corpus_database: Database
) -> None:
    refs = top(6)
    message = await ask(rec, refs)
    ranked = balance.balance([r.guid for r in refs]).splits
    # A new bot process: new bot, database access, cache and renderer over the same file.
    settings = make_settings(f"sqlite:///{corpus_database.database}")
    db = Db(corpus_database)
    restarted = EtBot(settings, db, renderer=FakeRenderer())  # type: ignore[arg-type]
    try:
        with DiscordRecorder(restarted) as rec2:
            reply = await press(rec2, message, "Next best split")
            assert reply.callback_type == 7
            message = {**message, **reply.json["data"]}
            assert_shows(message, ranked[1], 1, len(ranked))
            reply = await press(rec2, message, "Accept")
            assert reply.components == []
            assert f"Accepted by <@{PLAYER_ID}>" in reply.embeds[0]["description"]
    finally:
        db._pool.shutdown(wait=True)


async def error_of(rec: DiscordRecorder, options: list[dict[str, Any]]) -> str:
    """The private error a /teams call gets (before or after it deferred)."""
    payload = p.slash_command("teams", options)
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for(
        lambda r: r.token == payload["token"] and (r.callback_type == 4 or r.route == FOLLOWUP)
    )
    assert reply.ephemeral
    assert not rec.by_route(ORIGINAL_EDIT)  # no teams were shown
    return str(reply.embeds[0]["description"])


async def test_bad_inputs_get_private_errors(rec: DiscordRecorder) -> None:
    a, b = top(2)
    # The same player through an autocomplete choice and a typed GUID.
    twice = [p.option("player1", guid(a)), p.option("player2", guid(b))]
    twice.append(p.option("player3", a.guid))
    assert "picked twice" in await error_of(rec, twice)
    assert "between 2 and 12 players (got 1)" in await error_of(rec, [p.option("player1", guid(a))])
    assert "not both" in await error_of(
        rec, [p.option("player1", guid(a)), p.option("from_last", "round")]
    )
    assert "Pick at least two players" in await error_of(rec, [])
    newcomer = unrated_player()
    text = await error_of(
        rec, [p.option("player1", guid(a)), p.option("player2", f"guid:{newcomer.guid}")]
    )
    assert text.startswith(f"No rated maps yet for: {escape(newcomer.name)}")


@pytest.mark.parametrize("scope", ["round", "session"])
async def test_from_last_takes_everyone_who_played(rec: DiscordRecorder, scope: str) -> None:
    everyone = balance.players_from_last(scope)  # type: ignore[arg-type]
    rated = {g for (g,) in Player.select(Player.guid).join(PlayerRating).tuples()}
    unrated = [g for g in everyone if g not in rated]
    options = [p.option("from_last", scope)]
    if not 2 <= len(everyone) <= balance.MAX_PLAYERS:
        assert f"(got {len(everyone)})" in await error_of(rec, options)
        return
    if unrated:
        assert "No rated maps yet for" in await error_of(rec, options)
        return
    edit = await run_deferred(rec, p.slash_command("teams", options))
    ranked = balance.balance(everyone).splits
    assert_shows(edit.response, ranked[0], 0, len(ranked))
    assert f"everyone from the last {scope}" in edit.embeds[0]["description"]
    assert stored(edit.response).source == scope


async def test_options(bot: EtBot) -> None:
    command = bot.get_slash_command("teams")
    assert command is not None
    options = {o.name: o for o in command.body.options}
    assert list(options) == [*(f"player{i}" for i in range(1, 13)), "from_last"]
    assert not any(o.required for o in options.values())
    assert all(options[f"player{i}"].autocomplete for i in range(1, 13))
    assert {c.value for c in options["from_last"].choices} == {"session", "round"}

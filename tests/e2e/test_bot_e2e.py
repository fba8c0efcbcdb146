"""End to end: the real EtBot (all cogs, real renderer) against the fake Discord.

One bot is booted for the whole module (a module-scoped event loop) over a temp SQLite with
the corpus (real, else generated) imported; each test dispatches interactions through the
fake gateway and asserts the REST calls the bot makes. Nothing here touches the real Discord.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import disnake
import pytest
import pytest_asyncio

from conftest import corpus_files
from discordkit import (
    FOLLOWUP,
    GUILD_COMMANDS_PUT,
    GUILD_ID,
    ORIGINAL_EDIT,
    OWNER_ID,
    PLAYER_ID,
    FakeDiscord,
    RecordedRequest,
    running_bot,
)
from discordkit import payloads as p
from etbot import balance, matchups, rating
from etbot.bot import EtBot
from etbot.config import Settings
from etbot.db import Db, open_database
from etbot.ingest import Importer
from etbot.leaderboard import leaderboard
from etbot.periods import parse_period
from etbot.players import PlayerRef, get_player
from etbot.render import PNG_SIGNATURE, find_browser, png_dimensions

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOKEN = "fake-bot-token"
TIMEOUT = 60.0  # an upper bound for a loaded CI machine; waits end as soon as it happens


def make_settings(database_url: str, api_base: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "discord_token": TOKEN,
        "discord_api_base": api_base,
        "database_url": database_url,
        "guild_ids": [GUILD_ID],
        "owner_id": OWNER_ID,
        "server_timezone": "Europe/Berlin",
        "render_timeout_seconds": 30.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    files = corpus_files()
    path: Path = tmp_path_factory.mktemp("e2e") / "etbot.db"
    url = f"sqlite:///{path}"
    open_database(url)
    Importer().import_paths(files)
    return url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def live(database_url: str) -> AsyncIterator[tuple[FakeDiscord, EtBot]]:
    async with FakeDiscord(token=TOKEN) as server:
        settings = make_settings(database_url, server.base_url)
        bot = EtBot(settings, Db(open_database(database_url)), guild_ready_timeout=0.05)
        async with running_bot(bot, server, token=TOKEN, timeout=TIMEOUT):
            yield server, bot
        assert server.errors == []
        assert server.unknown_requests == []


async def command(server: FakeDiscord, name: str, *options: dict, **ctx: Any) -> dict:
    return await server.dispatch_interaction(server.slash_command(name, list(options), **ctx))


async def final_message(server: FakeDiscord, payload: dict) -> RecordedRequest:
    """The message a deferred command ends with: the @original edit (or a follow-up)."""
    token = payload["token"]
    return await server.wait_for(
        lambda r: r.token == token and r.route in (ORIGINAL_EDIT, FOLLOWUP), timeout=TIMEOUT
    )


def busiest() -> PlayerRef:
    period = parse_period("all", disnake.utils.utcnow())
    row = leaderboard("rounds", period, limit=1).rows[0]
    return get_player(row.player_id)


async def test_startup(live: tuple[FakeDiscord, EtBot]) -> None:
    server, bot = live
    [put] = server.api.by_route(GUILD_COMMANDS_PUT)
    names = {c["name"] for c in put.json}
    assert {"stats", "leaderboard", "link", "link-member"} <= names
    link_member = next(c for c in put.json if c["name"] == "link-member")
    assert (
        int(link_member["default_member_permissions"])
        == disnake.Permissions(manage_guild=True).value
    )
    assert bot.owner_id == OWNER_ID
    assert server.base_url == disnake.http.Route.BASE


async def test_stats(live: tuple[FakeDiscord, EtBot]) -> None:
    server, _ = live
    ref = busiest()
    payload = await command(server, "stats", p.option("player", f"guid:{ref.guid}"))
    assert (await server.wait_for_response(payload)).callback_type == 5
    message = await final_message(server, payload)
    [embed] = message.embeds
    assert embed["title"] == ref.name
    assert ref.guid in embed["description"]


async def test_leaderboard_and_next_page(live: tuple[FakeDiscord, EtBot]) -> None:
    server, _ = live
    payload = await command(
        server, "leaderboard", p.option("stat", "kills"), p.option("min_rounds", 1)
    )
    first = await final_message(server, payload)
    assert first.embeds[0]["footer"]["text"].startswith("Page 1 of")
    message = first.response
    next_id = message["components"][0]["components"][2]["custom_id"]
    click = await server.dispatch_interaction(
        p.button_click(next_id, message=message, world=server.world)
    )
    reply = await server.wait_for_response(click, timeout=TIMEOUT)
    assert reply.callback_type == 7
    assert reply.embeds[0]["footer"]["text"].startswith("Page 2 of")


async def test_unknown_player_error(live: tuple[FakeDiscord, EtBot]) -> None:
    server, _ = live
    payload = await command(server, "stats", p.option("player", "no-such-player-anywhere"))
    reply = await server.wait_for_response(payload, timeout=TIMEOUT)
    assert reply.callback_type == 4
    assert reply.ephemeral
    assert "No player called" in reply.embeds[0]["description"]


async def test_autocomplete(live: tuple[FakeDiscord, EtBot]) -> None:
    server, _ = live
    ref = busiest()
    payload = server.autocomplete("stats", [p.option("player", ref.name[:3], focused=True)])
    await server.dispatch_interaction(payload)
    reply = await server.wait_for_response(payload, timeout=TIMEOUT)
    assert reply.callback_type == 8
    assert f"guid:{ref.guid}" in [c["value"] for c in reply.choices]
    assert len(reply.choices) <= 25


def assert_png(data: bytes) -> None:
    assert data.startswith(PNG_SIGNATURE)
    width, height = png_dimensions(data)
    assert width >= 600
    assert height >= 400


def chart_or_fallback(message: RecordedRequest, filename: str) -> None:
    """With Chromium the chart is attached as a real PNG; without it the text fallback."""
    [embed] = message.embeds
    if find_browser() is None:
        assert message.attachments == []
        assert any(f["name"] == "Chart unavailable" for f in embed["fields"])
        pytest.skip("no Chromium (/usr/bin/chromium): image assertions skipped")
    [(name, data)] = message.attachments
    assert name == filename
    assert_png(data)
    assert embed["image"]["url"] == f"attachment://{filename}"


async def test_compare_png(live: tuple[FakeDiscord, EtBot]) -> None:
    server, _ = live
    period = parse_period("all", disnake.utils.utcnow())
    rows = leaderboard("rounds", period, limit=2).rows
    a, b = (get_player(r.player_id) for r in rows)
    payload = await command(
        server, "compare", p.option("player1", f"guid:{a.guid}"), p.option("player2", b.name)
    )
    message = await final_message(server, payload)
    assert [f["name"] for f in message.embeds[0]["fields"]][:2] == [a.name, b.name]
    chart_or_fallback(message, "compare.png")


async def test_activity_png(live: tuple[FakeDiscord, EtBot]) -> None:
    server, _ = live
    payload = await command(server, "activity", p.option("weeks", 520))
    message = await final_message(server, payload)
    assert message.embeds[0]["title"] == "Server · activity over 520 weeks"
    assert "(Europe/Berlin)" in message.embeds[0]["description"]
    chart_or_fallback(message, "activity.png")


async def test_trend_png(live: tuple[FakeDiscord, EtBot]) -> None:
    server, _ = live
    ref = busiest()
    payload = await command(
        server,
        "trend",
        p.option("player", f"guid:{ref.guid}"),
        p.option("stat", "kd"),
        p.option("days", 3650),
    )
    message = await final_message(server, payload)
    assert "sessions" in message.embeds[0]["description"]
    chart_or_fallback(message, "trend.png")


async def test_sessions(live: tuple[FakeDiscord, EtBot]) -> None:
    server, _ = live
    payload = await command(server, "sessions")
    message = await final_message(server, payload)
    [embed] = message.embeds
    assert embed["title"] == "Recent sessions"
    assert [f["name"] for f in embed["fields"][-2:]] == ["Weekly pattern", "Next session"]
    assert re.search(r"<t:\d+:f>", embed["fields"][0]["value"])


async def test_availability_poll_two_members_vote(live: tuple[FakeDiscord, EtBot]) -> None:
    server, _ = live
    payload = await command(server, "availability", p.option("days", 2), p.option("at", "21:00"))
    edit = await final_message(server, payload)
    message = edit.response
    rows = message["components"]
    assert [len(row["components"]) for row in rows] == [3, 3]  # one row per day
    yes, maybe = rows[1]["components"][0], rows[1]["components"][1]
    assert yes["label"].endswith("yes (0)")
    for user, button in ((server.world.owner, yes), (server.world.player, maybe)):
        click = await server.dispatch_interaction(
            p.button_click(button["custom_id"], message=message, world=server.world, user=user)
        )
        reply = await server.wait_for_response(click, timeout=TIMEOUT)
        assert reply.callback_type == 7
    # The poll message itself now shows both answers (edited in place, not re-posted).
    stored = server.api.messages[int(message["id"])]
    labels = [b["label"] for b in stored["components"][1]["components"]]
    assert labels[0].endswith("yes (1)")
    assert labels[1:] == ["maybe (1)", "no (0)"]
    second_day = stored["embeds"][0]["fields"][1]["value"]
    assert f"<@{server.world.owner.id}>" in second_day
    assert f"<@{server.world.player.id}>" in second_day


async def test_link_member_refused_for_members(live: tuple[FakeDiscord, EtBot]) -> None:
    server, _ = live
    ref = busiest()
    member = p.user_option("member", server.world.owner, world=server.world)
    payload = await command(server, "link-member", member, p.option("player", f"guid:{ref.guid}"))
    reply = await server.wait_for_response(payload, timeout=TIMEOUT)
    assert reply.ephemeral
    assert "Manage Server" in reply.embeds[0]["description"]


# --------------------------------------------------------------------------- ratings


def rated_regulars(n: int) -> list[PlayerRef]:
    """The ``n`` rated players with the most rated maps."""
    ranked = sorted(rating.ranking(), key=lambda r: (-r.maps, r.guid))
    return [get_player(r.player_id) for r in ranked[:n]]


async def test_rating_png(live: tuple[FakeDiscord, EtBot]) -> None:
    server, _ = live
    [ref] = rated_regulars(1)
    payload = await command(server, "rating", p.option("player", f"guid:{ref.guid}"))
    message = await final_message(server, payload)
    [embed] = message.embeds
    summary = rating.rating_summary(ref.id)
    assert embed["title"].endswith(" · rating")
    assert embed["description"].startswith(f"**{summary.rating}** · #{summary.rank} of ")
    chart_or_fallback(message, "rating.png")


async def test_matchup(live: tuple[FakeDiscord, EtBot]) -> None:
    server, _ = live
    a, b = rated_regulars(2)
    payload = await command(
        server, "matchup", p.option("player1", f"guid:{a.guid}"), p.option("player2", b.guid)
    )
    message = await final_message(server, payload)
    m = matchups.matchup(a.id, b.id)
    together = next(f for f in message.embeds[0]["fields"] if f["name"] == "Together")
    assert together["value"].startswith(f"{m.together.maps} map")


def teams_button(message: dict, label: str) -> str:
    return next(
        b["custom_id"]
        for row in message["components"]
        for b in row["components"]
        if b["label"] == label
    )


async def click(server: FakeDiscord, message: dict, label: str, **ctx: Any) -> RecordedRequest:
    payload = p.button_click(
        teams_button(message, label), message=message, world=server.world, **ctx
    )
    await server.dispatch_interaction(payload)
    return await server.wait_for_response(payload, timeout=TIMEOUT)


async def ask_teams(server: FakeDiscord, refs: list[PlayerRef]) -> dict:
    options = [p.option(f"player{i}", f"guid:{r.guid}") for i, r in enumerate(refs, start=1)]
    payload = await command(server, "teams", *options)
    message = await final_message(server, payload)
    assert message.embeds[0]["title"] == "Teams"
    return message.response


async def test_teams_with_a_button_press(live: tuple[FakeDiscord, EtBot]) -> None:
    server, _ = live
    refs = rated_regulars(4)
    message = await ask_teams(server, refs)
    ranked = balance.balance([r.guid for r in refs]).splits
    assert f"The fairest of {len(ranked)} splits" in message["embeds"][0]["description"]
    # Another member cannot press; the asker gets the next best split, then accepts it.
    refused = await click(server, message, "Next best split", user=server.world.owner)
    assert refused.ephemeral
    assert "Only the member who asked" in refused.embeds[0]["description"]
    reply = await click(server, message, "Next best split")
    assert reply.callback_type == 7
    assert f"Split 2 of {len(ranked)}" in reply.embeds[0]["description"]
    p_a = ranked[1].p_team_a
    assert f"**Team A {p_a:.0%}** · **Team B {1 - p_a:.0%}**" in reply.embeds[0]["description"]
    message = {**message, **reply.json["data"]}
    accepted = await click(server, message, "Accept")
    assert accepted.callback_type == 7
    assert accepted.components == []
    assert f"Accepted by <@{PLAYER_ID}>" in accepted.embeds[0]["description"]


async def test_teams_buttons_work_after_a_restart(database_url: str) -> None:
    """An old /teams message's buttons, pressed after the bot restarted: new bot, new
    database access, same database file. Nothing is kept in memory between the two."""
    refs = rated_regulars(6)
    ranked = balance.balance([r.guid for r in refs]).splits
    async with FakeDiscord(token=TOKEN) as server:
        settings = make_settings(database_url, server.base_url)
        first = EtBot(settings, Db(open_database(database_url)), guild_ready_timeout=0.05)
        async with running_bot(first, server, token=TOKEN, timeout=TIMEOUT):
            message = await ask_teams(server, refs)
        assert first.is_closed()
        second = EtBot(settings, Db(open_database(database_url)), guild_ready_timeout=0.05)
        async with running_bot(second, server, token=TOKEN, timeout=TIMEOUT):
            reply = await click(server, message, "Next best split")
            assert reply.callback_type == 7
            assert f"Split 2 of {len(ranked)}" in reply.embeds[0]["description"]
            accepted = await click(server, {**message, **reply.json["data"]}, "Accept")
            assert accepted.components == []
            assert f"Accepted by <@{PLAYER_ID}>" in accepted.embeds[0]["description"]
        assert server.errors == []
        assert server.unknown_requests == []

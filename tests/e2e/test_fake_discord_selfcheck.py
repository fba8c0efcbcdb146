"""Self-check of tests/discordkit: an unmodified disnake bot against the fake Discord,
and the offline recorder. No test here touches the real Discord; all sockets are 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import aiohttp
import disnake
import pytest
from disnake.ext import commands
from disnake.interactions import (
    ApplicationCommandInteraction,
    MessageInteraction,
    ModalInteraction,
)
from disnake.webhook.async_ import WebhookMessage

from discordkit import (
    CHANNEL_ID,
    CHANNEL_MESSAGE,
    FOLLOWUP,
    FOLLOWUP_EDIT,
    GUILD_COMMANDS_PUT,
    GUILD_ID,
    INTERACTION_CALLBACK,
    ORIGINAL_EDIT,
    OWNER_ID,
    PLAYER_ID,
    DiscordRecorder,
    FakeDiscord,
    parse_multipart,
    running_bot,
)
from discordkit import payloads as p

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) + b"\r\n--not-a-boundary\r\n"
MAPS = ["supply", "radar", "goldrush", "fueldump", "oasis", "battery"]


def make_bot() -> commands.InteractionBot:
    """A small bot using the disnake features the real bot uses."""
    bot = commands.InteractionBot(
        test_guilds=[GUILD_ID], owner_id=OWNER_ID, guild_ready_timeout=0.05
    )

    @bot.slash_command(description="Embed reply")
    async def ping(inter: ApplicationCommandInteraction) -> None:
        embed = disnake.Embed(title="Pong", description="fake discord")
        embed.add_field("latency", "0 ms", inline=False)
        await inter.response.send_message(embed=embed, ephemeral=True)

    @bot.slash_command(description="Deferred PNG")
    async def chart(inter: ApplicationCommandInteraction) -> None:
        await inter.response.defer()
        await inter.followup.send("here", file=disnake.File(io.BytesIO(PNG), "chart.png"))

    @bot.slash_command(name="map", description="Autocomplete")
    async def map_(inter: ApplicationCommandInteraction, name: str) -> None:
        await inter.response.send_message(f"map={name}")

    @map_.autocomplete("name")
    async def map_names(inter: ApplicationCommandInteraction, value: str) -> list[str]:
        return [m for m in MAPS if value.lower() in m][:25]

    @bot.slash_command(description="Button")
    async def vote(inter: ApplicationCommandInteraction) -> None:
        button = disnake.ui.Button(label="Yes", custom_id="vote:yes")
        await inter.response.send_message("Vote!", components=[button])

    @bot.slash_command(description="Group")
    async def stats(inter: ApplicationCommandInteraction) -> None:
        pass

    @stats.sub_command_group()
    async def show(inter: ApplicationCommandInteraction) -> None:
        pass

    @show.sub_command(description="One player")
    async def player(
        inter: ApplicationCommandInteraction, who: disnake.Member, rounds: int = 5
    ) -> None:
        kind = type(who).__name__
        await inter.response.send_message(f"{who.name}:{kind}:{rounds}")

    @bot.slash_command(description="Admins only")
    @commands.has_permissions(administrator=True)
    async def purge(inter: ApplicationCommandInteraction) -> None:
        await inter.response.send_message("purged")

    @bot.slash_command(description="Post in channel")
    async def announce(inter: ApplicationCommandInteraction) -> None:
        channel = bot.get_channel(CHANNEL_ID)
        assert isinstance(channel, disnake.TextChannel)
        await channel.send("announcement", file=disnake.File(io.BytesIO(PNG), "a.png"))
        await bot.change_presence(activity=disnake.Game("ET: Legacy"))
        await inter.response.send_message("done", ephemeral=True)

    @bot.listen("on_button_click")
    async def on_button(inter: MessageInteraction) -> None:
        if inter.component.custom_id == "vote:yes":
            await inter.response.edit_message(content=f"Voted by {inter.author.id}")

    @bot.listen("on_dropdown")
    async def on_dropdown(inter: MessageInteraction) -> None:
        await inter.response.send_message(",".join(inter.values or []))

    @bot.listen("on_modal_submit")
    async def on_modal(inter: ModalInteraction) -> None:
        await inter.response.send_message(inter.text_values["text"])

    @bot.event
    async def on_slash_command_error(
        inter: ApplicationCommandInteraction, error: commands.CommandError
    ) -> None:
        await inter.response.send_message(f"error:{type(error).__name__}", ephemeral=True)

    return bot


# ---------------------------------------------------------------------- end to end


@pytest.fixture
async def discord() -> AsyncIterator[tuple[FakeDiscord, commands.InteractionBot]]:
    async with FakeDiscord(token="fake-bot-token") as server:
        async with running_bot(make_bot(), server, timeout=10) as bot:
            yield server, bot
        assert server.errors == []


async def test_startup_calls(discord: tuple[FakeDiscord, commands.InteractionBot]) -> None:
    server, bot = discord
    assert bot.user is not None
    assert bot.user.id == server.world.bot.id
    guild = bot.get_guild(GUILD_ID)
    assert guild is not None
    assert guild.get_channel(CHANNEL_ID) is not None
    assert guild.me.guild_permissions.send_messages
    assert server.identify_payloads[0]["token"] == "fake-bot-token"
    [put] = server.api.by_route(GUILD_COMMANDS_PUT)
    assert {c["name"] for c in put.json} >= {"ping", "chart", "map", "vote", "stats"}
    assert server.unknown_requests == []
    assert server.base_url == disnake.http.Route.BASE


async def test_slash_embed_ephemeral(discord: tuple[FakeDiscord, commands.InteractionBot]) -> None:
    server, _ = discord
    payload = await server.dispatch_interaction(server.slash_command("ping"))
    reply = await server.wait_for_response(payload)
    assert reply.callback_type == 4
    assert reply.ephemeral
    assert reply.flags & 64
    [embed] = reply.embeds
    assert embed["title"] == "Pong"
    assert embed["fields"] == [{"name": "latency", "value": "0 ms", "inline": False}]


async def test_defer_then_png_followup(
    discord: tuple[FakeDiscord, commands.InteractionBot],
) -> None:
    server, _ = discord
    payload = await server.dispatch_interaction(server.slash_command("chart"))
    followup = await server.wait_for(lambda r: r.route == FOLLOWUP and r.token == payload["token"])
    [callback] = [r for r in server.for_interaction(payload) if r.route == INTERACTION_CALLBACK]
    assert callback.callback_type == 5
    assert followup.content == "here"
    [(name, data)] = followup.attachments
    assert name == "chart.png"
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert data == PNG
    assert followup.response["attachments"][0]["filename"] == "chart.png"


async def test_autocomplete(discord: tuple[FakeDiscord, commands.InteractionBot]) -> None:
    server, _ = discord
    payload = server.autocomplete("map", [p.option("name", "ra", focused=True)])
    await server.dispatch_interaction(payload)
    reply = await server.wait_for_response(payload)
    assert reply.callback_type == 8
    assert [c["value"] for c in reply.choices] == ["radar"]


async def test_button_click(discord: tuple[FakeDiscord, commands.InteractionBot]) -> None:
    server, _ = discord
    payload = await server.dispatch_interaction(server.slash_command("vote"))
    sent = await server.wait_for_response(payload)
    [row] = sent.components
    assert row["components"][0]["custom_id"] == "vote:yes"

    click = await server.dispatch_interaction(p.button_click("vote:yes", world=server.world))
    reply = await server.wait_for_response(click)
    assert reply.callback_type == 7
    assert reply.content == f"Voted by {PLAYER_ID}"


async def test_select_and_modal(discord: tuple[FakeDiscord, commands.InteractionBot]) -> None:
    server, _ = discord
    select = await server.dispatch_interaction(p.select_menu("pick", ["radar", "oasis"]))
    assert (await server.wait_for_response(select)).content == "radar,oasis"
    modal = await server.dispatch_interaction(p.modal_submit("fb", {"text": "gg"}))
    assert (await server.wait_for_response(modal)).content == "gg"


async def test_subcommand_with_user_option(
    discord: tuple[FakeDiscord, commands.InteractionBot],
) -> None:
    server, _ = discord
    who = p.user_option("who", server.world.owner, world=server.world)
    options = [p.subcommand_group("show", p.subcommand("player", who, p.option("rounds", 3)))]
    payload = await server.dispatch_interaction(server.slash_command("stats", options))
    reply = await server.wait_for_response(payload)
    assert reply.content == "owner:Member:3"


async def test_admin_permission(discord: tuple[FakeDiscord, commands.InteractionBot]) -> None:
    server, _ = discord
    denied = await server.dispatch_interaction(server.slash_command("purge"))
    reply = await server.wait_for_response(denied)
    assert reply.content == "error:MissingPermissions"
    assert reply.ephemeral
    allowed = await server.dispatch_interaction(server.slash_command("purge", admin=True))
    assert (await server.wait_for_response(allowed)).content == "purged"


async def test_channel_message_and_presence(
    discord: tuple[FakeDiscord, commands.InteractionBot],
) -> None:
    server, _ = discord
    payload = await server.dispatch_interaction(server.slash_command("announce"))
    await server.wait_for_response(payload)
    posted = await server.wait_for(lambda r: r.route == CHANNEL_MESSAGE)
    assert posted.params["channel_id"] == str(CHANNEL_ID)
    assert posted.content == "announcement"
    assert posted.attachments == [("a.png", PNG)]
    for _ in range(100):
        if server.presence_updates:
            break
        await asyncio.sleep(0.01)
    assert server.presence_updates[-1]["activities"][0]["name"] == "ET: Legacy"


async def test_resume_after_reconnect(
    discord: tuple[FakeDiscord, commands.InteractionBot],
) -> None:
    server, _ = discord
    await server.send_op(7)  # RECONNECT: disnake reconnects and RESUMEs
    for _ in range(300):
        if any(m.get("op") == 6 for m in server.gateway_received) and server.connected:
            break
        await asyncio.sleep(0.01)
    resume = next(m for m in server.gateway_received if m.get("op") == 6)
    assert resume["d"]["session_id"] == server.session_id
    payload = await server.dispatch_interaction(server.slash_command("ping"))
    assert (await server.wait_for_response(payload)).embeds[0]["title"] == "Pong"


async def test_rest_details() -> None:
    async with FakeDiscord() as server, aiohttp.ClientSession() as session:
        async with session.get(server.base_url + "/users/@me") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "application/json"
            assert (await resp.json())["id"] == str(server.world.bot.id)
        async with session.get(server.base_url + "/no/such/route") as resp:
            assert resp.status == 404
            assert resp.headers["Content-Type"] == "application/json"
            assert "no route" in (await resp.json())["message"]
        assert [r.path for r in server.unknown_requests] == ["/no/such/route"]
        waiter = asyncio.create_task(server.wait_for(lambda r: r.path == "/gateway", 5))
        async with session.get(server.base_url + "/gateway") as resp:
            assert (await resp.json())["url"] == server.gateway_url
        assert (await waiter).status == 200
        with pytest.raises(TimeoutError):
            await server.wait_for(lambda r: r.path == "/never", timeout=0.05)


# ---------------------------------------------------------------------- recorder (no server)


@pytest.fixture
async def rec() -> AsyncIterator[DiscordRecorder]:
    with DiscordRecorder(make_bot()) as recorder:
        yield recorder


async def test_recorder_send_message(rec: DiscordRecorder) -> None:
    inter = rec.slash(p.slash_command("ping"))
    assert inter.guild is not None
    assert inter.guild.id == GUILD_ID
    assert isinstance(inter.author, disnake.Member)
    assert not inter.permissions.administrator
    await inter.response.send_message("hi", embed=disnake.Embed(title="T"), ephemeral=True)
    [req] = rec.requests
    assert req.route == INTERACTION_CALLBACK
    assert req.callback_type == 4
    assert req.content == "hi"
    assert req.ephemeral
    assert req.embeds[0]["title"] == "T"


async def test_recorder_defer_edit_followup_files(rec: DiscordRecorder) -> None:
    inter = rec.slash(p.slash_command("chart", admin=True))
    assert inter.permissions.administrator
    assert inter.author.id == OWNER_ID
    await inter.response.defer(ephemeral=True)
    await inter.edit_original_response(
        content="edited", file=disnake.File(io.BytesIO(PNG), "x.png")
    )
    # disnake's overloads type send() without wait=True as None; an interaction followup
    # returns the message all the same (asserted below).
    message = await inter.followup.send(  # type: ignore[func-returns-value]
        "more", files=[disnake.File(io.BytesIO(b"a,b\n"), "t.csv")]
    )
    assert isinstance(message, WebhookMessage)
    assert message.content == "more"
    callback, get_original, edit, followup = rec.requests
    assert callback.callback_type == 5
    assert callback.ephemeral
    assert get_original.method == "GET"
    assert edit.route == ORIGINAL_EDIT
    assert edit.content == "edited"
    assert edit.attachments == [("x.png", PNG)]
    assert followup.route == FOLLOWUP
    assert followup.attachments == [("t.csv", b"a,b\n")]
    await message.edit(content="changed")
    edited = rec.requests[-1]
    assert edited.route == FOLLOWUP_EDIT
    assert edited.params["message_id"] == str(message.id)
    assert edited.response["content"] == "changed"


async def test_recorder_invoke_slash_subcommand(rec: DiscordRecorder) -> None:
    who = p.user_option("who", rec.world.player)
    options = [p.subcommand_group("show", p.subcommand("player", who))]
    payload = p.slash_command("stats", options)
    assert payload["data"]["resolved"]["users"][str(PLAYER_ID)]["username"] == "player"
    await rec.invoke_slash(payload)
    assert rec.requests[-1].content == "player:Member:5"


async def test_recorder_errors(rec: DiscordRecorder) -> None:
    with pytest.raises(commands.MissingPermissions):
        await rec.invoke_slash(p.slash_command("purge"))
    payload = p.slash_command("purge")
    await rec.invoke_slash(payload, raise_errors=False)  # error handlers run in a task
    assert (await rec.wait_for_response(payload)).content == "error:MissingPermissions"


async def test_recorder_autocomplete(rec: DiscordRecorder) -> None:
    await rec.invoke_autocomplete(p.autocomplete("map", [p.option("name", "o", focused=True)]))
    assert [c["name"] for c in rec.requests[-1].choices] == ["goldrush", "oasis"]


async def test_recorder_dispatch_components(rec: DiscordRecorder) -> None:
    click = p.button_click("vote:yes", admin=True)
    await rec.dispatch(click)
    reply = await rec.wait_for_response(click)
    assert reply.callback_type == 7
    assert reply.content == f"Voted by {OWNER_ID}"
    inter = rec.message_interaction(p.select_menu("pick", ["a"]))
    assert inter.values == ["a"]
    assert inter.message.author.id == rec.world.bot.id


async def test_recorder_channel_send(rec: DiscordRecorder) -> None:
    channel = rec.bot.get_channel(CHANNEL_ID)
    assert isinstance(channel, disnake.TextChannel)
    message = await channel.send("plain")
    await channel.send(file=disnake.File(io.BytesIO(PNG), "c.png"))
    assert message.content == "plain"
    assert message.channel.id == CHANNEL_ID
    plain, with_file = rec.by_route(CHANNEL_MESSAGE)
    assert plain.json["content"] == "plain"
    assert plain.attachments == []
    assert with_file.attachments == [("c.png", PNG)]


async def test_recorder_dm_payload(rec: DiscordRecorder) -> None:
    inter = rec.slash(p.slash_command("ping", dm=True))
    assert inter.guild_id is None
    assert isinstance(inter.author, disnake.User)
    click = rec.message_interaction(p.button_click("vote:yes", dm=True))
    assert isinstance(click.channel, disnake.DMChannel)
    assert click.message.channel.id == click.channel.id


async def test_recorder_not_found(rec: DiscordRecorder) -> None:
    with pytest.raises(disnake.NotFound):
        await rec.bot.fetch_channel(42)
    assert rec.requests[-1].status == 404
    assert rec.requests[-1].path == "/channels/42"


def test_parse_multipart_roundtrip() -> None:
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("files[0]", io.BytesIO(PNG), filename="p.png")
    form.add_field("payload_json", '{"content": "x"}')

    async def render() -> tuple[bytes, str]:
        writer = form()
        return await writer.as_bytes(), writer.headers["Content-Type"]

    body, content_type = asyncio.run(render())
    assert parse_multipart(body, content_type) == ({"content": "x"}, [("p.png", PNG)])


async def test_startup_failure_is_raised_not_hung() -> None:
    async with FakeDiscord(token="right-token") as server:
        with pytest.raises(disnake.LoginFailure):
            async with running_bot(make_bot(), server, token="wrong-token", timeout=5):
                pytest.fail("bot must not become ready")
    assert server.requests[0].status == 401
    assert disnake.http.Route.BASE == "https://discord.com/api/v10"

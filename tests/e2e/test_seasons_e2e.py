"""End to end: /season's select menu and buttons through the fake Discord, before and after
a restart of the bot (new bot objects over the same database)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import corpus_files, corpus_info
from discordkit import FOLLOWUP, GUILD_ID, ORIGINAL_EDIT, OWNER_ID, FakeDiscord, running_bot
from discordkit import payloads as p
from etbot.bot import EtBot
from etbot.config import Settings
from etbot.db import Db, open_database
from etbot.ingest import Importer
from etbot.seasons import quarter_key, quarter_name, season_page

TOKEN = "fake-bot-token"
TIMEOUT = 60.0  # an upper bound for a loaded CI machine; waits end as soon as it happens


def make_bot(database_url: str, api_base: str) -> EtBot:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        discord_token=TOKEN,
        discord_api_base=api_base,
        database_url=database_url,
        guild_ids=[GUILD_ID],
        owner_id=OWNER_ID,
        server_timezone="Europe/Berlin",
    )
    return EtBot(settings, Db(open_database(database_url)), guild_ready_timeout=0.05)


def corpus_quarters() -> list[str]:
    skip = set(corpus_info().header_only)
    keys = {
        quarter_key(datetime.strptime(f.name[:17], "%Y-%m-%d-%H%M%S"))
        for f in corpus_files()
        if f.name not in skip
    }
    return sorted(keys, reverse=True)


def select_of(message: dict[str, Any]) -> dict[str, Any]:
    return next(c for row in message["components"] for c in row["components"] if c["type"] == 3)


async def choose(server: FakeDiscord, message_id: int, value: str) -> Any:
    """Pick ``value`` in the menu of the message as the fake Discord holds it now."""
    message = server.api.messages[message_id]
    payload = p.select_menu(
        select_of(message)["custom_id"], [value], message=message, world=server.world
    )
    await server.dispatch_interaction(payload)
    return await server.wait_for_response(payload, timeout=TIMEOUT)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'etbot.db'}"
    open_database(url)
    Importer().import_paths(corpus_files())
    return url


async def test_season_menu_switches_in_place_and_survives_a_restart(database_url: str) -> None:
    quarters = corpus_quarters()
    async with FakeDiscord(token=TOKEN) as server:
        async with running_bot(make_bot(database_url, server.base_url), server, token=TOKEN):
            payload = server.slash_command("season", [p.option("min_rounds", 1)])
            await server.dispatch_interaction(payload)
            token = payload["token"]
            first = await server.wait_for(
                lambda r: r.token == token and r.route in (ORIGINAL_EDIT, FOLLOWUP),
                timeout=TIMEOUT,
            )
            assert first.route == ORIGINAL_EDIT
            message_id = int(first.response["id"])
            options = select_of(first.response)["options"]
            assert [o["value"] for o in options] == quarters
            assert first.embeds[0]["title"] == f"Season {quarter_name(quarters[0])} · DPM"

            reply = await choose(server, message_id, quarters[1])
            assert reply.callback_type == 7
            stored = server.api.messages[message_id]  # the same message, edited in place
            assert stored["embeds"][0]["title"] == f"Season {quarter_name(quarters[1])} · DPM"
            defaults = [o["value"] for o in select_of(stored)["options"] if o.get("default")]
            assert defaults == [quarters[1]]

            # the pages of the season with the most players
            now = datetime(2030, 1, 1)
            busiest = max(quarters, key=lambda k: season_page(k, "dpm", 1, 10, 0, now).page.total)
            await choose(server, message_id, busiest)
            buttons = [
                c
                for row in server.api.messages[message_id]["components"]
                for c in row["components"]
                if c["type"] == 2
            ]
            nxt = next(b for b in buttons if "Next" in b["label"])
            click = p.button_click(
                nxt["custom_id"], message=server.api.messages[message_id], world=server.world
            )
            await server.dispatch_interaction(click)
            paged = await server.wait_for_response(click, timeout=TIMEOUT)
            assert paged.callback_type == 7
            footer = server.api.messages[message_id]["embeds"][0]["footer"]["text"]
            assert footer.startswith("Page 2 of")

        # A restart: new bot objects, nothing carried over in memory.
        async with running_bot(make_bot(database_url, server.base_url), server, token=TOKEN):
            reply = await choose(server, message_id, quarters[-1])
            assert reply.callback_type == 7
            title = server.api.messages[message_id]["embeds"][0]["title"]
            assert title == f"Season {quarter_name(quarters[-1])} · DPM"
        assert server.errors == []
        assert server.unknown_requests == []

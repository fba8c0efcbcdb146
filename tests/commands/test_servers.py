"""The ``server`` option of /stats, /leaderboard, /sessions, /activity and /season on a
two-server community (tests/servers_helpers.py), on SQLite and PostgreSQL: autocomplete,
answers about one server that say so, and a friendly error for an unknown server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import pytest
from peewee import Database

from commands.conftest import FakeRenderer, make_settings
from commands.helpers import ALL, run_deferred
from conftest import corpus_files, make_database
from discordkit import ORIGINAL_EDIT, DiscordRecorder
from discordkit import payloads as p
from etbot import activity, leaderboard, seasons, sessions, summary
from etbot.bot import EtBot
from etbot.commands.formatting import escape, fmt_stat
from etbot.db import Db
from etbot.models import Server, database_proxy
from etbot.servers import SERVER_PREFIX, ServerRef, active_servers
from etbot.views.components import CustomIdError
from etbot.views.seasons import MAX_SERVER_ID, SeasonState
from servers_helpers import B_SUFFIX, import_two_servers

COMMANDS = ("stats", "leaderboard", "sessions", "activity", "season")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def two_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """The two-server community, imported once per module and backend."""
    database = make_database(request.param, tmp_path_factory.mktemp("two-servers"))
    import_two_servers(corpus_files())
    yield database
    database.close()


@pytest.fixture
def two(two_db: Database) -> tuple[ServerRef, ServerRef]:
    """(server A, server B), with the module's database bound."""
    database_proxy.initialize(two_db)
    [b] = [s for s in Server.select() if s.name.endswith(B_SUFFIX)]
    [a] = [s for s in Server.select() if s.id != b.id]
    return ServerRef(a.id, a.clean_name), ServerRef(b.id, b.clean_name)


@pytest.fixture
async def rec(
    two_db: Database, two: tuple[ServerRef, ServerRef]
) -> AsyncIterator[DiscordRecorder[EtBot]]:
    settings = make_settings("sqlite:///unused.db")
    bot = EtBot(settings, Db(two_db), renderer=FakeRenderer())  # type: ignore[arg-type]
    with DiscordRecorder(bot) as recorder:
        yield recorder
    bot.resources.db._pool.shutdown(wait=True)


def choice(server: ServerRef) -> str:
    """The option value an autocomplete choice gives for ``server``."""
    return f"{SERVER_PREFIX}{server.id}"


def busiest_on(server: ServerRef) -> int:
    """The player with the most rounds on ``server``."""
    page = leaderboard.leaderboard("rounds", ALL, min_rounds=1, limit=1, server=server.id)
    return page.rows[0].player_id


# --------------------------------------------------------------------------- autocomplete


@pytest.mark.parametrize("command", COMMANDS)
async def test_every_command_autocompletes_the_servers(
    rec: DiscordRecorder, two: tuple[ServerRef, ServerRef], command: str
) -> None:
    await rec.invoke_autocomplete(p.autocomplete(command, [p.option("server", "", focused=True)]))
    listed = active_servers()  # most recently active first
    assert rec.requests[-1].choices == [
        {"name": s.name, "value": f"{SERVER_PREFIX}{s.id}"} for s in listed
    ]
    assert len(listed) == 2
    for c in rec.requests[-1].choices:
        assert "^" not in c["name"]  # colour codes are not shown


async def test_autocomplete_narrows_on_what_was_typed(
    rec: DiscordRecorder, two: tuple[ServerRef, ServerRef]
) -> None:
    _a, b = two
    # Typed with colour codes, as a server name is written in game: they are ignored.
    payload = p.autocomplete("leaderboard", [p.option("server", "^3#^72", focused=True)])
    await rec.invoke_autocomplete(payload)
    assert rec.requests[-1].choices == [{"name": b.name, "value": choice(b)}]


# --------------------------------------------------------------------------- answers


async def test_leaderboard_of_one_server(
    rec: DiscordRecorder, two: tuple[ServerRef, ServerRef]
) -> None:
    _a, b = two
    payload = p.slash_command(
        "leaderboard",
        [p.option("stat", "kills"), p.option("min_rounds", 1), p.option("server", choice(b))],
    )
    edit = await run_deferred(rec, payload)
    [embed] = edit.embeds
    assert embed["description"].startswith(f"On **{escape(b.name)}** · All time")
    expected = leaderboard.leaderboard("kills", ALL, min_rounds=1, limit=10, server=b.id)
    every = leaderboard.leaderboard("kills", ALL, min_rounds=1, limit=10)
    assert expected.rows != every.rows
    for row in expected.rows:
        assert f"{row.rank:>3}. {row.name[:19]}" in embed["description"]
        assert fmt_stat("kills", row.value) in embed["description"]
    assert embed["footer"]["text"].endswith(f"{expected.total} players")
    # Paging keeps the server.
    message = edit.response
    click = p.button_click(message["components"][0]["components"][2]["custom_id"], message=message)
    await rec.dispatch(click)
    reply = await rec.wait_for_response(click)
    page2 = leaderboard.leaderboard("kills", ALL, min_rounds=1, limit=10, offset=10, server=b.id)
    assert reply.embeds[0]["description"].startswith(f"On **{escape(b.name)}**")
    assert f"{page2.rows[0].rank:>3}. {page2.rows[0].name[:19]}" in reply.embeds[0]["description"]


async def test_leaderboard_without_a_server_is_unchanged(
    rec: DiscordRecorder, two: tuple[ServerRef, ServerRef]
) -> None:
    payload = p.slash_command("leaderboard", [p.option("stat", "kills"), p.option("min_rounds", 1)])
    edit = await run_deferred(rec, payload)
    description = edit.embeds[0]["description"]
    assert description.startswith("All time · at least 1 rounds")
    top = leaderboard.leaderboard("kills", ALL, min_rounds=1, limit=1).rows[0]
    assert fmt_stat("kills", top.value) in description


async def test_stats_card_of_one_server(
    rec: DiscordRecorder, two: tuple[ServerRef, ServerRef]
) -> None:
    _a, b = two
    pid = busiest_on(b)
    guid = summary.player_summary(pid, ALL).guid
    payload = p.slash_command(
        "stats", [p.option("player", f"guid:{guid}"), p.option("server", b.name)]
    )  # the name typed in full works as well as a choice
    edit = await run_deferred(rec, payload)
    [embed] = edit.embeds
    card = summary.player_summary(pid, ALL, b.id)
    assert embed["description"].endswith(f" · on **{escape(b.name)}**")
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Rounds"] == f"{card.rounds:,}"
    assert card.rounds < summary.player_summary(pid, ALL).rounds


async def test_sessions_of_one_server(
    rec: DiscordRecorder, two: tuple[ServerRef, ServerRef]
) -> None:
    a, _b = two
    edit = await run_deferred(rec, p.slash_command("sessions", [p.option("server", choice(a))]))
    [embed] = edit.embeds
    assert embed["title"] == f"Recent sessions on {escape(a.name)}"
    shown = [f for f in embed["fields"] if f["name"] not in ("Weekly pattern", "Next session")]
    expected = sessions.recent_sessions(5, a.id)
    assert len(shown) == len(expected)
    for field in shown:
        assert field["name"].endswith(f" · {escape(a.name)}")


async def test_activity_of_one_server(
    rec: DiscordRecorder, two: tuple[ServerRef, ServerRef]
) -> None:
    _a, b = two
    payload = p.slash_command("activity", [p.option("weeks", 520), p.option("server", choice(b))])
    edit = await run_deferred(rec, payload)
    [embed] = edit.embeds
    assert embed["title"] == f"{escape(b.name)} · activity over 520 weeks"
    # The window ends now (the clock), like the command's.
    counts = activity.activity(None, 520, datetime.now(), b.id)
    every = activity.activity(None, 520, datetime.now())
    total = sum(map(sum, counts))
    assert 0 < total < sum(map(sum, every))
    assert embed["description"].startswith(f"{total:,} rounds")


def season_names(embed: dict[str, Any]) -> list[str]:
    body = embed["description"].split("```")[1]
    return [m.group(1).strip() for m in re.finditer(r"^\s*\d+\. (.{20}) ", body, re.M)]


async def test_season_standings_of_one_server(
    rec: DiscordRecorder, two: tuple[ServerRef, ServerRef]
) -> None:
    _a, b = two
    now = datetime.now()
    season = next(s for s in seasons.seasons_with_data(now) if seasons.has_rounds(s, b.id))
    payload = p.slash_command(
        "season",
        [
            p.option("season", season.key),
            p.option("stat", "rounds"),
            p.option("min_rounds", 1),
            p.option("server", choice(b)),
        ],
    )
    await rec.invoke_slash(payload)
    [edit] = rec.by_route(ORIGINAL_EDIT)
    [embed] = edit.embeds
    assert embed["description"].startswith(f"on **{escape(b.name)}** · ")
    page = seasons.season_page(season.key, "rounds", 1, 10, 0, now, b.id)
    assert season_names(embed) == [r.name[:20].strip() for r in page.page.rows]
    # The message's components carry the server: after a click it is still about B.
    components = [c for row in edit.response["components"] for c in row["components"]]
    assert components
    assert all(c["custom_id"].endswith(f":{b.id}") for c in components)
    [select] = [c for c in components if c["type"] == 3]
    offered = [o["value"] for o in select["options"]]
    assert offered == [s.key for s in page.choices]  # the seasons B has rounds in
    other = next(key for key in offered if key != season.key)
    pick = p.select_menu(select["custom_id"], [other], message=edit.response)
    await rec.dispatch(pick)
    reply = await rec.wait_for_response(pick, timeout=10)
    assert reply.callback_type == 7
    assert reply.embeds[0]["description"].startswith(f"on **{escape(b.name)}** · ")
    picked = seasons.season_page(other, "rounds", 1, 10, 0, now, b.id)
    assert season_names(reply.embeds[0]) == [r.name[:20].strip() for r in picked.page.rows]


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("command", COMMANDS)
async def test_an_unknown_server_is_a_friendly_private_error(
    rec: DiscordRecorder, two: tuple[ServerRef, ServerRef], command: str
) -> None:
    options = [p.option("server", "nowhere *at all*")]
    if command == "stats":  # someone whose card it would be
        guid = summary.player_summary(busiest_on(two[0]), ALL).guid
        options.insert(0, p.option("player", f"guid:{guid}"))
    payload = p.slash_command(command, options)
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for_response(payload)
    assert reply.callback_type == 4  # answered before anything was deferred
    assert reply.ephemeral
    description = reply.embeds[0]["description"]
    # What was typed is echoed without its markdown.
    assert description == (
        "No game server called “nowhere at all” has any rounds; pick one from the list."
    )


def test_season_state_carries_the_server_within_the_id_limit() -> None:
    state = SeasonState(
        "c20250115-20250415", "headshot_pct", 10_000, 99_999, 2**63 - 1, 99_999, MAX_SERVER_ID
    )
    for action in ("pick", "prev", "next", "pos"):
        value = state.custom_id(action)
        assert len(value) <= 100
        assert SeasonState.parse(value.split(":")[3:]) == state
    # Messages about every server keep the ids they had before the option existed.
    everyone = state.with_(server=0)
    assert len(everyone.custom_id("pick").split(":")) == 3 + 6  # no server part
    assert SeasonState.parse(everyone.custom_id("pick").split(":")[3:]) == everyone
    args = everyone.custom_id("pick").split(":")[3:]
    for bad in ("0", "-1", str(MAX_SERVER_ID + 1), "x"):
        with pytest.raises(CustomIdError):
            SeasonState.parse([*args, bad])

"""/season (select menu, pages, restart), /season-admin, the recap post, and /stats'
season option and trophies, through the discordkit recorder on the corpus."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import disnake
import pytest
import time_machine
from peewee import Database

from commands.conftest import FakeRenderer, make_settings
from commands.helpers import fields, guid
from conftest import corpus_files, corpus_info
from discordkit import (
    CHANNEL_ID,
    CHANNEL_MESSAGE,
    INTERACTION_CALLBACK,
    ORIGINAL_EDIT,
    DiscordRecorder,
)
from discordkit import payloads as p
from etbot import seasons
from etbot.bot import EtBot
from etbot.commands.formatting import fmt_stat
from etbot.commands.seasons import SeasonsCog
from etbot.db import Db, open_database
from etbot.models import Announcement, PlayerDay
from etbot.players import get_player
from etbot.seasons import quarter_key, quarter_name
from etbot.views.seasons import MENU_NAV, SeasonState, menu_pages

#: A fixed "now" (UTC) after the corpus: every quarter of it has ended.
NOW = datetime(2026, 2, 10, 12, 0, tzinfo=UTC)
BERLIN_NOW = datetime(2026, 2, 10, 13, 0)  # the same moment, server time (Europe/Berlin)


@pytest.fixture(autouse=True)
def clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield


def corpus_quarters() -> list[str]:
    """The quarters of the corpus files (from their names), newest first."""
    skip = set(corpus_info().header_only)
    keys = {
        quarter_key(datetime.strptime(f.name[:17], "%Y-%m-%d-%H%M%S"))
        for f in corpus_files()
        if f.name not in skip
    }
    return sorted(keys, reverse=True)


def cog_of(bot: EtBot) -> SeasonsCog:
    # disnake loads extensions as fresh module objects: the class is not ours, check by name
    cog = bot.get_cog("SeasonsCog")
    assert type(cog).__qualname__ == SeasonsCog.__qualname__
    return cog  # type: ignore[return-value]


async def open_season(rec: DiscordRecorder, *options: dict, **ctx: Any) -> dict[str, Any]:
    """Run /season; return the message it ended with (as Discord stores it)."""
    payload = p.slash_command("season", list(options), **ctx)
    await rec.invoke_slash(payload)
    [edit] = [r for r in rec.by_route(ORIGINAL_EDIT) if r.token == payload["token"]]
    return edit.response


def select_of(message: dict[str, Any]) -> dict[str, Any]:
    [select] = [c for row in message["components"] for c in row["components"] if c["type"] == 3]
    return select


def button_of(message: dict[str, Any], label: str) -> dict[str, Any]:
    return next(
        c
        for row in message["components"]
        for c in row["components"]
        if c["type"] == 2 and label in c.get("label", "")
    )


def table_names(embed: dict[str, Any]) -> list[str]:
    """The player names in the standings table, in order."""
    body = embed["description"].split("```")[1]
    return [m.group(1).strip() for m in re.finditer(r"^\s*\d+\. (.{20}) ", body, re.M)]


def expected_names(key: str, stat: str, min_rounds: int, offset: int = 0) -> list[str]:
    page = seasons.season_page(key, stat, min_rounds, 10, offset, BERLIN_NOW)
    return [r.name.replace("`", "'")[:20].strip() for r in page.page.rows]


def stored(rec: DiscordRecorder, message: dict[str, Any]) -> dict[str, Any]:
    """The message as Discord holds it now (after in-place updates)."""
    return rec.api.messages[int(message["id"])]


async def choose(rec: DiscordRecorder, message: dict[str, Any], value: str, **ctx: Any) -> Any:
    payload = p.select_menu(select_of(message)["custom_id"], [value], message=message, **ctx)
    await rec.dispatch(payload)
    return await rec.wait_for_response(payload, timeout=10)


async def click(rec: DiscordRecorder, message: dict[str, Any], label: str, **ctx: Any) -> Any:
    payload = p.button_click(button_of(message, label)["custom_id"], message=message, **ctx)
    await rec.dispatch(payload)
    return await rec.wait_for_response(payload, timeout=10)


# --------------------------------------------------------------------------- /season


async def test_season_shows_the_standings_and_a_menu_of_the_quarters(
    rec: DiscordRecorder,
) -> None:
    quarters = corpus_quarters()
    message = await open_season(rec, p.option("min_rounds", 1))
    [embed] = message["embeds"]
    newest = quarters[0]  # the current quarter has no rounds: the newest with data
    assert embed["title"] == f"Season {quarter_name(newest)} · DPM"
    assert table_names(embed) == expected_names(newest, "dpm", 1)
    select = select_of(message)
    assert [o["value"] for o in select["options"]] == quarters  # newest first
    assert [o["label"] for o in select["options"]] == [quarter_name(q) for q in quarters]
    assert [o.get("default", False) for o in select["options"]] == [True] + [False] * (
        len(quarters) - 1
    )
    assert len(select["options"]) <= 25
    assert select["custom_id"].startswith("etbot:season:pick:")


async def test_choosing_another_season_edits_the_same_message(rec: DiscordRecorder) -> None:
    quarters = corpus_quarters()
    message = await open_season(rec, p.option("stat", "kills"), p.option("min_rounds", 1))
    other = quarters[1]
    reply = await choose(rec, message, other)
    assert reply.callback_type == 7  # UPDATE_MESSAGE: the message the menu is on, in place
    [embed] = reply.embeds
    assert embed["title"] == f"Season {quarter_name(other)} · Kills"
    assert table_names(embed) == expected_names(other, "kills", 1)
    assert embed["description"] != message["embeds"][0]["description"]
    options = select_of(stored(rec, message))["options"]
    assert [o["value"] for o in options if o.get("default")] == [other]
    # nothing else was sent: no new message, no follow-up
    assert len(rec.by_route(ORIGINAL_EDIT)) == 1
    assert rec.by_route(CHANNEL_MESSAGE) == []


def busiest_quarter() -> str:
    """The quarter with the most players (more than one page of them)."""
    totals = {
        k: seasons.season_page(k, "rounds", 1, 10, 0, BERLIN_NOW).page.total
        for k in corpus_quarters()
    }
    key = max(totals, key=lambda k: totals[k])
    assert totals[key] > 10, "some quarter has more than one page of players"
    return key


async def test_pages_of_a_season(rec: DiscordRecorder) -> None:
    key = busiest_quarter()
    message = await open_season(
        rec, p.option("season", key), p.option("stat", "rounds"), p.option("min_rounds", 1)
    )
    assert button_of(message, "Previous")["disabled"]
    reply = await click(rec, message, "Next")
    assert reply.callback_type == 7
    [embed] = reply.embeds
    assert embed["footer"]["text"].startswith("Page 2 of")
    assert table_names(embed) == expected_names(key, "rounds", 1, offset=10)
    assert not button_of(stored(rec, message), "Previous").get("disabled", False)
    back = await click(rec, stored(rec, message), "Previous")
    assert table_names(back.embeds[0]) == expected_names(key, "rounds", 1)


async def test_only_the_member_who_asked_can_drive_it(rec: DiscordRecorder) -> None:
    message = await open_season(
        rec, p.option("season", busiest_quarter()), p.option("min_rounds", 1)
    )
    reply = await choose(rec, message, corpus_quarters()[1], admin=True)  # someone else
    assert reply.callback_type == 4
    assert reply.ephemeral
    assert "Only the person who ran `/season`" in (reply.content or "")
    reply = await click(rec, message, "Next", admin=True)
    assert reply.ephemeral


@pytest.mark.parametrize(
    "custom_id",
    [
        "etbot:season:pick:2025-Q9:dpm:1:0:{owner}:0",  # no such quarter
        "etbot:season:pick:2025-Q4:nonsense:1:0:{owner}:0",
        "etbot:season:pick:2025-Q4:dpm:0:0:{owner}:0",  # min rounds out of range
        "etbot:season:pick:2025-Q4:dpm:1:x:{owner}:0",
        "etbot:season:pick:2025-Q4:dpm:1:0",
    ],
)
async def test_tampered_ids_are_outdated_components(rec: DiscordRecorder, custom_id: str) -> None:
    owner = rec.world.player.id
    payload = p.select_menu(custom_id.format(owner=owner), ["2025-Q3"])
    await rec.dispatch(payload)
    reply = await rec.wait_for_response(payload, timeout=10)
    assert reply.ephemeral
    assert "outdated" in reply.embeds[0]["description"]


async def test_menu_value_must_be_a_season(rec: DiscordRecorder) -> None:
    message = await open_season(rec)
    reply = await choose(rec, message, "../../etc/passwd")
    assert reply.ephemeral
    assert "outdated" in reply.embeds[0]["description"]


async def test_unknown_season_is_a_friendly_error(rec: DiscordRecorder) -> None:
    payload = p.slash_command("season", [p.option("season", "Summer of '69")])
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for(
        lambda r: r.token == payload["token"] and r.ephemeral and bool(r.embeds), timeout=10
    )
    assert "There is no season called" in reply.embeds[0]["description"]


async def test_season_autocomplete_lists_seasons_with_data(rec: DiscordRecorder) -> None:
    payload = p.autocomplete("season", [p.option("season", "q", focused=True)])
    await rec.invoke_autocomplete(payload)
    choices = rec.requests[-1].choices
    assert [c["value"] for c in choices] == corpus_quarters()
    assert choices[0]["name"].startswith(quarter_name(corpus_quarters()[0]))


@pytest.fixture
async def second_bot(
    corpus_database: Database, rec: DiscordRecorder
) -> AsyncIterator[DiscordRecorder]:
    """Another bot process over the same database: new objects, nothing in memory."""
    url = f"sqlite:///{corpus_database.database}"
    db = Db(open_database(url))
    bot = EtBot(make_settings(url), db, renderer=FakeRenderer())  # type: ignore[arg-type]
    with DiscordRecorder(bot) as other:
        yield other
    db._pool.shutdown(wait=True)


async def test_the_menu_still_works_after_a_restart(
    rec: DiscordRecorder, second_bot: DiscordRecorder
) -> None:
    message = await open_season(rec, p.option("min_rounds", 1))
    other = corpus_quarters()[2]
    reply = await choose(second_bot, message, other)  # the message the first bot sent
    assert reply.callback_type == 7
    assert reply.embeds[0]["title"].startswith(f"Season {quarter_name(other)}")
    assert table_names(reply.embeds[0]) == expected_names(other, "dpm", 1)


def test_the_menu_is_paged_beyond_25_seasons() -> None:
    many = [
        seasons.Season(
            f"{2000 + i // 4}-Q{i % 4 + 1}", f"S{i}", datetime(2000, 1, 1), datetime(2000, 2, 1)
        )
        for i in range(60)
    ]
    pages = menu_pages(many)
    assert [len(page) for page in pages] == [23, 23, 14]
    assert [s for page in pages for s in page] == many
    assert menu_pages(many[:25]) == [many[:25]]


async def test_the_menu_pages_switch_in_place(rec: DiscordRecorder) -> None:
    # One custom season per day for the 26 newest days with rounds: more than 25 seasons.
    days = [
        day
        for (day,) in PlayerDay.select(PlayerDay.day)
        .distinct()
        .order_by(PlayerDay.day.desc())
        .limit(26)
        .tuples()
    ]
    assert len(days) == 26
    for number, day in enumerate(days, start=1):
        seasons.add_season(f"Day {number}", day, day, BERLIN_NOW)
    choices = seasons.seasons_with_data(BERLIN_NOW)
    assert len(choices) > 25
    message = await open_season(rec, p.option("min_rounds", 1))
    options = select_of(message)["options"]
    assert len(options) == 24  # 23 seasons and "Older seasons"
    assert [o["value"] for o in options[:23]] == [s.key for s in choices[:23]]
    assert options[-1]["value"] == f"{MENU_NAV}1"
    shown = message["embeds"][0]["title"]
    assert shown.startswith(f"Season {choices[0].name} ")
    reply = await choose(rec, message, f"{MENU_NAV}1")
    assert reply.callback_type == 7
    assert reply.embeds[0]["title"] == shown  # the same standings, the next menu page
    values = [o["value"] for o in select_of(stored(rec, message))["options"]]
    assert values[0] == f"{MENU_NAV}0"
    assert values[1:] == [s.key for s in choices[23:46]]
    older = await choose(rec, stored(rec, message), choices[24].key)
    assert older.embeds[0]["title"].startswith(f"Season {choices[24].name} ")


# --------------------------------------------------------------------------- awards and recaps


async def test_past_seasons_show_their_awards(rec: DiscordRecorder) -> None:
    await cog_of(rec.bot).check_seasons()
    awarded = [k for k in corpus_quarters() if seasons.season_awards(k)]
    assert awarded
    key = awarded[0]
    message = await open_season(rec, p.option("season", key))
    shown = fields(message["embeds"][0])
    for award in seasons.season_awards(key):
        assert f"**{award.label}**: " in shown["Awards"]
        assert disnake.utils.escape_markdown(award.player_name) in shown["Awards"]


def announcing_bot(database: Database) -> tuple[EtBot, Db]:
    url = f"sqlite:///{database.database}"
    db = Db(open_database(url))
    settings = make_settings(url, announce_channel_id=CHANNEL_ID)
    return EtBot(settings, db, renderer=FakeRenderer()), db  # type: ignore[arg-type]


async def restart_and_check(database: Database, when: datetime) -> list[dict[str, Any]]:
    """Start a new bot (objects) over the database at ``when`` (UTC), let it check the
    seasons and post; return what it posted."""
    bot, db = announcing_bot(database)
    try:
        with time_machine.travel(when, tick=False), DiscordRecorder(bot) as rec:
            await cog_of(bot).check_seasons()
            await bot.poster.drain()
            return [r.json for r in rec.by_route(CHANNEL_MESSAGE)]
    finally:
        db._pool.shutdown(wait=True)


def recaps_sent() -> list[str]:
    sent = Announcement.select().where(
        (Announcement.kind == "season_recap") & (Announcement.status == "sent")
    )
    return sorted(a.key for a in sent)


async def test_a_recap_that_ended_while_the_bot_was_down_is_posted_once(
    corpus_database: Database,
) -> None:
    # First start in mid August 2025: everything that ended before is history.
    assert await restart_and_check(corpus_database, datetime(2025, 8, 14, 10, tzinfo=UTC)) == []
    # The bot was down from then until 3 October: Q3 ended meanwhile, posted at start.
    [posted] = await restart_and_check(corpus_database, datetime(2025, 10, 3, 9, tzinfo=UTC))
    [embed] = posted["embeds"]
    assert embed["title"] == "Season 2025 Q3 is over"
    awards = seasons.season_awards("2025-Q3")
    assert [f["name"] for f in embed["fields"]] == [a.label for a in awards]
    for award, field in zip(awards, embed["fields"], strict=True):
        assert disnake.utils.escape_markdown(award.player_name) in field["value"]
    assert posted["allowed_mentions"] == {"parse": []}
    # Restarts: nothing again.
    assert await restart_and_check(corpus_database, datetime(2025, 10, 3, 9, 5, tzinfo=UTC)) == []
    assert await restart_and_check(corpus_database, datetime(2025, 11, 1, tzinfo=UTC)) == []
    assert recaps_sent() == ["2025-Q3"]


async def test_the_recap_follows_the_end_of_the_season_in_server_time(
    corpus_database: Database,
) -> None:
    assert await restart_and_check(corpus_database, datetime(2025, 9, 20, tzinfo=UTC)) == []
    # Q3 ends at midnight in Berlin (22:00 UTC); closed an hour later, then posted.
    half_past_midnight = datetime(2025, 9, 30, 22, 30, tzinfo=UTC)
    assert await restart_and_check(corpus_database, half_past_midnight) == []
    one_am = datetime(2025, 9, 30, 23, 0, 1, tzinfo=UTC)  # in UTC, Q3 is not even over
    [posted] = await restart_and_check(corpus_database, one_am)
    assert posted["embeds"][0]["title"] == "Season 2025 Q3 is over"
    assert await restart_and_check(corpus_database, one_am) == []  # a restart
    assert recaps_sent() == ["2025-Q3"]


async def test_first_start_over_history_posts_nothing(corpus_database: Database) -> None:
    assert await restart_and_check(corpus_database, NOW) == []
    statuses = {a.status for a in Announcement.select()}
    assert statuses == {"silent"}
    assert any(seasons.season_awards(k) for k in corpus_quarters())  # recorded all the same


# --------------------------------------------------------------------------- /season-admin


def manager() -> int:
    return disnake.Permissions(manage_guild=True, send_messages=True).value


async def test_season_admin_is_gated(rec: DiscordRecorder) -> None:
    command = rec.bot.get_slash_command("season-admin")
    assert command is not None
    assert command.default_member_permissions == disnake.Permissions(manage_guild=True)
    payload = p.slash_command(
        "season-admin",
        [p.subcommand("rename", p.option("season", "2025-Q3"), p.option("name", "Hacked"))],
    )
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for_response(payload)
    assert reply.ephemeral
    assert "Manage Server" in reply.embeds[0]["description"]
    assert seasons.season_name("2025-Q3", BERLIN_NOW) == "2025 Q3"


async def test_season_admin_rename_add_list_remove(rec: DiscordRecorder) -> None:
    user = rec.world.player
    key = corpus_quarters()[1]
    rename = p.slash_command(
        "season-admin",
        [p.subcommand("rename", p.option("season", key), p.option("name", "The *Great* Season"))],
        user=user,
        permissions=manager(),
    )
    await rec.invoke_slash(rename)
    reply = rec.by_route(INTERACTION_CALLBACK)[-1]
    assert reply.ephemeral
    assert "The \\*Great\\* Season" in reply.embeds[0]["description"]  # escaped
    message = await open_season(rec, p.option("season", "the *great* season"))
    assert message["embeds"][0]["title"].startswith("Season The \\*Great\\* Season")

    add = p.slash_command(
        "season-admin",
        [
            p.subcommand(
                "add",
                p.option("name", "Cup"),
                p.option("first_day", "2031-01-01"),
                p.option("last_day", "2031-01-31"),
            )
        ],
        user=user,
        permissions=manager(),
    )
    await rec.invoke_slash(add)
    assert (
        "Added **Cup** (`c20310101-20310131`)"
        in rec.by_route(INTERACTION_CALLBACK)[-1].embeds[0]["description"]
    )
    overlapping = p.slash_command(
        "season-admin",
        [
            p.subcommand(
                "add",
                p.option("name", "Other"),
                p.option("first_day", "2031-01-31"),
                p.option("last_day", "2031-02-28"),
            )
        ],
        user=user,
        permissions=manager(),
    )
    await rec.invoke_slash(overlapping, raise_errors=False)
    refused = await rec.wait_for_response(overlapping)
    assert refused.ephemeral
    assert "overlap the custom season Cup" in refused.embeds[0]["description"]

    listing = p.slash_command(
        "season-admin", [p.subcommand("list")], user=user, permissions=manager()
    )
    await rec.invoke_slash(listing)
    text = rec.by_route(INTERACTION_CALLBACK)[-1].embeds[0]["description"]
    assert "`c20310101-20310131` **Cup**" in text
    assert f"`{key}` **The \\*Great\\* Season**" in text
    assert "renamed" in text

    remove = p.slash_command(
        "season-admin",
        [p.subcommand("remove", p.option("season", "Cup"))],
        user=user,
        permissions=manager(),
    )
    await rec.invoke_slash(remove)
    assert "Removed **Cup**" in rec.by_route(INTERACTION_CALLBACK)[-1].embeds[0]["description"]
    assert all(s.key != "c20310101-20310131" for s in seasons.timeline(BERLIN_NOW))


async def test_bad_dates_are_friendly_errors(rec: DiscordRecorder) -> None:
    payload = p.slash_command(
        "season-admin",
        [
            p.subcommand(
                "add",
                p.option("name", "Cup"),
                p.option("first_day", "tomorrow"),
                p.option("last_day", "2031-01-31"),
            )
        ],
        permissions=manager(),
    )
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for_response(payload)
    assert reply.ephemeral
    assert "The first day must be a date like 2025-01-31" in reply.embeds[0]["description"]


# --------------------------------------------------------------------------- /stats


async def test_stats_for_a_season_and_trophies(rec: DiscordRecorder) -> None:
    await cog_of(rec.bot).check_seasons()
    key = next(k for k in corpus_quarters() if seasons.season_awards(k))
    award = seasons.season_awards(key)[0]
    ref = get_player(award.player_id)
    payload = p.slash_command("stats", [p.option("player", guid(ref)), p.option("season", key)])
    await rec.invoke_slash(payload)
    [edit] = rec.by_route(ORIGINAL_EDIT)
    [embed] = edit.embeds
    assert f"Season {quarter_name(key)}" in embed["description"]
    shown = fields(embed)
    expected = seasons.season_page(key, "rounds", 1, 100, 0, BERLIN_NOW).page.rows
    rounds = next(r.rounds for r in expected if r.player_id == ref.id)
    assert shown["Rounds"] == f"{rounds:,}"
    trophies = next(v for k, v in shown.items() if k.startswith("Trophies"))
    assert f"🏆 {quarter_name(key)}: {award.label}" in trophies
    assert fmt_stat("rounds", rounds) == shown["Rounds"]


async def test_stats_season_autocomplete(rec: DiscordRecorder) -> None:
    payload = p.autocomplete("stats", [p.option("season", "", focused=True)])
    await rec.invoke_autocomplete(payload)
    assert [c["value"] for c in rec.requests[-1].choices] == corpus_quarters()


def test_state_round_trips() -> None:
    state = SeasonState("c20250115-20250415", "headshot_pct", 10_000, 99_999, 2**63 - 1, 7)
    for action in ("pick", "prev", "next", "pos"):
        value = state.custom_id(action)
        assert len(value) <= 100
        assert SeasonState.parse(value.split(":")[3:]) == state


async def test_the_check_waits_for_the_start_up_import(bot: EtBot, tmp_path: Path) -> None:
    """Seasons are judged on the whole history: the periodic check starts only once the
    files already in STATS_DIR are imported (a half-imported season must not be closed)."""
    cog = cog_of(bot)
    ran = asyncio.Event()

    async def fake_check() -> list[seasons.ClosedSeason]:
        ran.set()
        return []

    cog.check_seasons = fake_check  # type: ignore[method-assign]
    cog.check_seconds = 3600
    assert not bot.history_loaded.is_set()  # this bot never logged in
    task = asyncio.create_task(cog.check_forever())
    try:
        for _ in range(5):
            await asyncio.sleep(0)
        assert not ran.is_set()
        await bot._import_existing(tmp_path)  # the start-up import (of an empty folder)
        assert bot.history_loaded.is_set()
        await asyncio.wait_for(ran.wait(), timeout=10)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

"""EtBot wiring and run_bot: cogs, settings, API base, exit codes, ingest hook."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import disnake
import pytest
from peewee import Database

from commands.conftest import FakeRenderer, make_settings
from conftest import real_files
from discordkit import GUILD_ID, OWNER_ID, FakeDiscord
from etbot import stats
from etbot.bot import (
    EXIT_CONFIG,
    EXIT_LOGIN_FAILED,
    EXIT_UNREACHABLE,
    EtBot,
    cog_modules,
    run_bot,
)
from etbot.db import Db, open_database
from etbot.models import Round


def test_cog_modules_skip_helpers() -> None:
    names = cog_modules()
    assert "etbot.commands.errors" in names and "etbot.commands.stats" in names
    assert not any(name.rsplit(".", 1)[1].startswith("_") for name in names)


async def test_bot_wiring(bot: EtBot, renderer: FakeRenderer) -> None:
    assert bot.owner_id == OWNER_ID
    assert tuple(bot._test_guilds) == (GUILD_ID,)  # type: ignore[attr-defined]
    assert bot.allowed_mentions is not None
    assert bot.allowed_mentions.to_dict() == {"parse": []}
    assert bot.resources.renderer is renderer
    assert {c.qualified_name for c in bot.cogs.values()} >= {"ErrorHandler", "StatsCog"}
    expected = {"stats", "leaderboard", "trend", "compare", "activity", "sessions", "link"}
    assert expected <= set(bot.all_slash_commands)


async def test_close_releases_everything(bot: EtBot, renderer: FakeRenderer) -> None:
    await bot.close()
    assert renderer.closed
    await bot.close()  # idempotent


def test_run_bot_without_token(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'x.db'}", discord_token=None)
    assert run_bot(settings) == EXIT_CONFIG
    assert "DISCORD_TOKEN is not set" in capsys.readouterr().err


def test_run_bot_bad_database(capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_settings("mysql://nope/db")
    assert run_bot(settings) == EXIT_CONFIG
    assert "unsupported scheme" in capsys.readouterr().err


async def test_run_bot_rejected_token(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Discord answers 401: exit code 3 and a clear message. The bot reaches the fake server
    only through settings.discord_api_base (no test harness sets Route.BASE here)."""
    before = disnake.http.Route.BASE
    async with FakeDiscord(token="the-right-token") as server:
        settings = make_settings(
            f"sqlite:///{tmp_path / 'bot.db'}",
            discord_token="a-wrong-token",
            discord_api_base=server.base_url,
        )
        code = await asyncio.wait_for(asyncio.to_thread(run_bot, settings), 30)
        assert [r.path for r in server.requests][:1] == ["/users/@me"]
    assert code == EXIT_LOGIN_FAILED
    assert "rejected DISCORD_TOKEN" in capsys.readouterr().err
    assert before == disnake.http.Route.BASE  # restored on close


async def test_ingest_paths_imports_and_invalidates(
    tmp_path: Path, renderer: FakeRenderer, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    database: Database = open_database(url)
    db = Db(database)
    bot = EtBot(make_settings(url), db, renderer=renderer)  # type: ignore[arg-type]
    try:
        cache = bot.resources.cache
        cache.get_or_compute("stale", lambda: 1)
        files = real_files()[:20]
        with caplog.at_level(logging.WARNING):
            report = await bot.ingest_paths(files)
        assert report.imported > 0 and len(cache) == 0
        again = await bot.ingest_paths(files)
        assert again.imported == 0 and again.duplicates == report.imported
        assert stats.autocomplete_players("")  # the data is really there
    finally:
        db._pool.shutdown(wait=True)
        database.close()


async def _bot_with_stats_dir(
    tmp_path: Path, server: FakeDiscord, renderer: FakeRenderer, folder: Path
) -> tuple[EtBot, list[list[object]]]:
    url = f"sqlite:///{tmp_path / 'start.db'}"
    database = open_database(url)
    settings = make_settings(url, stats_dir=folder, discord_api_base=server.base_url)
    bot = EtBot(settings, Db(database), renderer=renderer)  # type: ignore[arg-type]
    done: list[list[object]] = []
    original = bot.ingest_paths

    async def spy(paths: list[object], *, live: bool = False) -> object:
        report = await original(paths, live=live)
        done.append(list(paths))  # recorded once the import has committed
        return report

    bot.ingest_paths = spy  # type: ignore[method-assign]
    return bot, done


async def _wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_stats_dir_imported_at_start(tmp_path: Path, renderer: FakeRenderer) -> None:
    folder = tmp_path / "stats"
    folder.mkdir()
    for path in real_files()[:10]:
        (folder / path.name).write_bytes(path.read_bytes())
    async with FakeDiscord() as server:
        bot, done = await _bot_with_stats_dir(tmp_path, server, renderer, folder)
        await bot.login("fake-bot-token")
        await _wait_for(lambda: bool(done))
        await bot.close()
    assert done == [[folder]]
    assert stats.autocomplete_players("")


async def test_new_round_in_stats_dir_is_imported_while_running(
    tmp_path: Path, renderer: FakeRenderer
) -> None:
    folder = tmp_path / "stats"
    folder.mkdir()
    pair = [p for p in real_files() if p.name.startswith("2025-10-02-21")][:2]
    (folder / pair[0].name).write_bytes(pair[0].read_bytes())  # round 1 already there
    async with FakeDiscord() as server:
        bot, done = await _bot_with_stats_dir(tmp_path, server, renderer, folder)
        await bot.login("fake-bot-token")
        await _wait_for(lambda: bool(done))
        bot.resources.cache.get_or_compute("stale", lambda: "old answer")
        await asyncio.sleep(0.5)  # the watcher is up
        # The game server writes round 2 when it ends.
        (folder / pair[1].name).write_bytes(pair[1].read_bytes())
        await _wait_for(lambda: len(done) >= 2)
        await bot.close()
    assert done[1] == [folder / pair[1].name]
    r2 = Round.get(Round.file_name == pair[1].name)
    assert r2.round1 is not None and r2.round1.file_name == pair[0].name  # paired
    assert bot.resources.cache.get_or_compute("stale", lambda: "fresh") == "fresh"


def test_run_bot_unreachable_discord(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'bot.db'}", discord_api_base="http://127.0.0.1:9/api/v10"
    )
    assert run_bot(settings) == EXIT_UNREACHABLE
    assert "cannot talk to Discord at http://127.0.0.1:9/api/v10" in capsys.readouterr().err

"""EtBot wiring and run_bot: cogs, settings, API base, exit codes, ingest hook."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import disnake
import pytest
from peewee import Database

from commands.conftest import FakeRenderer, make_settings
from conftest import corpus_files, first_pair, is_probe, until_watching
from discordkit import GUILD_ID, OWNER_ID, FakeDiscord
from etbot.bot import (
    EXIT_CONFIG,
    EXIT_LOGIN_FAILED,
    EXIT_UNREACHABLE,
    EtBot,
    cog_modules,
    run_bot,
)
from etbot.db import Db, open_database
from etbot.ingest import ImportReport
from etbot.models import Round
from etbot.players import autocomplete_players


def test_cog_modules_skip_helpers() -> None:
    names = cog_modules()
    assert "etbot.commands.errors" in names
    assert "etbot.commands.summary" in names
    assert not any(name.rsplit(".", 1)[1].startswith("_") for name in names)
    helpers = {"etbot.commands.converters", "etbot.commands.formatting"}
    assert not helpers & set(names)


async def test_bot_wiring(bot: EtBot, renderer: FakeRenderer) -> None:
    assert bot.owner_id == OWNER_ID
    assert tuple(bot._test_guilds or ()) == (GUILD_ID,)
    assert bot.allowed_mentions is not None
    assert bot.allowed_mentions.to_dict() == {"parse": []}
    assert bot.resources.renderer is renderer
    assert {c.qualified_name for c in bot.cogs.values()} >= {
        "ErrorHandler",
        "SummaryCog",
        "LeaderboardCog",
    }
    expected = {"stats", "leaderboard", "trend", "compare", "activity", "sessions", "link"}
    assert expected <= set(bot.all_slash_commands)


async def test_owner_id_and_mentions(bot: EtBot) -> None:
    assert bot.owner_id == OWNER_ID
    assert bot.allowed_mentions is not None
    assert not bot.allowed_mentions.everyone


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


def test_run_bot_unreachable_database_hides_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import socket

    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = make_settings(f"postgresql://u:pw123@127.0.0.1:{port}/etbot")
    assert run_bot(settings) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert f"cannot open the database 'postgresql://u:***@127.0.0.1:{port}/etbot'" in err
    assert "pw123" not in err


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
        files = corpus_files()[:20]
        with caplog.at_level(logging.WARNING):
            report = await bot.ingest_paths(files)
        assert report.imported > 0
        assert len(cache) == 0
        again = await bot.ingest_paths(files)
        assert again.imported == 0
        assert again.duplicates == report.imported
        assert autocomplete_players("")  # the data is really there
    finally:
        db._pool.shutdown(wait=True)
        database.close()


class Ingests:
    """What the bot imported, batch by batch (probe files left out), with a way to wait."""

    def __init__(self) -> None:
        self.batches: list[list[object]] = []
        self.probes = 0
        self._changed = asyncio.Condition()

    async def record(self, paths: list[object]) -> None:
        real = [p for p in paths if not (isinstance(p, Path) and is_probe(p))]
        async with self._changed:
            self.probes += len(paths) - len(real)
            if real:
                self.batches.append(real)
            self._changed.notify_all()

    async def until(self, condition: Callable[[], bool], timeout: float = 15.0) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(condition), timeout)


async def _bot_with_stats_dir(
    tmp_path: Path, server: FakeDiscord, renderer: FakeRenderer, folder: Path
) -> tuple[EtBot, Ingests]:
    url = f"sqlite:///{tmp_path / 'start.db'}"
    database = open_database(url)
    settings = make_settings(url, stats_dir=folder, discord_api_base=server.base_url)
    bot = EtBot(settings, Db(database), renderer=renderer)  # type: ignore[arg-type]
    bot.watch_settle_seconds = 0.2  # the settle rule has its own tests (test_sources.py)
    bot.watch_debounce_ms = 50
    done = Ingests()
    original = bot.ingest_paths

    async def spy(paths: Iterable[str | os.PathLike[str]], *, live: bool = False) -> ImportReport:
        report = await original(paths, live=live)
        await done.record(list(paths))  # recorded once the import has committed
        return report

    bot.ingest_paths = spy  # type: ignore[method-assign]
    return bot, done


async def test_stats_dir_imported_at_start(tmp_path: Path, renderer: FakeRenderer) -> None:
    folder = tmp_path / "stats"
    folder.mkdir()
    for path in corpus_files()[:10]:
        (folder / path.name).write_bytes(path.read_bytes())
    async with FakeDiscord() as server:
        bot, done = await _bot_with_stats_dir(tmp_path, server, renderer, folder)
        await bot.login("fake-bot-token")
        await done.until(lambda: bool(done.batches))
        await bot.close()
    assert done.batches == [[folder]]
    assert autocomplete_players("")


async def test_new_round_in_stats_dir_is_imported_while_running(
    tmp_path: Path, renderer: FakeRenderer
) -> None:
    folder = tmp_path / "stats"
    folder.mkdir()
    pair = first_pair(corpus_files())
    (folder / pair[0].name).write_bytes(pair[0].read_bytes())  # round 1 already there
    async with FakeDiscord() as server:
        bot, done = await _bot_with_stats_dir(tmp_path, server, renderer, folder)
        await bot.login("fake-bot-token")
        await done.until(lambda: bool(done.batches))
        bot.resources.cache.get_or_compute("stale", lambda: "old answer")
        await until_watching(folder, lambda: done.probes > 0, every=0.5)
        # The game server writes round 2 when it ends.
        (folder / pair[1].name).write_bytes(pair[1].read_bytes())
        await done.until(lambda: len(done.batches) >= 2)
        await bot.close()
    assert done.batches[1] == [folder / pair[1].name]
    r2 = Round.get(Round.file_name == pair[1].name)
    assert r2.round1 is not None
    assert r2.round1.file_name == pair[0].name  # paired
    assert bot.resources.cache.get_or_compute("stale", lambda: "fresh") == "fresh"


def test_run_bot_unreachable_discord(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'bot.db'}", discord_api_base="http://127.0.0.1:9/api/v10"
    )
    assert run_bot(settings) == EXIT_UNREACHABLE
    assert "cannot talk to Discord at http://127.0.0.1:9/api/v10" in capsys.readouterr().err

"""The bot's sources: STATS_DIR followed from start-up on, the SSH source wired in."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from pathlib import Path

from commands.conftest import FakeRenderer, make_settings
from conftest import corpus_files, evening, until
from discordkit import FakeDiscord
from etbot.bot import EtBot
from etbot.db import Db, open_database
from etbot.ingest import ImportReport
from etbot.models import Round


async def test_a_round_written_during_the_start_up_import_is_imported(tmp_path: Path) -> None:
    folder = tmp_path / "stats"
    folder.mkdir()
    files = corpus_files()
    for path in files[:5]:
        (folder / path.name).write_bytes(path.read_bytes())
    late = sorted(evening(files))[-1]  # a full round, later than the first five files
    url = f"sqlite:///{tmp_path / 'start.db'}"
    database = open_database(url)
    async with FakeDiscord() as server:
        settings = make_settings(url, stats_dir=folder, discord_api_base=server.base_url)
        bot = EtBot(settings, Db(database), renderer=FakeRenderer())  # type: ignore[arg-type]
        calls: list[list[object]] = []
        original = bot.ingest_paths

        async def spy(
            paths: Iterable[str | os.PathLike[str]], *, live: bool = False
        ) -> ImportReport:
            report = await original(paths, live=live)
            calls.append(list(paths))
            if len(calls) == 1:
                # The game server ends a round while the start-up import is still busy.
                (folder / late.name).write_bytes(late.read_bytes())
                await asyncio.sleep(0.5)
            return report

        bot.ingest_paths = spy  # type: ignore[method-assign]
        await bot.login("fake-bot-token")
        try:
            await until(lambda: len(calls) >= 2, "the late round is imported")
        finally:
            await bot.close()
    assert calls == [[folder], [folder / late.name]]  # nothing imported twice
    assert Round.select().where(Round.file_name == late.name).exists()

"""Fixtures for cog tests: the corpus in a temp SQLite, an EtBot with recorded HTTP.

The corpus is imported once per session into a template database; every test gets its own
copy of that file, so tests that write (``/link``) cannot affect each other.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from peewee import Database

from conftest import corpus_files
from discordkit import GUILD_ID, OWNER_ID, DiscordRecorder
from etbot.bot import EtBot
from etbot.config import Settings
from etbot.db import Db, open_database
from etbot.ingest import Importer
from etbot.render import RenderError

#: A real (tiny) PNG: 1x1 pixel.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


class FakeRenderer:
    """Stands in for :class:`etbot.render.ChartRenderer`: records figures, returns a PNG
    (or raises :class:`RenderError` when ``fail`` is set)."""

    def __init__(self) -> None:
        self.figures: list[Any] = []
        self.fail = False
        self.available = True
        self.closed = False

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self.closed = True

    async def render_png(self, fig: Any, **kwargs: Any) -> bytes:
        self.figures.append(fig)
        if self.fail:
            raise RenderError("no browser in this test")
        return TINY_PNG


@pytest.fixture(scope="session")
def corpus_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file with the whole corpus imported (built once)."""
    files = corpus_files()
    path = tmp_path_factory.mktemp("corpus-template") / "etbot.db"
    database = open_database(f"sqlite:///{path}")
    report = Importer().import_paths(files)
    assert report.imported > 200, report.summary()
    database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database.close()
    return path


@pytest.fixture
def corpus_database(corpus_template: Path, tmp_path: Path) -> Iterator[Database]:
    """A private copy of the corpus database, bound to the models."""
    path = tmp_path / "etbot.db"
    shutil.copyfile(corpus_template, path)
    database = open_database(f"sqlite:///{path}")
    yield database
    database.close()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "discord_token": "fake-bot-token",
        "database_url": database_url,
        "guild_ids": [GUILD_ID],
        "owner_id": OWNER_ID,
        "server_timezone": "Europe/Berlin",
        "cache_ttl_seconds": 60,
        "render_timeout_seconds": 20.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def renderer() -> FakeRenderer:
    return FakeRenderer()


@pytest.fixture
async def bot(corpus_database: Database, renderer: FakeRenderer) -> AsyncIterator[EtBot]:
    """The real EtBot (all cogs) over the corpus copy, with a fake renderer."""
    settings = make_settings(f"sqlite:///{corpus_database.database}")
    db = Db(corpus_database)
    etbot = EtBot(settings, db, renderer=renderer)  # type: ignore[arg-type]
    yield etbot
    db._pool.shutdown(wait=True)


@pytest.fixture
def rec(bot: EtBot) -> Iterator[DiscordRecorder]:
    with DiscordRecorder(bot) as recorder:
        yield recorder

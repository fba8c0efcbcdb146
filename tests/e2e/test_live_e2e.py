"""End to end: a live match night through the fake Discord.

The corpus's history up to its last evening is imported in bulk first (as an existing
community's database would be); then the last evening's files are dropped one by one
into the watched ``STATS_DIR`` of the real EtBot (real renderer). The announcement
channel must get, in order, a round summary, a map summary with its PNG, the running
stopwatch score in the following map summaries, and a milestone: each exactly once,
across a restart in the middle and a file dropped twice. A start-up (bulk) import posts
nothing. Runs on SQLite and PostgreSQL (the ``db`` fixture).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from peewee import Database

from conftest import corpus_files, until_watching
from conftest import until as until_within
from discordkit import (
    CHANNEL_ID,
    CHANNEL_MESSAGE,
    FOLLOWUP,
    GUILD_ID,
    ORIGINAL_EDIT,
    OWNER_ID,
    FakeDiscord,
    RecordedRequest,
    running_bot,
)
from etbot.bot import EtBot
from etbot.config import Settings
from etbot.db import Db
from etbot.ingest import Importer
from etbot.models import Announcement, MapResult, Round
from etbot.render import PNG_SIGNATURE, find_browser

TOKEN = "fake-bot-token"
TIMEOUT = 60.0  # an upper bound for a loaded CI machine; waits end as soon as it happens


def make_settings(api_base: str, stats_dir: Path) -> Settings:
    values: dict[str, Any] = {
        "discord_token": TOKEN,
        "discord_api_base": api_base,
        "database_url": "sqlite:///unused.db",  # the bot gets its Db directly
        "guild_ids": [GUILD_ID],
        "owner_id": OWNER_ID,
        "server_timezone": "Europe/Berlin",
        "render_timeout_seconds": 30.0,
        "announce_channel_id": CHANNEL_ID,
        "stats_dir": stats_dir,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def last_evening() -> tuple[list[Path], list[Path]]:
    files = corpus_files()
    day = files[-1].name[:10]
    return [f for f in files if f.name[:10] < day], [f for f in files if f.name[:10] == day]


def ended(path: Path) -> datetime:
    return datetime.strptime(path.name[:17], "%Y-%m-%d-%H%M%S")


#: :func:`conftest.until` with this module's bound.
until = partial(until_within, timeout=TIMEOUT)


def unsent() -> int:
    """Automatic posts queued and not yet sent (or given up)."""
    return (
        Announcement.select()
        .where(Announcement.status.in_(["pending", "claimed", "sending"]))
        .count()
    )


class LiveBot:
    """One EtBot run over the shared database and folder, with a watcher spy."""

    def __init__(self, database: Database, server: FakeDiscord, folder: Path) -> None:
        self.bot = EtBot(
            make_settings(server.base_url, folder), Db(database), guild_ready_timeout=0.05
        )
        self.bot.watch_settle_seconds = 0.2
        self.bot.watch_debounce_ms = 50
        self.imported: list[str] = []
        self.startup_done = False
        original = self.bot.ingest_paths

        async def spy(paths: Any, *, live: bool = False) -> Any:
            paths = list(paths)
            report = await original(paths, live=live)
            if live:
                self.imported += [Path(p).name for p in paths]
            else:
                self.startup_done = True
            return report

        self.bot.ingest_paths = spy  # type: ignore[method-assign]
        #: "Now" for the presence: a minute after the last round dropped.
        self.now = datetime(2000, 1, 1)
        night: Any = self.bot.get_cog("MatchNightCog")
        night.presence_seconds = 0.1
        night.clock = lambda: self.now

    async def wait_watching(self, folder: Path) -> None:
        await until(lambda: self.startup_done, "the start-up import")
        await until_watching(folder, self.saw_a_probe)

    def saw_a_probe(self) -> bool:
        return any(n.startswith("watcher-probe") for n in self.imported)

    async def drop(self, folder: Path, path: Path, *, name: str | None = None) -> None:
        """Write a stats file into the folder and wait until it is imported and posted."""
        target = folder / (name or path.name)
        self.now = ended(path) + timedelta(minutes=1)
        before = self.imported.count(target.name)
        # A small file written at once, as the game server does (not worth a thread).
        target.write_bytes(path.read_bytes())  # noqa: ASYNC240
        await until(lambda: self.imported.count(target.name) > before, f"{target.name} imported")
        if self.bot.poster.channel_id is not None:
            await until(lambda: unsent() == 0, "the outbox drained")


def presence_says(server: FakeDiscord, start: str) -> bool:
    """Some presence update so far showed a custom status starting with ``start``."""
    for update in server.presence_updates:
        activities = update.get("activities") or []
        if activities and str(activities[0].get("state", "")).startswith(start):
            return True
    return False


def posts(server: FakeDiscord) -> list[RecordedRequest]:
    return [r for r in server.requests if r.route == CHANNEL_MESSAGE]


def kind_of(post: RecordedRequest) -> str:
    if post.content and post.content.startswith("🏅"):
        return "milestone"
    title = post.embeds[0]["title"] if post.embeds else ""
    if title.endswith("· round 1"):
        return "round_summary"
    if title.endswith("· map result"):
        return "map_summary"
    return "?"


async def test_a_live_match_night(db: Database, tmp_path: Path) -> None:
    history, evening = last_evening()
    Importer().import_paths(history)  # the community's existing history: silent
    assert unsent() == 0
    folder = tmp_path / "stats"
    folder.mkdir()
    half = len(evening) // 2
    async with FakeDiscord(token=TOKEN) as server:
        first = LiveBot(db, server, folder)
        async with running_bot(first.bot, server, token=TOKEN, timeout=TIMEOUT):
            await first.wait_watching(folder)
            for path in evening[:half]:
                await first.drop(folder, path)
                if path.name.endswith("round-1.txt"):
                    # The presence follows the match: this map's round 2 is being played.
                    playing = f"{Round.get(Round.file_name == path.name).map} · round 2"
                    await until(
                        partial(presence_says, server, playing), f"the presence after {path.name}"
                    )
            count = len(posts(server))
            # The same file again, and a copy under another name: duplicates, no post.
            await first.drop(folder, evening[0])
            await first.drop(folder, evening[0], name=f"copy-{evening[0].name}")
            assert len(posts(server)) == count
            # A round imported, but the bot stops before it could post it.
            first.bot.poster.channel_id = None
            await first.drop(folder, evening[half])
            assert unsent() >= 1
        # Restart: the pending post goes out once; nothing imported before is posted again.
        second = LiveBot(db, server, folder)
        async with running_bot(second.bot, server, token=TOKEN, timeout=TIMEOUT):
            await until(lambda: second.startup_done, "the start-up import after the restart")
            await until(lambda: unsent() == 0, "the pending post after the restart")
            await until_watching(folder, second.saw_a_probe)
            for path in evening[half + 1 :]:
                await second.drop(folder, path)
            payload = await server.dispatch_interaction(server.slash_command("sessions"))
            sessions = await server.wait_for(
                lambda r: r.token == payload["token"] and r.route in (ORIGINAL_EDIT, FOLLOWUP),
                timeout=TIMEOUT,
            )
        assert server.errors == []

    sent = posts(server)
    kinds = [kind_of(p) for p in sent]
    assert "?" not in kinds
    # Exactly once: one message per outbox row, every row sent, no two alike.
    rows = list(Announcement.select().where(Announcement.status == "sent"))
    assert len(rows) == len(sent)
    assert len({(a.kind, a.key) for a in rows}) == len(rows)
    assert not Announcement.select().where(Announcement.status.in_(["pending", "failed"])).exists()
    # One round summary per round 1 of the evening, one map summary per decided map.
    round1s = [p for p in evening if p.name.endswith("round-1.txt")]
    decided = (
        MapResult.select()
        .join(Round, on=(MapResult.round2 == Round.id))
        .where(Round.file_name.in_([p.name for p in evening]))
        .count()
    )
    assert kinds.count("round_summary") == len(round1s)
    assert kinds.count("map_summary") == decided
    # In order: a round summary first, then its map summary with the chart.
    assert kinds[0] == "round_summary"
    first_map = kinds.index("map_summary")
    assert first_map >= 1
    map_post = sent[first_map]
    if find_browser() is not None:
        [(name, data)] = map_post.attachments
        assert name.endswith(".png")
        assert data.startswith(PNG_SIGNATURE)
        assert map_post.embeds[0]["image"]["url"] == f"attachment://{name}"
    else:
        assert map_post.attachments == []
    # The running score: every map summary names a team and its score after the map.
    scores = [
        re.search(
            r"(leads|levels the score at|trails|level at) (\d+)–(\d+)", p.embeds[0]["description"]
        )
        for p in sent
        if kind_of(p) == "map_summary"
    ]
    assert all(scores)
    assert "Team " in map_post.embeds[0]["description"]
    # A milestone of the evening, announced once.
    assert "milestone" in kinds
    milestone = sent[kinds.index("milestone")]
    assert milestone.content is not None
    assert "reached **" in milestone.content
    assert milestone.json["allowed_mentions"]["parse"] == []
    # /sessions shows the evening's score.
    newest = sessions.embeds[0]["fields"][0]["value"]
    assert re.search(r"Score: \*\*Team .+\*\* \d+–\d+ \*\*Team .+\*\*", newest)


async def test_the_start_up_import_posts_nothing(db: Database, tmp_path: Path) -> None:
    history, evening = last_evening()
    Importer().import_paths(history)
    folder = tmp_path / "stats"
    folder.mkdir()
    for path in evening:
        (folder / path.name).write_bytes(path.read_bytes())
    async with FakeDiscord(token=TOKEN) as server:
        live = LiveBot(db, server, folder)
        async with running_bot(live.bot, server, token=TOKEN, timeout=TIMEOUT):
            await until(lambda: live.startup_done, "the start-up import")
            assert Round.select().where(Round.file_name == evening[-1].name).exists()
            await live.bot.poster.drain()
        assert posts(server) == []
    assert unsent() == 0
    kinds = {a.kind for a in Announcement.select().where(Announcement.status != "silent")}
    assert kinds == set()

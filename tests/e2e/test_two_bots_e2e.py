"""Two bot processes on one database receive the same new rounds: each summary is posted once.

Issue 13: several bot processes (e.g. one per game server source) share one database. Here
two real ``etbot run`` processes (unmodified, each with its own Chromium for the charts)
talk to one fake Discord on loopback and share one database (PostgreSQL, the documented
multi-process deployment; SQLite in WAL mode too). Each watches its own ``STATS_DIR``,
and every file of a match night is written into both folders at the same moment, as if
both processes had fetched it from the game server. Both import it live, both posters
are woken at once; the database alone (the importer's unique file digest and writers'
lock, the outbox's unique (kind, key) and conditional claims) must make every round
summary, map summary and milestone appear in the announcement channel exactly once.

Which process posts what is up to timing (both do, in practice). The narrow race of two
posters claiming the same row at the same instant is forced separately, with four
processes draining one outbox (tests/test_announce.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from peewee import Database, PostgresqlDatabase
from test_live_e2e import unsent, until

from conftest import PG_URL, PROBE_PREFIX, corpus_files, until_watching
from discordkit import CHANNEL_ID, CHANNEL_MESSAGE, GUILD_ID, OWNER_ID, FakeDiscord
from etbot.ingest import Importer
from etbot.models import Announcement, MapResult, Round

TOKEN = "fake-bot-token"
TIMEOUT = 60.0
#: Files of the last evening written into both folders one by one (two whole maps);
#: the rest of the evening follows all at once.
ONE_BY_ONE = 4


def drop(bots: list[BotProcess], paths: list[Path]) -> None:
    """Write stats files into every bot's folder, the same moment for all."""
    contents = [(p.name, p.read_bytes()) for p in paths]
    for name, data in contents:
        for bot in bots:  # the same round reaches both processes at once
            (bot.folder / name).write_bytes(data)


def imported(paths: list[Path]) -> Callable[[], bool]:
    """Are all these files' rounds in the database?"""
    names = [p.name for p in paths]
    return lambda: Round.select().where(Round.file_name.in_(names)).count() == len(names)


class BotProcess:
    """``python -m etbot run`` in its own process, logging into a file."""

    def __init__(self, name: str, url: str, server: FakeDiscord, root: Path) -> None:
        self.name = name
        self.folder = root / f"stats-{name}"
        self.folder.mkdir()
        self.log = root / f"bot-{name}.log"
        self.probes_seen = 0
        env = {
            **os.environ,
            "DISCORD_TOKEN": TOKEN,
            "DISCORD_API_BASE": server.base_url,
            "DATABASE_URL": url,
            "GUILD_IDS": str(GUILD_ID),
            "OWNER_ID": str(OWNER_ID),
            "ANNOUNCE_CHANNEL_ID": str(CHANNEL_ID),
            "STATS_DIR": str(self.folder),
            "SERVER_TIMEZONE": "Europe/Berlin",
            "LOG_LEVEL": "INFO",
        }
        with self.log.open("w") as out:  # a file: a full pipe would block the bot
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "etbot", "run"],
                cwd=root,  # no .env there
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def saw_probe(self) -> bool:
        """The bot's watcher reported a probe file (it rejects it and logs the name)."""
        return self.text().count(PROBE_PREFIX) > self.probes_seen

    async def wait_watching(self) -> None:
        await until_watching(self.folder, self.saw_probe, every=3.0, timeout=TIMEOUT)
        self.probes_seen = self.text().count(PROBE_PREFIX)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -9


async def test_two_bot_processes_post_each_summary_once(db: Database, tmp_path: Path) -> None:
    files = corpus_files()
    day = files[-1].name[:10]
    history = [f for f in files if f.name[:10] < day]
    evening = [f for f in files if f.name[:10] == day]
    assert len(evening) > ONE_BY_ONE
    Importer().import_paths(history)  # the community's history: silent
    assert unsent() == 0
    url = str(PG_URL) if isinstance(db, PostgresqlDatabase) else f"sqlite:///{db.database}"
    async with FakeDiscord(token=TOKEN) as server:
        bots = [BotProcess(name, url, server, tmp_path) for name in ("a", "b")]
        try:
            await until(
                lambda: (
                    len(server.identify_payloads) >= 2
                    or any(b.proc.poll() is not None for b in bots)
                ),
                "both bots connected to the gateway",
            )
            assert all(b.proc.poll() is None for b in bots), [b.text()[-3000:] for b in bots]
            for bot in bots:
                await bot.wait_watching()
            for path in evening[:ONE_BY_ONE]:
                drop(bots, [path])
                await until(imported([path]), f"{path.name} imported")
                await until(lambda: unsent() == 0, f"the posts about {path.name}")
            # The rest of the evening at once: imports and posts of both overlap.
            drop(bots, evening[ONE_BY_ONE:])
            await until(imported(evening), "the whole evening imported")
            await until(lambda: unsent() == 0, "the posts of the evening")
            # Both processes have handled every file (they see probes written after them),
            # so a late duplicate would have had its chance to post twice.
            for bot in bots:
                await bot.wait_watching()
            await until(lambda: unsent() == 0, "the outbox drained")
        finally:
            codes = [bot.stop() for bot in bots]
        logs = [bot.text() for bot in bots]
        assert codes == [0, 0], [log[-3000:] for log in logs]
        assert server.errors == []

    for log in logs:
        assert "Traceback" not in log, log[-3000:]
    posts = [r for r in server.requests if r.route == CHANNEL_MESSAGE]
    sent = list(Announcement.select().where(Announcement.status == "sent"))
    # Exactly once: one message per outbox row, no row twice, nothing left over.
    assert len(posts) == len(sent)
    assert len({(a.kind, a.key) for a in sent}) == len(sent)
    assert not Announcement.select().where(Announcement.status.not_in(["sent", "silent"])).exists()
    # What the evening deserved: one round summary per round 1, one map summary per map.
    kinds = Counter(a.kind for a in sent)
    names = [p.name for p in evening]
    round1s = Round.select().where(Round.file_name.in_(names) & (Round.round_no == 1)).count()
    maps = (
        MapResult.select()
        .join(Round, on=(MapResult.round2 == Round.id))
        .where(Round.file_name.in_(names))
        .count()
    )
    assert round1s == sum(n.endswith("round-1.txt") for n in names)
    assert kinds["round_summary"] == round1s
    assert kinds["map_summary"] == maps >= 2
    # No message shown twice, whoever sent it (a map played twice has other numbers).
    shown = Counter(repr((p.content, p.embeds)) for p in posts)
    assert max(shown.values()) == 1, [m for m, n in shown.items() if n > 1]
    print(f"posts per process: {Counter(a.claimed_by.split(':')[1] for a in sent)}")

"""Small helpers shared by the cog tests: players picked from the corpus, reading answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from discordkit import ORIGINAL_EDIT, DiscordRecorder
from etbot.leaderboard import LeaderRow, leaderboard
from etbot.periods import parse_period
from etbot.players import PlayerRef, get_player

ALL = parse_period("all", datetime(2030, 1, 1))


def top_player(stat: str = "rounds") -> LeaderRow:
    """The first row of the all-time leaderboard of ``stat``."""
    return leaderboard(stat, ALL, limit=1).rows[0]


def ranked(stat: str = "rounds", n: int = 4) -> list[PlayerRef]:
    """The ``n`` best players by ``stat``, all time."""
    rows = leaderboard(stat, ALL, limit=n).rows
    return [get_player(r.player_id) for r in rows]


def guid(ref: PlayerRef) -> str:
    """The option value that names ``ref`` (as an autocomplete choice does)."""
    return f"guid:{ref.guid}"


def fields(embed: dict) -> dict[str, str]:
    """An embed's fields by name."""
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


async def run_deferred(rec: DiscordRecorder, payload: dict) -> Any:
    """Run a (deferred) command and return the one edit of its original response."""
    await rec.invoke_slash(payload)
    [original] = rec.by_route(ORIGINAL_EDIT)
    return original


def add_player_round(name: str, guid: str, when: str = "2019-06-01-200000") -> None:
    """Import one round (by default dated 2019, outside every recent period) in which
    ``guid`` plays under ``name``: a copy of a corpus round 1, first player renamed."""
    from conftest import corpus_files, read_round, write_round
    from etbot.ingest import Importer

    src = next(f for f in corpus_files() if f.name.endswith("-round-1.txt"))
    header, players = read_round(src)
    first = players[0]
    first.guid, first.name = guid, name
    report = Importer().import_many([(when + src.name[17:], write_round(header, [first]))])
    assert [r.status for r in report] == ["imported"], report

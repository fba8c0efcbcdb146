"""CSV export, safe to open in a spreadsheet.

Player names are chosen by players: a name such as ``=HYPERLINK(...)`` must never become
a formula. Every text cell that starts with ``=``, ``+``, ``-``, ``@``, TAB or CR is
prefixed with a single quote (the OWASP recommendation), which spreadsheets show as text.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import IO, Any

from etbot.models import Player, PlayerRound, Round, Server

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

TEAMS = {1: "axis", 2: "allies", 3: "spectator"}

#: Every column and the field it comes from: required columns first (their names are a
#: contract), then extras.
_SOURCES: dict[str, Any] = {
    "source_file": Round.file_name,
    "map": Round.map,
    "round_no": Round.round_no,
    "orphan": Round.orphan,
    "guid": Player.guid,
    "name": PlayerRound.name,
    "team": PlayerRound.team,
    "kills": PlayerRound.kills,
    "deaths": PlayerRound.deaths,
    "damage_given": PlayerRound.damage_given,
    "damage_received": PlayerRound.damage_received,
    "team_damage_given": PlayerRound.team_damage_given,
    "gibs": PlayerRound.gibs,
    "headshot_kills": PlayerRound.headshot_kills,
    "revives_given": PlayerRound.revives_given,
    "times_revived": PlayerRound.times_revived,
    "time_played_seconds": PlayerRound.time_played_s,
    "ended_at": Round.ended_at,
    "server": Server.clean_name,
    "hits": PlayerRound.hits,
    "shots": PlayerRound.shots,
    "headshots": PlayerRound.headshots,
    "kill_assists": PlayerRound.kill_assists,
    "xp": PlayerRound.xp,
    "dynamites_planted": PlayerRound.dynamites_planted,
    "dynamites_defused": PlayerRound.dynamites_defused,
    "repairs": PlayerRound.repairs,
    "self_kills": PlayerRound.self_kills,
    "team_kills": PlayerRound.team_kills,
    "reset": PlayerRound.reset,
}
ROUND_COLUMNS = tuple(_SOURCES)


def _flag(value: Any) -> int:
    return int(bool(value))


def _team(value: Any) -> str:
    return TEAMS.get(value, str(value))


def _timestamp(value: Any) -> str:
    return value.isoformat(sep=" ") if value is not None else ""


#: Columns shown differently from their stored value, by position in :data:`ROUND_COLUMNS`.
_CONVERTED = [
    (ROUND_COLUMNS.index(name), convert)
    for name, convert in (
        ("orphan", _flag),
        ("team", _team),
        ("ended_at", _timestamp),
        ("reset", _flag),
    )
]


def safe_cell(value: Any) -> Any:
    """Neutralise a text cell that a spreadsheet would treat as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def round_rows() -> Iterator[tuple[Any, ...]]:
    """One row per player per round (round 2 rows hold round-2-only values)."""
    query = (
        PlayerRound.select(*_SOURCES.values())
        .join(Round)
        .join(Server)
        .switch(PlayerRound)
        .join(Player)
        .order_by(Round.ended_at, Round.file_name, Player.guid)
        .tuples()
    )
    for row in query.iterator():
        out = list(row)
        for position, convert in _CONVERTED:  # the hot loop: positions named above
            out[position] = convert(out[position])
        yield tuple(out)


def write_csv(out: IO[str], columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> int:
    """Write a header and rows with every text cell protected; return the row count."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([safe_cell("" if v is None else v) for v in row])
        count += 1
    return count


def export_rounds(out: IO[str]) -> int:
    return write_csv(out, ROUND_COLUMNS, round_rows())

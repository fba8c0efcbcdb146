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

#: Required columns first (their names are a contract), then extras.
ROUND_COLUMNS = (
    "source_file",
    "map",
    "round_no",
    "orphan",
    "guid",
    "name",
    "team",
    "kills",
    "deaths",
    "damage_given",
    "damage_received",
    "team_damage_given",
    "gibs",
    "headshot_kills",
    "revives_given",
    "times_revived",
    "time_played_seconds",
    "ended_at",
    "server",
    "hits",
    "shots",
    "headshots",
    "kill_assists",
    "xp",
    "dynamites_planted",
    "dynamites_defused",
    "repairs",
    "self_kills",
    "team_kills",
    "reset",
)


def safe_cell(value: Any) -> Any:
    """Neutralise a text cell that a spreadsheet would treat as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def round_rows() -> Iterator[tuple[Any, ...]]:
    """One row per player per round (round 2 rows hold round-2-only values)."""
    query = (
        PlayerRound.select(
            Round.file_name,
            Round.map,
            Round.round_no,
            Round.orphan,
            Player.guid,
            PlayerRound.name,
            PlayerRound.team,
            PlayerRound.kills,
            PlayerRound.deaths,
            PlayerRound.damage_given,
            PlayerRound.damage_received,
            PlayerRound.team_damage_given,
            PlayerRound.gibs,
            PlayerRound.headshot_kills,
            PlayerRound.revives_given,
            PlayerRound.times_revived,
            PlayerRound.time_played_s,
            Round.ended_at,
            Server.clean_name,
            PlayerRound.hits,
            PlayerRound.shots,
            PlayerRound.headshots,
            PlayerRound.kill_assists,
            PlayerRound.xp,
            PlayerRound.dynamites_planted,
            PlayerRound.dynamites_defused,
            PlayerRound.repairs,
            PlayerRound.self_kills,
            PlayerRound.team_kills,
            PlayerRound.reset,
        )
        .join(Round)
        .join(Server)
        .switch(PlayerRound)
        .join(Player)
        .order_by(Round.ended_at, Round.file_name, Player.guid)
        .tuples()
    )
    for row in query.iterator():
        out = list(row)
        out[3] = int(bool(out[3]))  # orphan 0/1
        out[6] = TEAMS.get(out[6], str(out[6]))
        out[17] = out[17].isoformat(sep=" ") if out[17] is not None else ""
        out[29] = int(bool(out[29]))
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

"""CSV export, safe to open in a spreadsheet.

Four exports, shared by ``etbot export`` and ``/export`` (:func:`write_export`):

* ``rounds``: one row per player per round (:data:`ROUND_COLUMNS`; round 2 rows hold
  round-2-only values), optionally one player's, optionally of a period;
* ``leaderboard``: every player with enough rounds in a period, ranked by one stat, with
  every stat (:data:`LEADERBOARD_COLUMNS`);
* ``season``: the same for a season, with the season and the awards each player won in it
  (:data:`SEASON_COLUMNS`);
* ``ratings``: every rated player's skill rating (:data:`RATING_COLUMNS`,
  :func:`etbot.rating.ranking`).

Player names are chosen by players: a name such as ``=HYPERLINK(...)`` must never become
a formula. Every text cell that starts with ``=``, ``+``, ``-``, ``@``, TAB or CR is
prefixed with a single quote (the OWASP recommendation), which spreadsheets show as text,
and so is every line inside a cell that starts with one of them (after a CR or LF: a
program that splits rows there must not find a formula either). Rows end with CRLF
(RFC 4180), so Python's csv module quotes every field holding a CR or an LF: a lone CR in
a name stays inside its cell. Files are UTF-8 with a byte order mark, so spreadsheets show
names in any script correctly.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import IO, Any

from peewee import ColumnBase

from etbot.errors import BadOption, NoData, UserError
from etbot.leaderboard import ranked
from etbot.models import Player, PlayerRound, Round, Server
from etbot.periods import Period
from etbot.statdefs import COMMUNITY_MIN_ROUNDS, STATS, player_values, stat_def

_DAY = timedelta(days=1)

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
#: Encoding of every export: UTF-8 with a byte order mark.
ENCODING = "utf-8-sig"
#: What can be exported.
WHATS = ("rounds", "leaderboard", "season", "ratings")

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

#: The stats of every leaderboard / season row, in this order (keys of STATS).
STAT_COLUMNS = tuple(STATS)
LEADERBOARD_COLUMNS = ("rank", "guid", "name", *STAT_COLUMNS)
SEASON_COLUMNS = (
    "season",
    "season_name",
    "first_day",
    "last_day",
    *LEADERBOARD_COLUMNS,
    "awards",
)
RATING_COLUMNS = (
    "rank",
    "guid",
    "name",
    "rating",
    "skill",
    "uncertainty",
    "maps",
    "last_played",
)


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

#: A line break inside a cell, and what follows it.
_LINE_BREAK = re.compile(r"(\r\n|\r|\n)")


def _guard(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def safe_cell(value: Any) -> Any:
    """Neutralise a text cell that a spreadsheet would treat as a formula: the cell, and
    every line inside it, that starts with a formula character gets a leading quote."""
    if not isinstance(value, str):
        return value
    if "\r" not in value and "\n" not in value:
        return _guard(value)
    parts = _LINE_BREAK.split(value)  # text, break, text, break, … text
    head = _guard(parts[0]) if parts[0] else ("'" if value.startswith("\r") else "")
    lines = [head]
    for index in range(1, len(parts), 2):
        lines.append(parts[index])
        lines.append(_guard(parts[index + 1]))
    return "".join(lines)


def write_csv(out: IO[str], columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> int:
    """Write a header and rows with every text cell protected; return the row count.

    ``out`` should be opened with ``newline=""`` (the rows end with CRLF themselves).
    """
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([safe_cell("" if v is None else v) for v in row])
        count += 1
    return count


# --------------------------------------------------------------------------- what to export


@dataclass(frozen=True)
class ExportRequest:
    """One export: what, and the optional filters.

    ``period`` limits rounds, leaderboards and seasons' ranges (a season's own period for
    ``season``); ``player_id`` keeps one player's rows (ranks stay those among everyone).
    """

    what: str
    period: Period = field(default_factory=lambda: Period(None, None, "All time"))
    player_id: int | None = None
    #: ``season`` export: the season (an :class:`etbot.seasons.Season`).
    season: Any = None
    #: Leaderboard and season exports: ranked by this stat, players with enough rounds.
    stat: str = "dpm"
    min_rounds: int = COMMUNITY_MIN_ROUNDS

    def check(self) -> None:
        """Raises BadOption for an impossible combination."""
        if self.what not in WHATS:
            raise BadOption(f"Unknown export; choose one of: {', '.join(WHATS)}.")
        stat_def(self.stat)
        if not 1 <= self.min_rounds <= 100_000:
            raise BadOption("The minimum number of rounds must be 1–100000.")
        if self.what == "season" and self.season is None:
            raise BadOption("Say which season to export.")

    @property
    def file_name(self) -> str:
        """A descriptive file name (``etbot-season-2025-Q4.csv``)."""
        parts = ["etbot", self.what]
        if self.what == "season" and self.season is not None:
            parts.append(self.season.key)
        elif self.what != "ratings":
            if self.what == "leaderboard":
                parts.append(self.stat)
            if self.period.start is not None or self.period.end is not None:
                first = self.period.start.date().isoformat() if self.period.start else "start"
                last = (self.period.end - _DAY).date().isoformat() if self.period.end else "now"
                parts.append(f"{first}_{last}")
        return "-".join(parts) + ".csv"


def build_request(
    what: str,
    *,
    now: datetime,
    player_id: int | None = None,
    season: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    stat: str = "dpm",
    min_rounds: int = COMMUNITY_MIN_ROUNDS,
) -> ExportRequest:
    """An :class:`ExportRequest` from user options (the CLI's and ``/export``'s).

    ``season`` (a key or name) and ``date_from`` / ``date_to`` (``YYYY-MM-DD``, both days
    included) are alternatives; a ``season`` export without a season exports the default
    season (:func:`etbot.seasons.default_season`); ratings take neither.

    Raises:
        BadOption: an unknown value or an impossible combination. NoData: no season yet.
    """
    from etbot import seasons

    if what not in WHATS:
        raise BadOption(f"Unknown export; choose one of: {', '.join(WHATS)}.")
    season_text = (season or "").strip()
    dated = bool((date_from or "").strip() or (date_to or "").strip())
    if what == "ratings" and (season_text or dated):
        raise BadOption("Ratings are today's values: season, from and to do not apply.")
    if season_text and dated:
        raise BadOption("Give either a season or from/to dates, not both.")
    chosen = None
    period = Period(None, None, "All time")
    if season_text or what == "season":
        chosen = seasons.find_season(season_text, now)
        period = chosen.period
    elif dated:
        first = seasons.parse_day(date_from, "The `from` date") if date_from else None
        last = seasons.parse_day(date_to, "The `to` date") if date_to else None
        if first is not None and last is not None and last < first:
            raise BadOption("The `to` date must not be before the `from` date.")
        period = Period(
            datetime.combine(first, time()) if first else None,
            datetime.combine(last + _DAY, time()) if last else None,
            "Selected days",
        )
    request = ExportRequest(
        what, period=period, player_id=player_id, season=chosen, stat=stat, min_rounds=min_rounds
    )
    request.check()
    return request


def _rounds_where(req: ExportRequest) -> ColumnBase | None:
    cond: ColumnBase | None = None
    parts = []
    if req.player_id is not None:
        parts.append(PlayerRound.player == req.player_id)
    if req.period.start is not None:
        parts.append(PlayerRound.ended_at >= req.period.start)
    if req.period.end is not None:
        parts.append(PlayerRound.ended_at < req.period.end)
    for part in parts:
        cond = part if cond is None else cond & part
    return cond


def round_rows(req: ExportRequest | None = None) -> Iterator[tuple[Any, ...]]:
    """One row per player per round (round 2 rows hold round-2-only values)."""
    query = (
        PlayerRound.select(*_SOURCES.values())
        .join(Round)
        .join(Server)
        .switch(PlayerRound)
        .join(Player)
    )
    where = _rounds_where(req) if req is not None else None
    if where is not None:
        query = query.where(where)
    query = query.order_by(Round.ended_at, Round.file_name, Player.guid)
    for row in query.tuples().iterator():
        out = list(row)
        for position, convert in _CONVERTED:  # the hot loop: positions named above
            out[position] = convert(out[position])
        yield tuple(out)


def _ranked_rows(
    period: Period, stat: str, min_rounds: int, player_id: int | None
) -> Iterator[tuple[int, int, str, str, dict[str, float]]]:
    """(rank, player id, guid, name, every stat) of the ranking, best first."""
    ranking = ranked(stat_def(stat), period, min_rounds)
    if player_id is not None:
        ranking = [r for r in ranking if r.player_id == player_id]
    ids = [r.player_id for r in ranking]
    values = player_values(STAT_COLUMNS, period, player_ids=ids) if ids else {}
    people = dict(
        (pid, (guid, name))
        for pid, guid, name in Player.select(Player.id, Player.guid, Player.name)
        .where(Player.id.in_(ids or [0]))
        .tuples()
    )
    for r in ranking:
        guid, name = people[r.player_id]
        yield r.rank, r.player_id, guid, name, values[r.player_id]


#: Stats that are ratios (the others are counts).
_RATIOS = {"kd", "dpm", "accuracy", "headshot_pct"}


def _stat_cells(values: dict[str, float]) -> list[Any]:
    # Counters are whole numbers; ratios keep 4 decimals (enough for any spreadsheet).
    cells: list[Any] = []
    for key in STAT_COLUMNS:
        value = values.get(key, 0.0)
        cells.append(round(value, 4) if key in _RATIOS else int(value))
    return cells


def leaderboard_rows(req: ExportRequest) -> Iterator[tuple[Any, ...]]:
    """:data:`LEADERBOARD_COLUMNS` rows of the ranking by ``req.stat`` over the period."""
    for rank, _pid, guid, name, values in _ranked_rows(
        req.period, req.stat, req.min_rounds, req.player_id
    ):
        yield (rank, guid, name, *_stat_cells(values))


def season_rows(req: ExportRequest) -> Iterator[tuple[Any, ...]]:
    """:data:`SEASON_COLUMNS` rows: the season's standings by ``req.stat`` with awards."""
    from etbot.seasons import season_awards

    season = req.season
    won: dict[int, list[str]] = {}
    for award in season_awards(season.key):
        won.setdefault(award.player_id, []).append(award.category)
    head = (season.key, season.name, season.first_day.isoformat(), season.last_day.isoformat())
    for rank, pid, guid, name, values in _ranked_rows(
        season.period, req.stat, req.min_rounds, req.player_id
    ):
        yield (*head, rank, guid, name, *_stat_cells(values), " ".join(won.get(pid, [])))


def rating_rows(req: ExportRequest) -> Iterator[tuple[Any, ...]]:
    """:data:`RATING_COLUMNS` rows: every rated player, best conservative rating first."""
    from etbot.rating import ranking

    # Every rated player, however long ago they last played (the bot's ranks count the
    # last 90 days only): an export is the whole table.
    for r in ranking(active_days=365 * 100):
        if req.player_id is not None and r.player_id != req.player_id:
            continue
        yield (
            r.rank,
            r.guid,
            r.name,
            r.rating,
            round(r.skill, 4),
            round(r.uncertainty, 4),
            r.maps,
            _timestamp(r.last_played),
        )


def columns_of(what: str) -> tuple[str, ...]:
    """The header of an export."""
    return {
        "rounds": ROUND_COLUMNS,
        "leaderboard": LEADERBOARD_COLUMNS,
        "season": SEASON_COLUMNS,
        "ratings": RATING_COLUMNS,
    }[what]


def write_export(req: ExportRequest, out: IO[str]) -> int:
    """Write the CSV of ``req`` to ``out`` (opened with ``newline=""``); returns the rows.

    Raises:
        BadOption: an impossible request.
    """
    req.check()
    rows: Iterable[tuple[Any, ...]]
    if req.what == "rounds":
        rows = round_rows(req)
    elif req.what == "leaderboard":
        rows = leaderboard_rows(req)
    elif req.what == "season":
        rows = season_rows(req)
    else:
        rows = rating_rows(req)
    return write_csv(out, columns_of(req.what), rows)


def export_rounds(out: IO[str]) -> int:
    """Every round row (the original ``etbot export rounds``)."""
    return write_export(ExportRequest("rounds"), out)


# --------------------------------------------------------------------------- as an attachment


class ExportTooLarge(UserError):
    """Even compressed, the export is larger than the attachment limit."""


@dataclass(frozen=True)
class ExportFile:
    """An export ready to attach: its name, bytes, rows and whether it was gzipped."""

    name: str
    data: bytes
    rows: int
    gzipped: bool
    #: Size of the CSV before compression.
    csv_bytes: int


def export_file(req: ExportRequest, max_bytes: int) -> ExportFile:
    """The CSV of ``req`` as a file of at most ``max_bytes``: plain, or gzipped when the
    plain file is larger.

    The CSV is written to a temporary file, not kept in memory.

    Raises:
        BadOption: an impossible request.
        NoData: nothing to export.
        ExportTooLarge: larger than ``max_bytes`` even gzipped.
    """
    with tempfile.TemporaryFile() as raw:
        text = io.TextIOWrapper(raw, encoding=ENCODING, newline="", write_through=True)
        rows = write_export(req, text)
        text.flush()
        text.detach()
        if rows == 0:
            raise NoData("Nothing to export: no rows match.")
        size = raw.tell()
        raw.seek(0)
        if size <= max_bytes:
            return ExportFile(req.file_name, raw.read(), rows, False, size)
        with tempfile.TemporaryFile() as packed:
            with gzip.GzipFile(filename=req.file_name, mode="wb", fileobj=packed, mtime=0) as gz:
                shutil.copyfileobj(raw, gz)
            packed_size = packed.tell()
            if packed_size > max_bytes:
                raise ExportTooLarge(
                    "This export is too large to attach even compressed ({size} MB gzipped, "
                    "the limit here is {limit} MB). Narrow it down with `player`, `season`, "
                    "`from` or `to`, or ask the bot's admin to run `etbot export` on the "
                    "server.",
                    size=f"{packed_size / 1_048_576:.1f}",
                    limit=f"{max_bytes / 1_048_576:.1f}",
                )
            packed.seek(0)
            return ExportFile(req.file_name + ".gz", packed.read(), rows, True, size)

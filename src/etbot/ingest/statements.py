"""The SQL an import runs for every file, hand-built once, with names taken from the models.

peewee's query builder cost more than the database work itself when thousands of small
files arrive (profiled: about 60 % of import time), so these statements are built once
per database as parameterised SQL strings (identical on SQLite ≥ 3.35, for RETURNING,
and PostgreSQL). Table and column names come from the peewee models (``Model._meta``),
never spelled by hand: a renamed field fails here, at build time, and an INSERT checks
that it writes every column of its model except those it leaves out on purpose, so a
new model field cannot be silently left to its default by the ingest.

Rows are passed by field name (a mapping read with ``operator.itemgetter``) except the
player and weapon rows, the innermost loop, which are flat parameter lists in
:data:`PLAYER_ROUND_FIELDS` / :data:`WEAPON_ROUND_FIELDS` order.
Everything else the importer does (deletes, merges) uses peewee queries.
"""

from __future__ import annotations

import io
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from peewee import AutoField, Field, Model

from etbot.db import as_datetime
from etbot.ingest.differential import VALUE_FIELDS, WEAPON_COUNTERS
from etbot.ingest.pairing import ClusterRound
from etbot.ingest.sessions import SessionRow, touch_window
from etbot.models import (
    Alias,
    GamingSession,
    MapResult,
    Player,
    PlayerRound,
    Round,
    SourceFile,
    WeaponRound,
    database_proxy,
)

#: Column order of a player row (the hot loop builds them positionally): what the round
#: says of the player, then the values (:data:`~etbot.ingest.differential.VALUE_FIELDS`).
PLAYER_ROUND_FIELDS = (
    "round",
    "player",
    "ended_at",
    "map",
    "round_no",
    "orphan",
    "name",
    "raw_name",
    "team",
    "rounds_counter",
    "reset",
    "only_round2",
    *VALUE_FIELDS,
)
#: Column order of a weapon row tuple (the hot loop builds them positionally).
WEAPON_ROUND_FIELDS = ("round", "player", "weapon", *WEAPON_COUNTERS)
#: Columns read back of a round 1 player: the id, the ``rounds`` counter, then the values.
ROUND1_SELECT = ("player", "rounds_counter", *VALUE_FIELDS)
#: Columns read back of a round 1 weapon: player id, weapon bit, then the counters.
ROUND1_WEAPON_SELECT = ("player", "weapon", *WEAPON_COUNTERS)


def _field(model: type[Model], name: str) -> Field:
    """A model field by field name (``round1``) or column name (``round1_id``)."""
    meta = model._meta
    found = meta.fields.get(name) or meta.columns.get(name)
    if found is None:
        raise LookupError(f"{model.__name__} has no field or column {name!r}")
    return found


def table(model: type[Model]) -> str:
    """The quoted table name of ``model``."""
    return f'"{model._meta.table_name}"'


def column(model: type[Model], name: str) -> str:
    """The quoted column name of a field of ``model`` (by field or column name)."""
    return f'"{_field(model, name).column_name}"'


def columns(model: type[Model], names: Iterable[str]) -> str:
    return ", ".join(column(model, name) for name in names)


def stored_fields(model: type[Model]) -> tuple[str, ...]:
    """Every field of ``model`` the application writes: all but an auto-increment id."""
    return tuple(f.name for f in model._meta.sorted_fields if not isinstance(f, AutoField))


def _getter(names: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    if len(names) == 1:
        (only,) = names
        return lambda row: (row[only],)
    return operator.itemgetter(*names)  # type: ignore[return-value]


class Insert:
    """A multi-row ``INSERT`` of ``fields`` into ``model`` (optionally with a tail clause).

    ``leave_out`` names the model's fields this statement does not write, each on purpose
    (they keep their default or are set elsewhere); any other field missing from
    ``fields`` is an error when the statement is built.
    """

    def __init__(
        self,
        model: type[Model],
        fields: Sequence[str],
        *,
        param: str,
        leave_out: Iterable[str] = (),
        tail: str = "",
    ) -> None:
        self.head = f"INSERT INTO {table(model)} ({columns(model, fields)}) VALUES "  # noqa: S608 names from the models, values are parameters
        #: The same rows by PostgreSQL's COPY (text format, :func:`copy_rows`).
        self.copy = f"COPY {table(model)} ({columns(model, fields)}) FROM STDIN"
        missing = set(stored_fields(model)) - set(fields) - set(leave_out)
        if missing:
            raise LookupError(
                f"INSERT INTO {model.__name__} does not write {sorted(missing)}: add them to the "
                "ingest, or leave them out on purpose"
            )
        self.fields = tuple(fields)
        self.row = "(" + ", ".join([param] * len(fields)) + ")"
        self.tail = tail
        #: The parameters of one row, read by field name from a mapping.
        self.values = _getter(self.fields)
        self._sql: dict[int, str] = {}

    def sql(self, rows: int = 1) -> str:
        """The statement for ``rows`` rows (built once per row count)."""
        text = self._sql.get(rows)
        if text is None:
            text = self.head + ", ".join([self.row] * rows) + self.tail
            self._sql[rows] = text
        return text

    def params(self, rows: Iterable[Mapping[str, Any]]) -> list[Any]:
        """The flat parameter list of ``rows`` (mappings by field name)."""
        values = self.values
        out: list[Any] = []
        for row in rows:
            out += values(row)
        return out


def returning(model: type[Model], name: str = "id") -> str:
    return f" RETURNING {column(model, name)}"


def upsert_newest(
    model: type[Model],
    fields: Sequence[str],
    *,
    conflict: Sequence[str],
    newest: Sequence[str],
    earliest: Sequence[str] = (),
    add: Sequence[str] = (),
    keep: Sequence[str] = (),
    by: str = "last_seen",
) -> str:
    """``ON CONFLICT`` clause for a row seen again: every inserted field says what happens.

    ``newest`` fields take the new value when the new row is at least as recent (``by``),
    ``earliest`` keep the smaller value, ``add`` add up, ``keep`` stay as stored. Rows can
    arrive in any order, so the outcome depends only on the set of rows.
    """
    handled = [*conflict, *newest, *earliest, *add, *keep]
    if sorted(handled) != sorted(fields):
        raise LookupError(f"upsert of {model.__name__}: {handled} must name each of {fields} once")
    if not _is_unique(model, conflict):
        raise LookupError(f"{model.__name__} has no unique key on {list(conflict)}")
    t = table(model)
    newer = f"excluded.{column(model, by)} >= {t}.{column(model, by)}"
    sets = []
    for name in fields:
        c = column(model, name)
        if name in add:
            sets.append(f"{c} = {t}.{c} + excluded.{c}")
        elif name in newest:
            sets.append(f"{c} = CASE WHEN {newer} THEN excluded.{c} ELSE {t}.{c} END")
        elif name in earliest:
            sets.append(
                f"{c} = CASE WHEN excluded.{c} < {t}.{c} THEN excluded.{c} ELSE {t}.{c} END"
            )
    return f" ON CONFLICT ({columns(model, conflict)}) DO UPDATE SET {', '.join(sets)}"


def _is_unique(model: type[Model], names: Sequence[str]) -> bool:
    if len(names) == 1:
        (name,) = names
        if _field(model, name).unique:
            return True
    return any(unique and tuple(cols) == tuple(names) for cols, unique in model._meta.indexes)


def select(
    model: type[Model],
    names: Sequence[str],
    where: Sequence[tuple[str, str]],
    *,
    param: str,
    order_by: str | None = None,
) -> str:
    """``SELECT names FROM model WHERE field op param AND …`` (``where``: (field, op) pairs)."""
    conditions = " AND ".join(f"{column(model, name)} {op} {param}" for name, op in where)
    text = f"SELECT {columns(model, names)} FROM {table(model)} WHERE {conditions}"  # noqa: S608 names from the models, values are parameters
    if order_by is not None:
        text += f" ORDER BY {column(model, order_by)}"
    return text


def update(model: type[Model], names: Sequence[str], *, param: str, key: str = "id") -> str:
    """``UPDATE model SET name = param, … WHERE key = param``."""
    sets = ", ".join(f"{column(model, name)} = {param}" for name in names)
    return f"UPDATE {table(model)} SET {sets} WHERE {column(model, key)} = {param}"  # noqa: S608 names from the models, values are parameters


class Statements:
    """Every statement an import runs per file, for one database's parameter style."""

    def __init__(self, param: str) -> None:
        p = self.param = param
        self.source_exists = (
            f"SELECT 1 FROM {table(SourceFile)} WHERE {column(SourceFile, 'sha256')} = {p} LIMIT 1"  # noqa: S608 names from the models, values are parameters
        )
        self.insert_source = Insert(
            SourceFile, stored_fields(SourceFile), param=p, tail=returning(SourceFile)
        )
        self.insert_round = Insert(
            Round,
            [f for f in stored_fields(Round) if f != "round1"],
            param=p,
            leave_out=["round1"],  # pairing sets it (set_round1), after the rows are written
            tail=returning(Round),
        )
        # Fast mode (etbot.ingest.deferred) gives new rows their ids before writing them.
        self.insert_source_with_id = Insert(SourceFile, ["id", *stored_fields(SourceFile)], param=p)
        self.insert_round_with_id = Insert(Round, ["id", *stored_fields(Round)], param=p)
        self.insert_session_with_id = Insert(
            GamingSession, ["id", *stored_fields(GamingSession)], param=p
        )
        self.insert_player_round = Insert(PlayerRound, PLAYER_ROUND_FIELDS, param=p)
        self.insert_weapon_round = Insert(WeaponRound, WEAPON_ROUND_FIELDS, param=p)
        self.insert_map_result = Insert(MapResult, stored_fields(MapResult), param=p)

        player_fields = ("guid", "name", "raw_name", "first_seen", "last_seen")
        self.upsert_player = Insert(
            Player,
            player_fields,
            param=p,
            leave_out=["discord_id"],  # set by /link, never by the ingest
            tail=upsert_newest(
                Player,
                player_fields,
                conflict=["guid"],
                newest=["name", "raw_name", "last_seen"],
                earliest=["first_seen"],
            ),
        )
        # In this order: the importer passes alias rows as tuples.
        alias_fields = (
            "player",
            "name",
            "name_lower",
            "raw_name",
            "first_seen",
            "last_seen",
            "rounds",
        )
        self.upsert_alias = Insert(
            Alias,
            alias_fields,
            param=p,
            tail=upsert_newest(
                Alias,
                alias_fields,
                conflict=["player", "name"],
                newest=["raw_name", "last_seen"],
                earliest=["first_seen"],
                add=["rounds"],
                keep=["name_lower"],  # follows name, part of the key
            ),
        )

        self.cluster = select(
            Round,
            ClusterRound._fields,
            [("server", "="), ("map", "="), ("ended_at", ">="), ("ended_at", "<=")],
            param=p,
            order_by="ended_at",
        )
        self.set_round1 = update(Round, ["round1", "orphan"], param=p)
        self.round1_players = select(PlayerRound, ROUND1_SELECT, [("round", "=")], param=p)
        self.round1_weapons = select(WeaponRound, ROUND1_WEAPON_SELECT, [("round", "=")], param=p)

        self.sessions = select(
            GamingSession,
            SessionRow._fields,
            [("server", "="), ("started_at", "<="), ("ended_at", ">=")],
            param=p,
            order_by="started_at",
        )
        self.insert_session = Insert(
            GamingSession, stored_fields(GamingSession), param=p, tail=returning(GamingSession)
        )
        self.update_session = update(
            GamingSession, ["started_at", "ended_at", "round_count"], param=p
        )

    def recount_sessions(self, count: int) -> str:
        """``UPDATE gaming_session SET round_count = (its rounds) WHERE id IN (…count…)``."""
        marks = ", ".join([self.param] * count)
        session, rnd = table(GamingSession), table(Round)
        return (
            f"UPDATE {session} SET {column(GamingSession, 'round_count')} = "  # noqa: S608 names from the models, values are parameters
            f"(SELECT COUNT(*) FROM {rnd} WHERE {rnd}.{column(Round, 'session')} = "
            f"{session}.{column(GamingSession, 'id')}) "
            f"WHERE {column(GamingSession, 'id')} IN ({marks})"
        )

    def known_sources(self, count: int) -> str:
        """``SELECT sha256 FROM source_file WHERE sha256 IN (…count params…)``."""
        marks = ", ".join([self.param] * count)
        return (
            f"SELECT {column(SourceFile, 'sha256')} FROM {table(SourceFile)} "  # noqa: S608 names from the models, values are parameters
            f"WHERE {column(SourceFile, 'sha256')} IN ({marks})"
        )

    def player_ids(self, count: int) -> str:
        """``SELECT id, guid FROM player WHERE guid IN (…count params…)``."""
        marks = ", ".join([self.param] * count)
        return (
            f"SELECT {columns(Player, ['id', 'guid'])} FROM {table(Player)} "  # noqa: S608 names from the models, values are parameters
            f"WHERE {column(Player, 'guid')} IN ({marks})"
        )


def execute(sql: str, params: Sequence[Any] = ()) -> Any:
    """Run one statement on the bound database; returns the cursor."""
    return database_proxy.execute_sql(sql, params)


def copy_rows(insert: Insert, params: Sequence[Any]) -> None:
    """Write the rows of a flat parameter list (``insert.fields`` values per row) with
    PostgreSQL's ``COPY … FROM STDIN``: one round trip and no SQL to parse for any number
    of rows (a 400-row INSERT cost the server more to parse than to store, measured)."""
    width = len(insert.fields)
    lines = [
        "\t".join([_copy_value(v) for v in params[i : i + width]])
        for i in range(0, len(params), width)
    ]
    if not lines:
        return
    text = io.StringIO("\n".join(lines) + "\n")
    database_proxy.cursor().copy_expert(insert.copy, text)


#: Characters COPY's text format gives a meaning to, and how they are written.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: Any) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    return str(value)


def fetch_cluster(
    sql: Statements, server_id: int, mapname: str, lo: datetime, hi: datetime
) -> list[ClusterRound]:
    """The stored rounds of one map and server that ended in [lo, hi], in time order."""
    rows = execute(sql.cluster, (server_id, mapname, lo, hi)).fetchall()
    return [ClusterRound(rid, as_datetime(ended_at), *rest) for rid, ended_at, *rest in rows]


def fetch_sessions(sql: Statements, server_id: int, ended_at: datetime) -> list[SessionRow]:
    """The stored gaming sessions of a server a round ending at ``ended_at`` touches
    (:func:`~etbot.ingest.sessions.touch_window`), by start."""
    return fetch_sessions_between(sql, server_id, *touch_window(ended_at))


def fetch_sessions_between(
    sql: Statements, server_id: int, latest_start: datetime, earliest_end: datetime
) -> list[SessionRow]:
    """The stored gaming sessions of a server that start by ``latest_start`` and end at
    ``earliest_end`` or later, by start."""
    rows = execute(sql.sessions, (server_id, latest_start, earliest_end)).fetchall()
    return [
        SessionRow(sid, as_datetime(started_at), as_datetime(last), count)
        for sid, started_at, last, count in rows
    ]


def fetch_id(sql: str, params: Sequence[Any]) -> int:
    """Run an ``INSERT … RETURNING id`` and return the id."""
    (new_id,) = execute(sql, params).fetchone()
    return int(new_id)

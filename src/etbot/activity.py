"""Activity: when a player (or the whole server) plays, per weekday and hour."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from peewee import SQL, NodeList, fn

from etbot.cache import cached_query
from etbot.db import is_postgres
from etbot.errors import BadOption
from etbot.models import PlayerRound, Round
from etbot.periods import now_or_latest
from etbot.players import get_player
from etbot.servers import get_server
from etbot.statdefs import counted, on_server

#: Longest window of :func:`activity`, in weeks.
MAX_WEEKS = 520


@cached_query
def activity(
    player_id: int | None, weeks: int, now: datetime | None = None, server: int | None = None
) -> list[list[int]]:
    """Rounds played per weekday (Monday first) and hour, in server local time.

    Rounds of one player (their counted rows) or, with ``player_id=None``, of the whole
    community (every non-orphan round), over the ``weeks`` weeks before ``now`` (default:
    the newest round); only the rounds of one game server when ``server`` (an id) is given.
    Returns 7 lists of 24 counts.
    """
    if not 1 <= weeks <= MAX_WEEKS:
        raise BadOption(f"The number of weeks must be between 1 and {MAX_WEEKS}.")
    if server is not None:
        get_server(server)  # UnknownServer when it has no rounds (any more)
    now = now_or_latest(now)
    since = now - timedelta(weeks=weeks)
    if player_id is None:
        column: Any = Round.ended_at
        where = (Round.orphan == False) & (Round.ended_at > since) & (Round.ended_at <= now)  # noqa: E712
        model: Any = Round
    else:
        get_player(player_id)
        column = PlayerRound.ended_at
        where = (
            (PlayerRound.player == player_id)
            & counted()
            & (PlayerRound.ended_at > since)
            & (PlayerRound.ended_at <= now)
        )
        model = PlayerRound
    if server is not None:
        where &= on_server(model, server)
    if is_postgres():
        weekday = fn.date_part("isodow", column)  # Monday 1 .. Sunday 7
        hour = fn.date_part("hour", column)
        monday_first = {d: d - 1 for d in range(1, 8)}
    else:
        weekday = fn.CAST(NodeList((fn.strftime("%w", column), SQL("AS INTEGER"))))
        hour = fn.CAST(NodeList((fn.strftime("%H", column), SQL("AS INTEGER"))))
        monday_first = {d: (d + 6) % 7 for d in range(7)}  # %w: Sunday 0 .. Saturday 6
    grid = [[0] * 24 for _ in range(7)]
    query = model.select(weekday, hour, fn.COUNT(SQL("*"))).where(where).group_by(weekday, hour)
    for wd, hr, n in query.tuples():
        grid[monday_first[int(wd)]][int(hr)] += int(n)
    return grid

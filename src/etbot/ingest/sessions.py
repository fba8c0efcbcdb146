"""Gaming sessions: the rounds of one server with no gap longer than 60 minutes.

Sessions are derived incrementally as rounds arrive, in any order: a new round joins
every stored session of its server that it is within :data:`SESSION_GAP` of
(:func:`touch_window`); when it touches several it bridges them and they merge into
the earliest (:func:`plan_session`). The result is the same partition as splitting the
server's sorted rounds at every gap over 60 minutes, whatever the import order.

Pure; the importer runs the queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

#: The longest gap between two consecutive rounds of one session.
SESSION_GAP = timedelta(minutes=60)


class SessionRow(NamedTuple):
    """A stored gaming session (the importer selects these ``gaming_session`` columns)."""

    id: int
    started_at: datetime
    ended_at: datetime
    round_count: int


class SessionPlan(NamedTuple):
    """Where a new round goes: a new session (``keep`` None) or ``keep``, with its new span."""

    keep: int | None
    started_at: datetime
    ended_at: datetime
    round_count: int
    #: Sessions the round bridges into ``keep``: their rounds move, the sessions go.
    merged: list[int]


def touch_window(ended_at: datetime) -> tuple[datetime, datetime]:
    """(latest start, earliest end) of a session a round ending at ``ended_at`` joins.

    A session [started_at, ended_at] is touched when it starts no later than
    :data:`SESSION_GAP` after the round and ends no earlier than :data:`SESSION_GAP`
    before it.
    """
    return ended_at + SESSION_GAP, ended_at - SESSION_GAP


def plan_session(ended_at: datetime, touching: Sequence[SessionRow]) -> SessionPlan:
    """The session a round ending at ``ended_at`` belongs to, given the sessions it touches.

    ``touching`` is ordered by start; the earliest is kept and the others merge into it.
    """
    if not touching:
        return SessionPlan(None, ended_at, ended_at, 1, [])
    first, *others = touching
    return SessionPlan(
        keep=first.id,
        started_at=min(ended_at, *(s.started_at for s in touching)),
        ended_at=max(ended_at, *(s.ended_at for s in touching)),
        round_count=1 + sum(s.round_count for s in touching),
        merged=[s.id for s in others],
    )

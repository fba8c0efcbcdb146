"""Gaming sessions without a database: the 60-minute rule, applied incrementally."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from etbot.ingest.sessions import SessionPlan, SessionRow, plan_session, touch_window

T = datetime(2025, 3, 1, 20, 0)
#: The rule (FORMAT.md), spelt out here so a changed constant in the code is noticed.
GAP = timedelta(minutes=60)


def at(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


def touching(sessions: list[SessionRow], ended_at: datetime) -> list[SessionRow]:
    """What the importer's query returns: the server's sessions in the window, by start."""
    latest_start, earliest_end = touch_window(ended_at)
    found = [s for s in sessions if s.started_at <= latest_start and s.ended_at >= earliest_end]
    return sorted(found, key=lambda s: s.started_at)


def test_a_round_far_from_every_session_starts_one() -> None:
    assert plan_session(at(0), []) == SessionPlan(None, at(0), at(0), 1, [])


def test_a_round_within_60_minutes_extends_the_session() -> None:
    session = SessionRow(7, at(0), at(60), 3)
    assert touching([session], at(120)) == [session]  # exactly 60 minutes later
    assert touching([session], at(120) + timedelta(seconds=1)) == []
    assert touching([session], at(-60)) == [session]  # 60 minutes before its start
    assert plan_session(at(120), [session]) == SessionPlan(7, at(0), at(120), 4, [])
    assert plan_session(at(-30), [session]) == SessionPlan(7, at(-30), at(60), 4, [])


def test_a_round_inside_a_session_only_counts() -> None:
    session = SessionRow(7, at(0), at(60), 3)
    assert plan_session(at(30), [session]) == SessionPlan(7, at(0), at(60), 4, [])


def test_a_round_that_bridges_two_sessions_merges_them_into_the_first() -> None:
    first = SessionRow(1, at(0), at(30), 2)
    second = SessionRow(2, at(140), at(160), 5)
    bridge = at(85)  # 55 minutes after the first, 55 before the second
    assert touching([second, first], bridge) == [first, second]
    assert plan_session(bridge, [first, second]) == SessionPlan(1, at(0), at(160), 8, [2])


def sessions_by_rule(times: list[datetime]) -> list[list[datetime]]:
    """The definition: the server's rounds in time order, split at every gap over 60 minutes."""
    groups: list[list[datetime]] = []
    for t in sorted(times):
        if groups and t - groups[-1][-1] <= GAP:
            groups[-1].append(t)
        else:
            groups.append([t])
    return groups


@settings(max_examples=300, deadline=None)
@given(
    minutes=st.lists(st.integers(min_value=0, max_value=24 * 60), max_size=25),
    data=st.data(),
)
def test_any_arrival_order_gives_the_sessions_of_the_60_minute_rule(
    minutes: list[int], data: st.DataObject
) -> None:
    times = [at(m) for m in minutes]
    order = data.draw(st.permutations(range(len(times))))
    sessions: dict[int, SessionRow] = {}
    session_of: dict[int, int] = {}  # round index → session id
    new_id = itertools.count(1)
    for i in order:
        plan = plan_session(times[i], touching(list(sessions.values()), times[i]))
        if plan.keep is None:
            sid = next(new_id)
        else:
            sid = plan.keep
            for gone in plan.merged:
                del sessions[gone]
                session_of = {r: sid if s == gone else s for r, s in session_of.items()}
        sessions[sid] = SessionRow(sid, plan.started_at, plan.ended_at, plan.round_count)
        session_of[i] = sid

    derived = sorted(
        sorted(times[i] for i, s in session_of.items() if s == sid) for sid in sessions
    )
    assert derived == sessions_by_rule(times)
    for sid, row in sessions.items():
        mine = [times[i] for i, s in session_of.items() if s == sid]
        assert (row.started_at, row.ended_at, row.round_count) == (min(mine), max(mine), len(mine))

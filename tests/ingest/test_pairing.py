"""Pairing without a database: pair_rounds, the cluster, the re-pairing plan, map results."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from etbot.ingest.pairing import (
    ClusterRound,
    Repair,
    RoundRef,
    cluster_around,
    map_outcome_from,
    pair_rounds,
    plan_repair,
)

T = datetime(2025, 3, 1, 21, 0)
#: The rule (FORMAT.md), spelt out here so a changed constant in the code is noticed.
WINDOW = timedelta(minutes=45)


def ref(name: str, ended_at: datetime, round_no: int) -> RoundRef:
    return RoundRef(
        name, ended_at, f"{ended_at:%Y-%m-%d-%H%M%S}-supply-round-{round_no}.txt", round_no
    )


def test_a_pair_crosses_midnight() -> None:
    r1 = ref("r1", datetime(2025, 10, 19, 23, 53, 7), 1)
    r2 = ref("r2", datetime(2025, 10, 20, 0, 0, 43), 2)
    assert pair_rounds([r1, r2]) == {"r2": "r1"}


def test_the_45_minute_window_is_inclusive_and_round1_must_end_first() -> None:
    r1 = ref("r1", T, 1)
    assert pair_rounds([r1, ref("r2", T + WINDOW, 2)]) == {"r2": "r1"}
    assert pair_rounds([r1, ref("r2", T + WINDOW + timedelta(seconds=1), 2)]) == {}
    assert pair_rounds([r1, ref("r2", T, 2)]) == {}  # same second: not earlier
    assert pair_rounds([ref("r2", T, 2), ref("r1", T + timedelta(minutes=5), 1)]) == {}


def test_two_round1s_the_latest_wins_and_the_other_waits_for_the_next_round2() -> None:
    a1 = ref("a1", T, 1)
    b1 = ref("b1", T + timedelta(minutes=10), 1)
    x2 = ref("x2", T + timedelta(minutes=20), 2)
    assert pair_rounds([a1, b1, x2]) == {"x2": "b1"}
    y2 = ref("y2", T + timedelta(minutes=30), 2)
    assert pair_rounds([a1, b1, x2, y2]) == {"x2": "b1", "y2": "a1"}
    # a1 is 46 minutes before this round 2: too old, so it stays an orphan.
    late = ref("z2", T + timedelta(minutes=46), 2)
    assert pair_rounds([a1, b1, x2, late]) == {"x2": "b1"}


def test_round1s_ending_in_the_same_second_are_ordered_by_file_name() -> None:
    first = RoundRef("first", T, "a-round-1.txt", 1)
    second = RoundRef("second", T, "b-round-1.txt", 1)
    r2 = ref("r2", T + timedelta(minutes=10), 2)
    assert pair_rounds([second, first, r2]) == {"r2": "second"}
    assert pair_rounds([first, second, r2]) == {"r2": "second"}


def test_a_round1_pairs_once_and_round2s_never_pair_with_each_other() -> None:
    r1 = ref("r1", T, 1)
    x2 = ref("x2", T + timedelta(minutes=10), 2)
    y2 = ref("y2", T + timedelta(minutes=20), 2)
    assert pair_rounds([r1, x2, y2]) == {"x2": "r1"}


rounds_strategy = st.lists(
    st.tuples(st.integers(min_value=0, max_value=240), st.sampled_from([1, 2])),
    max_size=14,
).map(
    lambda items: [
        RoundRef(i, T + timedelta(minutes=m), f"{m:03d}-{i:02d}-round-{n}.txt", n)
        for i, (m, n) in enumerate(items)
    ]
)


def _key(r: RoundRef) -> tuple[datetime, str]:
    return (r.ended_at, r.file_name)


@settings(max_examples=300, deadline=None)
@given(rounds=rounds_strategy, data=st.data())
def test_pairing_follows_the_rule_whatever_the_order(
    rounds: list[RoundRef], data: st.DataObject
) -> None:
    pairs = pair_rounds(rounds)
    assert pair_rounds(data.draw(st.permutations(rounds))) == pairs

    by_id = {r.id: r for r in rounds}
    # Each pair: a round 2 with one round 1 that ended at most 45 minutes earlier.
    assert len(set(pairs.values())) == len(pairs)
    for r2_id, r1_id in pairs.items():
        r2, r1 = by_id[r2_id], by_id[r1_id]
        assert (r2.round_no, r1.round_no) == (2, 1)
        assert r1.ended_at < r2.ended_at <= r1.ended_at + WINDOW
    # "The latest earlier round 1 not already paired": every round 1 a round 2 passed
    # over (later than its partner, or any, for an orphan) went to an earlier round 2.
    partner_of = {r1_id: by_id[r2_id] for r2_id, r1_id in pairs.items()}
    for r2 in (r for r in rounds if r.round_no == 2):
        mine = by_id[pairs[r2.id]] if r2.id in pairs else None
        for r1 in rounds:
            in_window = r1.round_no == 1 and r1.ended_at < r2.ended_at <= r1.ended_at + WINDOW
            if not in_window or r1 is mine or (mine is not None and _key(r1) < _key(mine)):
                continue
            taker = partner_of.get(r1.id)
            assert taker is not None, (r2, r1)
            assert _key(taker) < _key(r2), (r2, r1)


# ----------------------------------------------------------------- cluster and re-pairing


def cluster_round(
    rid: int, minute: int, round_no: int, round1_id: int | None = None
) -> ClusterRound:
    return ClusterRound(
        id=rid,
        ended_at=T + timedelta(minutes=minute),
        file_name=f"{minute:03d}-round-{round_no}.txt",
        round_no=round_no,
        round1_id=round1_id,
        winner=1,
        defender=2,
        round_time_s=600,
    )


def test_the_cluster_follows_chains_of_rounds_up_to_45_minutes_apart() -> None:
    stored = [cluster_round(i, m, 1) for i, m in enumerate([0, 40, 80, 120, 170, 200])]
    windows: list[tuple[datetime, datetime]] = []

    def fetch(lo: datetime, hi: datetime) -> list[ClusterRound]:
        windows.append((lo, hi))
        return [r for r in stored if lo <= r.ended_at <= hi]

    cluster = cluster_around(T + timedelta(minutes=80), fetch)
    # 0-40-80-120 are chained by gaps of 40 minutes; 170 is 50 minutes after 120.
    assert [r.id for r in cluster] == [0, 1, 2, 3]
    assert len(windows) > 1  # the window grew from the new round to the chain's ends
    alone = cluster_around(T + timedelta(minutes=300), fetch)
    assert alone == []


def test_a_new_round2_is_always_written() -> None:
    r1 = cluster_round(1, 0, 1)
    r2 = cluster_round(2, 20, 2)
    assert plan_repair([r1, r2], new_ids={2}) == [Repair(r2, r1)]
    orphan = cluster_round(3, 200, 2)
    assert plan_repair([orphan], new_ids={3}) == [Repair(orphan, None)]


def test_unchanged_pairs_are_left_alone() -> None:
    r1 = cluster_round(1, 0, 1)
    r2 = cluster_round(2, 20, 2, round1_id=1)
    new_r1 = cluster_round(3, 40, 1)  # after the round 2: cannot be its round 1
    assert plan_repair([r1, r2, new_r1], new_ids={3}) == []


def test_a_late_round1_adopts_an_orphan() -> None:
    orphan = cluster_round(2, 20, 2, round1_id=None)  # arrived first
    r1 = cluster_round(5, 0, 1)
    assert plan_repair([r1, orphan], new_ids={5}) == [Repair(orphan, r1)]


def test_a_later_round1_takes_over_and_the_old_pair_is_rewritten() -> None:
    a1 = cluster_round(1, 0, 1)
    x2 = cluster_round(2, 30, 2, round1_id=1)
    b1 = cluster_round(3, 10, 1)  # arrives late, is the latest round 1 before x2
    assert plan_repair([a1, b1, x2], new_ids={3}) == [Repair(x2, b1)]


def test_map_outcome_follows_the_stopwatch_rules() -> None:
    # Round 2 attackers (not the defender) won: they beat the time.
    assert map_outcome_from(r1_winner=1, r1_defender=2, r2_winner=2, r2_defender=1) == (
        "beat_time",
        2,
    )
    # Round 2 defence held a time set in round 1: round 1's attackers win (defending now).
    assert map_outcome_from(r1_winner=1, r1_defender=2, r2_winner=1, r2_defender=1) == ("held", 1)
    # Both defences held the full time: a draw, no winner.
    assert map_outcome_from(r1_winner=2, r1_defender=2, r2_winner=1, r2_defender=1) == (
        "draw",
        None,
    )

"""Pools lock and settle by themselves when the map's files are imported (the batch hook),
checked on every round 1 / round 2 pair of the corpus against the files themselves."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from peewee import Database

from conftest import corpus_files, first_pair
from etbot import betting
from etbot.betting import Rules
from etbot.ingest import Importer
from etbot.models import Announcement, BetAccount, BetPool, MapResult, Round
from etbot.statsfile import ParsedRound, ParseError, parse_round

GUILD = 77
RULES = Rules()


@dataclass(frozen=True)
class Pair:
    round1: Path
    round2: Path
    map: str
    ended1: datetime
    side_a: list[str]
    side_b: list[str]
    #: The side that won by the files: 1, 2, or 0 for a draw.
    winner: int


def parse(path: Path) -> ParsedRound:
    return parse_round(path.read_bytes(), path.name)


def teams(parsed: ParsedRound) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {1: set(), 2: set()}
    for p in parsed.players:
        if not p.is_bot and p.team in (1, 2):
            out[p.team].add(p.guid.upper())
    return out


def expected_winner(r1: ParsedRound, r2: ParsedRound, side_a: set[str], side_b: set[str]) -> int:
    """From the two files alone: the stopwatch rule on the headers, and which side's
    players are on the winning team in round 2 (by the round 2 player lines, so the
    colour swap between the rounds is checked, not assumed)."""
    if r2.winner == r2.defender and r1.winner == r1.defender:
        return 0  # both defences held: a draw
    winners = teams(r2)[r2.winner]
    share_a = len(side_a & winners) / len(side_a)
    share_b = len(side_b & winners) / len(side_b)
    assert share_a != share_b, "the corpus pair has mixed teams"
    return 1 if share_a > share_b else 2


def corpus_pairs() -> list[Pair]:
    """Round 1 files directly followed by their round 2 (same map, at most 45 minutes),
    with the round 1 teams as line-ups; every other pair has its sides swapped, so both
    colour mappings are exercised."""
    files = sorted(corpus_files())
    pairs: list[Pair] = []
    for a, b in itertools.pairwise(files):
        if not (a.name.endswith("-round-1.txt") and b.name.endswith("-round-2.txt")):
            continue
        try:
            r1, r2 = parse(a), parse(b)
        except ParseError:
            continue
        if r1.map != r2.map or not timedelta(0) < r2.ended_at - r1.ended_at <= timedelta(
            minutes=45
        ):
            continue
        t1 = teams(r1)
        if not t1[1] or not t1[2] or not any(teams(r2).values()):
            continue
        side_a, side_b = (t1[1], t1[2]) if len(pairs) % 2 == 0 else (t1[2], t1[1])
        pairs.append(
            Pair(
                a,
                b,
                r1.map,
                r1.ended_at,
                sorted(side_a),
                sorted(side_b),
                expected_winner(r1, r2, side_a, side_b),
            )
        )
    assert len(pairs) >= 5, "the corpus has too few round 1 / round 2 pairs"
    return pairs


def open_for(pair: Pair, **kwargs: object) -> int:
    return betting.open_pool(
        GUILD,
        1,
        pair.side_a,
        pair.side_b,
        map_name=pair.map,
        not_before=pair.ended1 - timedelta(minutes=1),
        **kwargs,  # type: ignore[arg-type]
    )


def test_every_corpus_pair_settles_its_pool_with_the_right_winner(db: Database) -> None:
    pairs = corpus_pairs()
    rng = random.Random(9)
    pools: dict[int, Pair] = {}
    bets: dict[int, list[tuple[int, int, int]]] = {}
    for i, pair in enumerate(pairs):
        pool = open_for(pair, title=f"pair {i}")
        pools[pool] = pair
        bets[pool] = []
        for member in range(1000 + 10 * i, 1000 + 10 * i + rng.randint(0, 4)):
            side, amount = rng.choice([1, 2]), rng.randint(1, 100)
            betting.place_bet(pool, GUILD, member, side, amount, f"bet:{pool}:{member}", RULES)
            bets[pool].append((member, side, amount))
    report = Importer().import_paths(corpus_files())  # bulk, not live
    assert report.imported > 0
    sides = {1: 0, 2: 0, 0: 0}
    for pool_id, pair in pools.items():
        pool = BetPool.get_by_id(pool_id)
        assert pool.state == "settled", pair.round1.name
        assert pool.winner == pair.winner, pair.round1.name
        sides[pair.winner] += 1
        round1 = Round.get_by_id(pool.round1_id)
        assert round1.file_name == pair.round1.name
        result = MapResult.get_by_id(pool.map_result_id)
        assert result.round2.file_name == pair.round2.name
        # Every member's balance is what the parimutuel rule gives (each member bet once).
        stakes = [betting.Stake(m, s, a, n) for n, (m, s, a) in enumerate(bets[pool_id])]
        paid = {p.member_id: p.amount for p in betting.parimutuel(stakes, pool.winner)}
        for member, _side, amount in bets[pool_id]:
            account = BetAccount.get(BetAccount.member_id == member)
            assert account.points == 100 - amount + paid.get(member, 0)
    assert sides[1] > 0, "side A should win some corpus maps"
    assert sides[2] > 0, "side B should win some corpus maps"
    # The result is announced even though the import was a bulk one: a result is news.
    posts = Announcement.select().where(Announcement.kind == "bet_result")
    assert sorted(int(a.key) for a in posts) == sorted(pools)
    assert {a.status for a in posts} == {"pending"}
    assert betting.audit().ok


@pytest.mark.parametrize("order", ["in order", "round 2 first"])
def test_round1_locks_and_round2_settles(db: Database, order: str) -> None:
    r1_path, r2_path = first_pair(corpus_files())
    [pair] = [p for p in corpus_pairs() if p.round1 == r1_path] or pytest.skip("no such pair")
    pool = open_for(pair)
    betting.place_bet(pool, GUILD, 5, 1, 40, "bet:a", RULES)
    betting.place_bet(pool, GUILD, 6, 2, 60, "bet:b", RULES)
    if order == "in order":
        Importer().import_paths([r1_path])
        locked = BetPool.get_by_id(pool)
        assert locked.state == "locked"
        assert locked.round1.file_name == r1_path.name
        with pytest.raises(betting.PoolClosed, match="locked"):
            betting.place_bet(pool, GUILD, 7, 1, 10, "bet:c", RULES)
        Importer().import_paths([r2_path])
    else:
        Importer().import_paths([r2_path])  # an orphan until its round 1 arrives
        assert BetPool.get_by_id(pool).state == "open"
        Importer().import_paths([r1_path])
    settled = BetPool.get_by_id(pool)
    assert settled.state == "settled"
    assert settled.winner == pair.winner
    assert betting.audit().ok


def test_history_and_other_line_ups_leave_a_pool_alone(db: Database) -> None:
    pair = max(corpus_pairs(), key=lambda p: min(len(p.side_a), len(p.side_b)))
    k = min(len(pair.side_a), len(pair.side_b)) // 2
    if k == 0:
        pytest.skip("no corpus pair with two players per side")
    # Opened after every round of the corpus: importing that history touches nothing.
    late = betting.open_pool(GUILD, 1, pair.side_a, pair.side_b, not_before=datetime(2100, 1, 1))
    # Half of each team on each side: no colour holds most of a side, so no match.
    mixed = betting.open_pool(
        GUILD,
        1,
        pair.side_a[:k] + pair.side_b[:k],
        pair.side_a[k : 2 * k] + pair.side_b[k : 2 * k],
        map_name=pair.map,
        not_before=pair.ended1 - timedelta(minutes=1),
    )
    # The right teams on another map never match.
    wrong_map = betting.open_pool(
        GUILD,
        1,
        pair.side_a,
        pair.side_b,
        map_name="no_such_map",
        not_before=pair.ended1 - timedelta(minutes=1),
    )
    Importer().import_paths([pair.round1, pair.round2])
    assert BetPool.get_by_id(mixed).state == "open"
    assert BetPool.get_by_id(wrong_map).state == "open"
    Importer().import_paths(corpus_files())
    assert BetPool.get_by_id(late).state == "open"
    # No bet posts (other features record their history silently: milestones).
    assert not Announcement.select().where(Announcement.kind == betting.RESULT_KIND).exists()


def test_a_pool_locked_by_hand_is_settled_by_its_map(db: Database) -> None:
    pair = corpus_pairs()[0]
    pool = open_for(pair)
    betting.place_bet(pool, GUILD, 5, 2, 50, "bet:a", RULES)
    betting.lock_pool(pool)
    Importer().import_paths([pair.round1, pair.round2])
    settled = BetPool.get_by_id(pool)
    assert settled.state == "settled"
    assert settled.winner == pair.winner
    assert settled.round1.file_name == pair.round1.name

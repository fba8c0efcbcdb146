"""Property / stress tests: many concurrent bets on one pool never lose or invent a point
(SQLite and PostgreSQL; a two-process variant on PostgreSQL).

Hundreds of bets run as asyncio tasks through ``Db.run`` worker threads, so their
transactions really overlap; some interactions arrive twice at once (double clicks), the
pool is locked while bets are in flight, the process "restarts" (new Db and database
objects over the same database) and a retried interaction after the restart is still
counted once; then the pool is settled. Checked against an independent bookkeeping of
what each attempt was told: the audit holds, no balance is negative, no bet that started
after the lock finished was accepted, every member backed one side only, and every
balance is exactly 100 − accepted stakes + the parimutuel payout recomputed here.
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
from peewee import Database, PostgresqlDatabase

from conftest import PG_URL, REPO
from etbot import betting
from etbot.betting import Rules, Stake
from etbot.db import Db, connect
from etbot.models import BetAccount, BetLedger, BetPool, BetStake, database_proxy
from test_betting import expected_payouts

GUILD = 4242
RULES = Rules(start_points=100, topup_points=10)
MEMBERS = 60
BETS = 400
WORKERS = 8


@dataclass
class Attempt:
    member: int
    side: int
    amount: int
    key: str
    started: float
    outcome: str = ""


def url_of(db: Database) -> str:
    return str(PG_URL) if isinstance(db, PostgresqlDatabase) else f"sqlite:///{db.database}"


def reopen(url: str) -> Database:
    """A new database object (a new process would make one) bound to the models."""
    database = connect(url)
    database_proxy.initialize(database)
    database.connect(reuse_if_open=True)
    return database


async def attempt(dbx: Db, pool: int, a: Attempt) -> Attempt:
    a.started = time.monotonic()
    try:
        receipt = await dbx.run(
            betting.place_bet, pool, GUILD, a.member, a.side, a.amount, a.key, RULES
        )
        a.outcome = "duplicate" if receipt.duplicate else "accepted"
    except betting.BettingError as exc:
        a.outcome = type(exc).__name__
    return a


def check_books(pool: int, attempts: list[Attempt]) -> None:
    """Everything the database says against what the attempts were told."""
    report = betting.audit()
    assert report.problems == ()
    assert all(points >= 0 for points in report.balances.values())
    accepted = [a for a in attempts if a.outcome == "accepted"]
    by_key: dict[str, int] = defaultdict(int)
    for a in accepted:
        by_key[a.key] += 1
    assert max(by_key.values()) == 1, "an interaction bet twice"
    assert BetPool.get_by_id(pool).bets == len(accepted)
    # A duplicate is only ever reported for a key that was accepted once.
    assert {a.key for a in attempts if a.outcome == "duplicate"} <= set(by_key)
    sides: dict[int, set[int]] = defaultdict(set)
    staked: dict[int, int] = defaultdict(int)
    for a in accepted:
        sides[a.member].add(a.side)
        staked[a.member] += a.amount
    assert all(len(s) == 1 for s in sides.values()), "a member backed both sides"
    stakes = {
        m: (s, amt)
        for m, s, amt in BetStake.select(BetStake.member_id, BetStake.side, BetStake.amount)
        .where(BetStake.pool == pool)
        .tuples()
    }
    assert stakes == {m: (next(iter(sides[m])), staked[m]) for m in staked}
    assert BetLedger.select().where(BetLedger.kind == "stake").count() == len(accepted)


def check_payouts(pool: int, attempts: list[Attempt], winner: int) -> None:
    """Balances = start − accepted stakes + the parimutuel payout, recomputed here."""
    accepted = [a for a in attempts if a.outcome == "accepted"]
    staked: dict[int, int] = defaultdict(int)
    side: dict[int, int] = {}
    first: dict[int, int] = {}
    for a in sorted(accepted, key=lambda a: a.key):  # order only matters for first bets
        staked[a.member] += a.amount
        side[a.member] = a.side
    # The remainder's tie-break is the first bet in the pool: the stake row's id.
    for member, stake_id in (
        BetStake.select(BetStake.member_id, BetStake.id).where(BetStake.pool == pool).tuples()
    ):
        first[member] = stake_id
    stakes = [Stake(m, side[m], staked[m], first[m]) for m in staked]
    paid = expected_payouts(stakes, winner)
    balances = dict(
        BetAccount.select(BetAccount.member_id, BetAccount.points)
        .where(BetAccount.guild_id == GUILD)
        .tuples()
    )
    for member, points in balances.items():
        assert points == 100 - staked.get(member, 0) + paid.get(member, 0), member
    assert sum(balances.values()) == 100 * len(balances)


async def test_concurrent_bets_lock_restart_settle(db: Database) -> None:
    url = url_of(db)
    rng = random.Random(20251031)
    pool = betting.open_pool(
        GUILD, 1, ["AAAA0001", "AAAA0002"], ["BBBB0001", "BBBB0002"], not_before=betting.utcnow()
    )
    dbx = Db(db, workers=WORKERS)
    attempts: list[Attempt] = []

    def new_attempt(n: int) -> Attempt:
        member = 7000 + rng.randrange(MEMBERS)
        side = 1 + member % 2 if rng.random() < 0.85 else 2 - member % 2  # mostly sticky
        return Attempt(member, side, rng.randint(1, 45), f"bet:{n}", 0.0)

    # Phase 1: bets in flight, double clicks among them, and a lock in the middle.
    tasks: list[asyncio.Task[Attempt]] = []
    lock_done: list[float] = []
    accepted_so_far = 0
    enough = asyncio.Event()
    # A stream of clicks, not one burst: a few per worker thread in flight, so bets keep
    # coming while (and after) the pool is locked.
    in_flight = asyncio.Semaphore(2 * WORKERS)

    async def one(a: Attempt) -> Attempt:
        nonlocal accepted_so_far
        try:
            done = await attempt(dbx, pool, a)
        finally:
            in_flight.release()
        if done.outcome == "accepted":
            accepted_so_far += 1
            if accepted_so_far >= BETS // 3:
                enough.set()
        return done

    async def lock_later() -> None:
        await enough.wait()
        assert await dbx.run(betting.lock_pool, pool)
        lock_done.append(time.monotonic())

    locker = asyncio.create_task(lock_later())
    n = after_lock = 0
    # BETS clicks, and more until a few have started after the lock: eight threads betting
    # can keep the locking one waiting on SQLite's busy handler past the last planned
    # click (then nothing would test it). A minute at most.
    deadline = time.monotonic() + 60
    while (n < BETS or after_lock < 5) and time.monotonic() < deadline:
        a = new_attempt(n)
        n += 1
        await in_flight.acquire()
        after_lock += bool(lock_done)
        tasks.append(asyncio.create_task(one(a)))
        if rng.random() < 0.15:  # the same interaction twice, at once
            await in_flight.acquire()
            tasks.append(asyncio.create_task(one(Attempt(a.member, a.side, a.amount, a.key, 0))))
    attempts += await asyncio.gather(*tasks)
    await locker
    [locked_at] = lock_done
    outcomes = {a.outcome for a in attempts}
    assert {"accepted", "duplicate", "PoolClosed", "NotEnoughPoints", "OtherSide"} <= outcomes
    late = [a for a in attempts if a.started > locked_at]
    assert late, "no bet started after the lock: the test did not test it"
    assert {a.outcome for a in late} <= {"PoolClosed", "duplicate"}
    check_books(pool, attempts)

    # Restart: new Db and database objects; retried interactions are still counted once.
    await asyncio.to_thread(dbx.close)
    database = reopen(url)
    dbx = Db(database, workers=WORKERS)
    accepted = [a for a in attempts if a.outcome == "accepted"]
    retries = [Attempt(a.member, a.side, a.amount, a.key, 0.0) for a in accepted[:20]]
    retries += [new_attempt(n + k) for k in range(20)]
    retried = await asyncio.gather(*(attempt(dbx, pool, a) for a in retries))
    assert [a.outcome for a in retried[:20]] == ["duplicate"] * 20
    assert {a.outcome for a in retried[20:]} == {"PoolClosed"}
    attempts += retried
    check_books(pool, attempts)

    # Settle while more (refused) bets arrive; one of two concurrent settles wins.
    winner = rng.choice([1, 2])
    more = [attempt(dbx, pool, new_attempt(n + 20 + k)) for k in range(20)]
    settles = [
        dbx.run(betting.settle_pool, pool, winner),
        dbx.run(betting.settle_pool, pool, 3 - winner),
    ]
    results = await asyncio.gather(*settles, *more, return_exceptions=True)
    settled = [r for r in results[:2] if isinstance(r, betting.Settlement)]
    assert len(settled) == 1
    assert isinstance(next(r for r in results[:2] if r not in settled), betting.PoolClosed)
    attempts += [r for r in results[2:] if isinstance(r, Attempt)]
    assert {a.outcome for a in attempts[-20:]} == {"PoolClosed"}
    check_books(pool, attempts)
    check_payouts(pool, attempts, settled[0].winner or 0)
    await asyncio.to_thread(dbx.close)


def test_two_processes_bet_on_one_pool(db: Database, tmp_path: Path) -> None:
    """Two OS processes bet on one pool (shared interaction ids among their bets) while this
    process locks it, then settles: the same books hold across processes."""
    if not isinstance(db, PostgresqlDatabase):
        pytest.skip("several bot processes on one database: the PostgreSQL deployment")
    pool = betting.open_pool(GUILD, 1, ["AAAA0001"], ["BBBB0001"], not_before=betting.utcnow())
    worker = REPO / "tests" / "betting_worker.py"
    outs = [tmp_path / f"worker{i}.json" for i in (1, 2)]
    procs = [
        subprocess.Popen(  # noqa: S603 our own script with our own arguments
            [
                sys.executable,
                str(worker),
                url_of(db),
                str(pool),
                str(GUILD),
                str(i),
                "300",
                str(out),
            ],
            cwd=REPO,
        )
        for i, out in zip((1, 2), outs, strict=True)
    ]
    try:
        while BetPool.get_by_id(pool).bets < 150:
            assert all(p.poll() is None for p in procs), "a worker ended before the lock"
            time.sleep(0.01)
        assert betting.lock_pool(pool)
        locked_at = time.time()
    finally:
        codes = [p.wait(timeout=300) for p in procs]
    assert codes == [0, 0]
    attempts = [Attempt(**a) for out in outs for a in json.loads(out.read_text())]
    late = [a for a in attempts if a.started > locked_at]
    assert late, "no bet started after the lock"
    assert {a.outcome for a in late} <= {"PoolClosed", "duplicate"}
    # Interactions both processes received: each was accepted at most once in all.
    shared = [a for a in attempts if a.key.startswith("bet:shared-")]
    assert {a.outcome for a in shared} >= {"accepted", "duplicate"}
    check_books(pool, attempts)
    winner = betting.settle_pool(pool, 2).winner
    check_books(pool, attempts)
    check_payouts(pool, attempts, winner or 0)

"""Betting rules over the database (SQLite and PostgreSQL): balances, bets, locks,
parimutuel settlement, top-ups, the audit, and the database constraints behind them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from peewee import Database, IntegrityError

from etbot import betting
from etbot.betting import Rules, Stake
from etbot.models import (
    Announcement,
    BetAccount,
    BetLedger,
    BetPool,
    BetStake,
    Player,
    database_proxy,
)

GUILD = 111
OTHER_GUILD = 222
RULES = Rules(start_points=100, topup_points=10)
TEAM_A = ["AAAA0001", "AAAA0002", "AAAA0003"]
TEAM_B = ["BBBB0001", "BBBB0002", "BBBB0003"]
T0 = datetime(2030, 1, 1, 20, 0)
KEYS = iter(range(10**6))


def key() -> str:
    return f"bet:test-{next(KEYS)}"


def open_pool(**kwargs: Any) -> int:
    kwargs.setdefault("not_before", T0)
    return betting.open_pool(GUILD, 1, TEAM_A, TEAM_B, **kwargs)


def bet(pool: int, member: int, side: int, amount: int, **kwargs: Any) -> betting.BetReceipt:
    return betting.place_bet(pool, GUILD, member, side, amount, kwargs.pop("k", key()), RULES)


def points(member: int, guild: int = GUILD) -> int:
    return int(
        BetAccount.get((BetAccount.guild_id == guild) & (BetAccount.member_id == member)).points
    )


def snapshot() -> tuple[Any, ...]:
    """Everything a refused action must leave unchanged."""
    return (
        sorted(BetAccount.select(BetAccount.member_id, BetAccount.points).tuples()),
        sorted(BetStake.select(BetStake.member_id, BetStake.side, BetStake.amount).tuples()),
        BetLedger.select().count(),
        sorted(BetPool.select(BetPool.id, BetPool.state, BetPool.bets).tuples()),
    )


def assert_audit_ok() -> None:
    report = betting.audit()
    assert report.problems == ()


# --------------------------------------------------------------------------- parimutuel (pure)


def expected_payouts(stakes: list[Stake], winner: int | None) -> dict[int, int]:
    """The rule recomputed with exact fractions, independently of the implementation."""
    winners = [s for s in stakes if s.side == winner]
    if not winners:
        return {s.member_id: s.amount for s in stakes}
    pot = sum(s.amount for s in stakes)
    backed = sum(s.amount for s in winners)
    exact = {s.member_id: Fraction(pot * s.amount, backed) for s in winners}
    out = {m: int(v) for m, v in exact.items()}  # floor (all positive)
    largest = max(s.amount for s in winners)
    first_largest = min((s for s in winners if s.amount == largest), key=lambda s: s.order)
    out[first_largest.member_id] += pot - sum(out.values())
    return out


stake_lists = st.lists(
    st.tuples(st.sampled_from([1, 2]), st.integers(1, 10_000)), min_size=0, max_size=40
).map(lambda xs: [Stake(member_id=i + 1, side=s, amount=a, order=i) for i, (s, a) in enumerate(xs)])


@given(stakes=stake_lists, winner=st.sampled_from([0, 1, 2, None]))
def test_parimutuel_follows_the_rule_and_never_creates_points(
    stakes: list[Stake], winner: int | None
) -> None:
    payouts = betting.parimutuel(stakes, winner)
    pot = sum(s.amount for s in stakes)
    assert sum(p.amount for p in payouts) == pot
    assert {p.member_id: p.amount for p in payouts} == expected_payouts(stakes, winner)
    for p in payouts:
        assert p.amount >= p.stake  # nobody on the winning side loses points
    refunds = winner not in (1, 2) or not any(s.side == winner for s in stakes)
    assert all(p.kind == ("refund" if refunds else "payout") for p in payouts)


def test_parimutuel_remainder_goes_to_the_largest_stake_then_the_first() -> None:
    # Pot 10, winners 3 + 3 + 1 = 7: shares 30/7 = 4.28, 4.28, 10/7 = 1.42 -> 4, 4, 1
    # and 1 point left over: to a stake of 3, the one whose first bet came first.
    stakes = [
        Stake(member_id=7, side=1, amount=3, order=5),
        Stake(member_id=8, side=1, amount=3, order=2),
        Stake(member_id=9, side=1, amount=1, order=0),
        Stake(member_id=10, side=2, amount=3, order=1),
    ]
    got = {p.member_id: p.amount for p in betting.parimutuel(stakes, 1)}
    assert got == {7: 4, 8: 5, 9: 1}


# --------------------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "at least 1"),
        ("-5", "negative"),
        ("abc", "not a whole number"),
        ("1.5", "not a whole number"),
        ("", "how many points"),
        ("٣", "not a whole number"),  # a non-ASCII digit
        ("9" * 20, "more points than anyone"),
        ("101", "only 100 points"),
    ],
)
def test_bad_amounts_are_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(betting.BettingError, match=message):
        betting.parse_amount(text, balance=100)


def test_amounts_may_use_thousands_separators() -> None:
    assert betting.parse_amount(" 1,000 ", balance=5000) == 1000
    assert betting.parse_amount("100", balance=100) == 100


# --------------------------------------------------------------------------- balances and bets


def test_first_use_grants_the_starting_points_once(db: Database) -> None:
    assert betting.balance(GUILD, 5, RULES) == betting.Balance(5, 100, 0, False)
    assert betting.ensure_account(GUILD, 5, RULES) == 100
    assert betting.ensure_account(GUILD, 5, RULES) == 100
    assert betting.ensure_account(OTHER_GUILD, 5, RULES) == 100  # per server
    grants = BetLedger.select().where(BetLedger.kind == "grant")
    assert sorted((r.guild_id, r.member_id, r.amount) for r in grants) == [
        (GUILD, 5, 100),
        (OTHER_GUILD, 5, 100),
    ]
    assert_audit_ok()


def test_a_bet_moves_points_into_the_pool(db: Database) -> None:
    pool = open_pool(title="Final")
    receipt = bet(pool, 5, 1, 30)
    assert (receipt.stake, receipt.balance, receipt.duplicate) == (30, 70, False)
    receipt = bet(pool, 5, 1, 20)  # adding to the same side
    assert (receipt.stake, receipt.balance) == (50, 50)
    bet(pool, 6, 2, 10)
    view = betting.pool_view(pool, GUILD)
    assert (view.side(1).pot, view.side(1).bettors) == (50, 1)
    assert (view.side(2).pot, view.side(2).bettors) == (10, 1)
    assert view.pot == 60
    assert view.multiplier(2) == 6.0
    assert [p.guid for p in view.side(1).players] == TEAM_A
    stakes = BetLedger.select().where(BetLedger.kind == "stake").order_by(BetLedger.id)
    assert [(r.member_id, r.amount, r.side) for r in stakes] == [
        (5, -30, 1),
        (5, -20, 1),
        (6, -10, 2),
    ]
    assert_audit_ok()


def test_refused_bets_change_nothing(db: Database) -> None:
    pool = open_pool()
    bet(pool, 5, 1, 30)
    before = snapshot()
    with pytest.raises(betting.NotEnoughPoints, match="only 70 points"):
        bet(pool, 5, 1, 71)
    with pytest.raises(betting.OtherSide, match="Team A"):
        bet(pool, 5, 2, 1)
    with pytest.raises(betting.BadAmount):
        bet(pool, 5, 1, 0)
    with pytest.raises(betting.BadAmount):
        bet(pool, 5, 1, -3)
    with pytest.raises(betting.BettingError, match="no side"):
        bet(pool, 5, 3, 1)
    with pytest.raises(betting.NoSuchPool):
        betting.place_bet(pool, OTHER_GUILD, 5, 1, 1, key(), RULES)  # another server's pool
    with pytest.raises(betting.NoSuchPool):
        bet(pool + 100, 5, 1, 1)
    assert snapshot() == before


def test_one_interaction_bets_once(db: Database) -> None:
    pool = open_pool()
    first = bet(pool, 5, 1, 30, k="bet:interaction-1")
    again = bet(pool, 5, 1, 30, k="bet:interaction-1")
    assert again.duplicate
    assert (again.amount, again.stake, again.balance) == (30, 30, 70)
    assert not first.duplicate
    assert points(5) == 70
    assert BetLedger.select().where(BetLedger.kind == "stake").count() == 1
    assert BetPool.get_by_id(pool).bets == 1
    # The same key from another member (a forged id) is refused, not shown as their bet.
    with pytest.raises(betting.BettingError, match="already used"):
        betting.place_bet(pool, GUILD, 6, 1, 30, "bet:interaction-1", RULES)
    assert BetAccount.get_or_none(BetAccount.member_id == 6) is None


def test_no_bets_after_the_lock_or_its_time(db: Database) -> None:
    pool = open_pool()
    timed = open_pool(lock_in=timedelta(minutes=5))
    bet(pool, 5, 1, 10)
    assert betting.lock_pool(pool, guild_id=GUILD)
    assert not betting.lock_pool(pool, guild_id=GUILD)  # already locked
    before = snapshot()
    with pytest.raises(betting.PoolClosed, match="locked"):
        bet(pool, 6, 1, 10)
    # The lock time is a database condition: no bet after it, even before a loop locks it.
    later = betting.utcnow() + timedelta(minutes=6)
    with pytest.raises(betting.PoolClosed, match="lock time passed"):
        betting.place_bet(timed, GUILD, 6, 1, 10, key(), RULES, now=later)
    assert snapshot() == before
    assert betting.lock_due(later) == [timed]
    assert BetPool.get_by_id(timed).state == "locked"
    assert betting.next_lock_at() is None


def test_players_may_not_bet_against_their_own_team(db: Database) -> None:
    Player.create(
        guid=TEAM_A[0], name="alpha", raw_name="alpha", first_seen=T0, last_seen=T0, discord_id=5
    )
    pool = open_pool()
    betting.ensure_account(GUILD, 5, RULES)
    before = snapshot()
    with pytest.raises(betting.OwnTeam, match="Team A"):
        bet(pool, 5, 2, 10)
    with pytest.raises(betting.OwnTeam):
        betting.prepare_bet(pool, GUILD, 5, 2, RULES)
    assert snapshot() == before
    assert bet(pool, 5, 1, 10).stake == 10  # their own side is fine
    betting.set_own_team_only(GUILD, False)
    other = open_pool()
    assert bet(other, 5, 2, 10).stake == 10
    assert betting.guild_settings(GUILD).own_team_only is False
    assert betting.guild_settings(OTHER_GUILD).own_team_only is True


def test_prepare_bet_shows_the_balance_or_the_problem(db: Database) -> None:
    pool = open_pool()
    assert betting.prepare_bet(pool, GUILD, 5, 1, RULES) == 100
    bet(pool, 5, 1, 100)
    with pytest.raises(betting.NotEnoughPoints, match="top-up"):
        betting.prepare_bet(pool, GUILD, 5, 1, RULES)
    with pytest.raises(betting.OtherSide):
        betting.prepare_bet(pool, GUILD, 5, 2, RULES)
    betting.lock_pool(pool)
    with pytest.raises(betting.PoolClosed):
        betting.prepare_bet(pool, GUILD, 6, 1, RULES)


# --------------------------------------------------------------------------- settle and cancel


def test_settle_pays_the_winners_in_proportion(db: Database) -> None:
    pool = open_pool()
    bet(pool, 5, 1, 30)
    bet(pool, 6, 1, 10)
    bet(pool, 7, 2, 25)
    betting.lock_pool(pool)
    result = betting.settle_pool(pool, 1, guild_id=GUILD)
    # Pot 65, winners 30 + 10: 65*30/40 = 48.75 -> 48 (+1 remainder), 65*10/40 = 16.25 -> 16
    assert {p.member_id: p.amount for p in result.payouts} == {5: 49, 6: 16}
    assert (points(5), points(6), points(7)) == (119, 106, 75)
    assert BetPool.get_by_id(pool).state == "settled"
    assert Announcement.get(Announcement.kind == "bet_result").key == str(pool)
    before = snapshot()
    with pytest.raises(betting.PoolClosed, match="settled"):
        betting.settle_pool(pool, 2, guild_id=GUILD)  # never twice
    with pytest.raises(betting.PoolClosed):
        betting.cancel_pool(pool, guild_id=GUILD)
    with pytest.raises(betting.PoolClosed, match="settled"):
        bet(pool, 8, 1, 5)
    assert snapshot() == before
    view = betting.result_view(pool)
    assert view is not None
    assert view.losers == ((7, 25),)
    assert [r.net for r in betting.best_returns(GUILD)] == [19, 6, -25]
    assert [r.member_id for r in betting.richest(GUILD)] == [5, 6, 7]
    assert_audit_ok()


@pytest.mark.parametrize("how", ["draw", "nobody backed the winner", "cancel"])
def test_everyone_is_refunded(db: Database, how: str) -> None:
    pool = open_pool()
    bet(pool, 5, 1, 30)
    bet(pool, 6, 1, 10)
    if how == "draw":
        result = betting.settle_pool(pool, 0)
    elif how == "nobody backed the winner":
        result = betting.settle_pool(pool, 2)
    else:
        result = betting.cancel_pool(pool, guild_id=GUILD)
    assert result.refunded
    assert (points(5), points(6)) == (100, 100)
    kinds = {r.kind for r in BetLedger.select().where(BetLedger.pool == pool)}
    assert kinds == {"stake", "refund"}
    assert_audit_ok()


def test_an_empty_pool_settles_to_nothing(db: Database) -> None:
    pool = open_pool()
    result = betting.settle_pool(pool, 1)
    assert result.payouts == ()
    assert result.pot == 0


# --------------------------------------------------------------------------- top-up


def test_daily_topup_only_at_zero_and_once_a_day(db: Database) -> None:
    pool = open_pool()
    day = date(2030, 1, 1)
    with pytest.raises(betting.TopupRefused, match="only for members at 0"):
        betting.claim_topup(GUILD, 5, day, RULES)
    bet(pool, 5, 2, 100)  # all in, on the side that loses
    bet(pool, 6, 1, 1)
    betting.settle_pool(pool, 1)
    assert points(5) == 0
    assert betting.claim_topup(GUILD, 5, day, RULES) == 10
    before = snapshot()
    pool3 = open_pool()
    bet(pool3, 5, 1, 10)
    with pytest.raises(betting.TopupRefused, match="already claimed"):
        betting.claim_topup(GUILD, 5, day, RULES)
    assert snapshot()[2] == before[2] + 1  # only the bet's ledger row was added
    assert betting.claim_topup(GUILD, 5, day + timedelta(days=1), RULES) == 10
    with pytest.raises(betting.TopupRefused, match="switched off"):
        betting.claim_topup(GUILD, 5, day + timedelta(days=2), Rules(topup_points=0))
    assert_audit_ok()


# --------------------------------------------------------------------------- database rules


def test_the_database_itself_refuses_broken_rows(db: Database) -> None:
    """The rules hold even for a buggy or foreign writer (CHECK constraints, unique keys)."""
    pool = open_pool()
    bet(pool, 5, 1, 10)

    def refused(fn: Any) -> None:
        with pytest.raises(IntegrityError), database_proxy.atomic():
            fn()

    refused(lambda: BetAccount.update(points=-1).where(BetAccount.member_id == 5).execute())
    refused(lambda: BetStake.update(amount=0).execute())
    refused(lambda: BetStake.update(side=3).execute())
    refused(lambda: BetPool.update(state="paid").execute())
    refused(
        lambda: BetLedger.insert(
            guild_id=GUILD, member_id=5, kind="stake", amount=5, key="x", created_at=T0
        ).execute()
    )
    refused(
        lambda: BetLedger.insert(
            guild_id=GUILD,
            member_id=5,
            kind="grant",
            amount=5,
            key=f"grant:{GUILD}:5",
            created_at=T0,
        ).execute()
    )
    refused(
        lambda: BetStake.insert(
            pool=pool, member_id=5, side=2, amount=1, first_at=T0, last_at=T0
        ).execute()
    )
    assert_audit_ok()


def test_audit_finds_points_created_or_lost(db: Database) -> None:
    pool = open_pool()
    bet(pool, 5, 1, 10)
    bet(pool, 6, 2, 20)
    report = betting.audit()
    assert report.ok
    assert report.balances == {f"{GUILD}:5": 90, f"{GUILD}:6": 80}
    assert report.open_stakes == 30
    [row] = report.guilds
    assert (row.created, row.balances, row.open_stakes) == (200, 170, 30)
    BetAccount.update(points=BetAccount.points + 7).where(BetAccount.member_id == 6).execute()
    report = betting.audit()
    assert not report.ok
    assert any("ledger adds up to 80" in p for p in report.problems)
    assert any("difference -7" in p for p in report.problems)


def test_lineups_are_validated(db: Database) -> None:
    with pytest.raises(betting.UserError, match="no players"):
        betting.open_pool(GUILD, 1, [], TEAM_B, not_before=T0)
    with pytest.raises(betting.UserError, match="both sides"):
        betting.open_pool(GUILD, 1, TEAM_A, [TEAM_A[0]], not_before=T0)
    with pytest.raises(betting.UserError, match="Not a player GUID"):
        betting.open_pool(GUILD, 1, ["not a guid!"], TEAM_B, not_before=T0)
    with pytest.raises(betting.BettingError, match="title"):
        betting.open_pool(GUILD, 1, TEAM_A, TEAM_B, not_before=T0, title="x" * 101)
    with pytest.raises(betting.BettingError, match="lock time"):
        betting.open_pool(GUILD, 1, TEAM_A, TEAM_B, not_before=T0, lock_in=timedelta(days=8))
    assert BetPool.select().count() == 0

"""Betting pools: members bet points on the next map between two line-ups.

Plain Python over the database (no Discord). The rules:

* **Balances.** Every member has a points balance per Discord server, created with a
  starting grant (``BETTING_START_POINTS``) the first time they need one. A member at 0
  may claim a top-up (``BETTING_TOPUP_POINTS``) once per server-local day.
* **Pools.** A pool is for one upcoming map between two line-ups (GUID lists, side A
  and side B). States: ``open`` → ``locked`` → ``settled`` | ``cancelled``. A bet is
  accepted only while the pool is open (and its lock time has not passed), only up to the
  member's balance, and only once per interaction. A member may raise their stake on the
  side they backed, never bet on both sides. A per-server setting (on by default) bars
  the players of the line-ups (members linked to one of their GUIDs) from betting
  against their own side.
* **Parimutuel payout.** The winners share the whole pot in proportion to their stakes,
  in whole points: each gets ``floor(pot × stake / winning stakes)``, and the few points
  the rounding leaves go to the largest winning stake (on a tie: the member whose first
  bet in the pool came first, i.e. the lowest stake id). If nobody backed the winner, the
  map is a draw, or the pool is cancelled, every stake is refunded. A pool never creates
  or destroys a point.
* **Ledger.** Every balance change is a :class:`~etbot.models.BetLedger` row with a
  unique idempotency key (see there), so a retried interaction, a second settle or a
  second top-up on one day is refused by the database.

How the rules are enforced: each operation is ONE database transaction that checks its
rules with conditional UPDATEs (``points = points - s WHERE points >= s``,
``WHERE state = 'open' AND lock_at > now``), upserts (``ON CONFLICT … DO UPDATE … WHERE
side = excluded.side``), CHECK constraints and unique keys, never with in-process locks,
so the rules hold with several bot processes on one PostgreSQL database. On PostgreSQL
the default READ COMMITTED isolation is enough: every rule is the WHERE clause of the
UPDATE that changes the row it is about, which PostgreSQL re-checks after waiting for a
concurrent writer of that row; a bet and a lock both write the pool row first, so one
waits for the other. Rows are always locked in the same order (pool, then accounts by
member id) so concurrent settles and bets cannot deadlock. On SQLite a write transaction
starts with ``BEGIN IMMEDIATE`` (no read-to-write upgrade that SQLite cannot wait for)
and stays short.

Automatic lock and settle (:func:`follow_import`, a batch hook of the importer): a new
round 1 of the pool's map that ended after the pool was opened, whose teams hold most of
each side's players (GUID overlap), locks the pool and records which colour side A played;
the map result of that round 1 settles it. Stopwatch swaps the teams' colours in round 2
(the defending colour stays), so side A's colour in round 2 is round 2's defending colour
when side A attacked first, and the other colour otherwise; ``MapResult.winner_team`` is
in round 2 colours.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from peewee import EXCLUDED, JOIN, IntegrityError, fn

from etbot import announce
from etbot.db import as_datetime, is_postgres, retry_locked
from etbot.errors import NoData, Typed, UserError
from etbot.models import (
    BetAccount,
    BetLedger,
    BetLineup,
    BetPool,
    BetStake,
    GuildSetting,
    MapResult,
    Player,
    PlayerRound,
    Round,
    database_proxy,
)

if TYPE_CHECKING:
    from etbot.ingest.hooks import Batch

log = logging.getLogger(__name__)

T = TypeVar("T")

OPEN = "open"
LOCKED = "locked"
SETTLED = "settled"
CANCELLED = "cancelled"
#: States in which a pool still holds its stakes.
ACTIVE = (OPEN, LOCKED)

SIDE_A = 1
SIDE_B = 2
DRAW = 0
SIDES = (SIDE_A, SIDE_B)
SIDE_NAMES = {SIDE_A: "Team A", SIDE_B: "Team B"}

#: Largest single bet (keeps every sum far inside a 32-bit integer column).
MAX_AMOUNT = 1_000_000_000
#: Longest pool title.
MAX_TITLE = 100
#: Longest lock time of a pool.
MAX_LOCK_IN = timedelta(days=7)

#: The outbox kind of the post that announces a pool's result (key: the pool id).
RESULT_KIND = "bet_result"

#: GuildSetting names.
SETTING_ROLE = "betting.role"
SETTING_OWN_TEAM = "betting.own_team_only"


@dataclass(frozen=True)
class Rules:
    """The configurable amounts (``BETTING_START_POINTS``, ``BETTING_TOPUP_POINTS``)."""

    start_points: int = 100
    topup_points: int = 10


# --------------------------------------------------------------------------- errors


class BettingError(UserError):
    """A bet, a top-up or a pool action that the rules refuse (nothing was changed)."""


class NoSuchPool(BettingError):
    """No pool with that id in this server."""


class PoolClosed(BettingError):
    """The pool does not take bets (or this action) in its current state."""


class NotEnoughPoints(BettingError):
    """The bet is larger than the member's balance."""


class OtherSide(BettingError):
    """The member already backed the other side of this pool."""


class OwnTeam(BettingError):
    """A player of a line-up tried to bet against their own side."""


class BadAmount(BettingError):
    """The amount is not a whole number from 1 to the balance."""


class TopupRefused(BettingError):
    """No top-up now (not at 0, already claimed today, or switched off)."""


# --------------------------------------------------------------------------- helpers


def utcnow() -> datetime:
    """Naive UTC now, as the betting tables store times."""
    return datetime.now(UTC).replace(tzinfo=None)


def _transaction() -> object:
    """A write transaction: ``BEGIN IMMEDIATE`` on SQLite (take the write lock first, so a
    read never has to be upgraded), plain ``BEGIN`` (READ COMMITTED) on PostgreSQL. Nested
    in another transaction (an import's batch hook), it is a savepoint."""
    if is_postgres():
        return database_proxy.atomic()
    return database_proxy.atomic("IMMEDIATE")


def _write(body: Callable[[], T]) -> T:
    """Run ``body`` in one write transaction; at top level, again when SQLite is locked."""

    def attempt() -> T:
        with _transaction():  # type: ignore[attr-defined]
            return body()

    if database_proxy.transaction_depth() > 0:
        return attempt()  # the caller's transaction retries as a whole
    return retry_locked(attempt)


def side_name(side: int) -> str:
    return SIDE_NAMES.get(side, f"side {side}")


def check_side(side: int) -> int:
    if side not in SIDES:
        raise BettingError("There is no side {side}.", side=str(side))
    return side


def check_amount(amount: int) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise BadAmount("The amount must be a whole number of points.")
    if amount < 1:
        raise BadAmount("Bet at least 1 point.")
    if amount > MAX_AMOUNT:
        raise BadAmount("That is more points than anyone can have.")
    return amount


def parse_amount(text: str, balance: int | None = None) -> int:
    """The points a member typed: a whole number from 1 to ``balance`` (when known).

    Thousands separators (``1,000``, ``1 000``, ``1_000``) are accepted; anything else
    that is not a plain positive whole number is refused with a clear message.
    """
    cleaned = (text or "").strip()
    digits = cleaned.replace(",", "").replace("_", "").replace(" ", "").replace("\u202f", "")
    if not cleaned:
        raise BadAmount("Type how many points you want to bet.")
    if digits.startswith("-") and digits[1:].isdigit():
        raise BadAmount("Bet at least 1 point: {typed} is negative.", typed=Typed(cleaned))
    if not (digits.isascii() and digits.isdigit()):
        raise BadAmount("{typed} is not a whole number of points.", typed=Typed(cleaned))
    if len(digits) > 12:
        raise BadAmount("That is more points than anyone can have.")
    amount = check_amount(int(digits))
    if balance is not None and amount > balance:
        raise NotEnoughPoints(
            "You have only {balance} points; you cannot bet {amount}.",
            balance=balance,
            amount=amount,
        )
    return amount


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class GuildBetting:
    """A server's betting settings (changed by its admins)."""

    #: Members with this role may open, lock, settle and cancel pools (besides admins).
    role_id: int | None
    #: Players of a line-up may only bet on their own side.
    own_team_only: bool


def guild_settings(guild_id: int) -> GuildBetting:
    values = dict(
        GuildSetting.select(GuildSetting.name, GuildSetting.value)
        .where(
            (GuildSetting.guild_id == guild_id)
            & GuildSetting.name.in_([SETTING_ROLE, SETTING_OWN_TEAM])
        )
        .tuples()
    )
    role = values.get(SETTING_ROLE)
    return GuildBetting(
        role_id=int(role) if role and role.isdigit() else None,
        own_team_only=values.get(SETTING_OWN_TEAM, "on") != "off",
    )


def _set(guild_id: int, name: str, value: str | None) -> None:
    if value is None:
        GuildSetting.delete().where(
            (GuildSetting.guild_id == guild_id) & (GuildSetting.name == name)
        ).execute()
        return
    (
        GuildSetting.insert(guild_id=guild_id, name=name, value=value)
        .on_conflict(
            conflict_target=[GuildSetting.guild_id, GuildSetting.name],
            update={GuildSetting.value: value},
        )
        .execute()
    )


def set_manager_role(guild_id: int, role_id: int | None) -> None:
    """Let members with ``role_id`` manage pools (None: only admins)."""
    _set(guild_id, SETTING_ROLE, None if role_id is None else str(role_id))


def set_own_team_only(guild_id: int, enabled: bool) -> None:
    """Switch the "players may not bet against their own side" rule."""
    _set(guild_id, SETTING_OWN_TEAM, "on" if enabled else "off")


# --------------------------------------------------------------------------- balances


def _ensure_account(guild_id: int, member_id: int, start_points: int, now: datetime) -> None:
    """Create the member's account with the starting grant (and its ledger row) unless it
    exists. Inside the caller's transaction; safe when two processes do it at once."""
    created = list(
        BetAccount.insert(
            guild_id=guild_id, member_id=member_id, points=start_points, created_at=now
        )
        .on_conflict_ignore()
        .returning(BetAccount.id)
        .execute()
    )
    if created:
        BetLedger.insert(
            guild_id=guild_id,
            member_id=member_id,
            kind="grant",
            amount=start_points,
            key=f"grant:{guild_id}:{member_id}",
            created_at=now,
        ).execute()


def ensure_account(guild_id: int, member_id: int, rules: Rules, now: datetime | None = None) -> int:
    """The member's balance, creating the account with the starting grant if needed."""
    at = now or utcnow()

    def body() -> int:
        _ensure_account(guild_id, member_id, rules.start_points, at)
        return _points(guild_id, member_id)

    return _write(body)


def _points(guild_id: int, member_id: int) -> int:
    value = (
        BetAccount.select(BetAccount.points)
        .where((BetAccount.guild_id == guild_id) & (BetAccount.member_id == member_id))
        .scalar()
    )
    return int(value) if value is not None else 0


@dataclass(frozen=True)
class Balance:
    """A member's points now, what they have riding on open pools, and whether they have
    an account yet (without one, ``points`` is what they will start with)."""

    member_id: int
    points: int
    at_stake: int
    has_account: bool


def balance(guild_id: int, member_id: int, rules: Rules) -> Balance:
    """Read-only: the member's balance (the starting amount when they never bet)."""
    points = (
        BetAccount.select(BetAccount.points)
        .where((BetAccount.guild_id == guild_id) & (BetAccount.member_id == member_id))
        .scalar()
    )
    at_stake = (
        BetStake.select(fn.COALESCE(fn.SUM(BetStake.amount), 0))
        .join(BetPool, on=(BetStake.pool == BetPool.id))
        .where(
            (BetPool.guild_id == guild_id)
            & (BetStake.member_id == member_id)
            & BetPool.state.in_(ACTIVE)
        )
        .scalar()
    )
    if points is None:
        return Balance(member_id, rules.start_points, 0, False)
    return Balance(member_id, int(points), int(at_stake or 0), True)


def claim_topup(
    guild_id: int, member_id: int, day: date, rules: Rules, now: datetime | None = None
) -> int:
    """Give a member at 0 points the daily top-up; returns the new balance.

    ``day`` is the server-local calendar day; the ledger key ``topup:<guild>:<member>:<day>``
    makes it once per day. Raises :class:`TopupRefused` (nothing changes) when the member
    is not at 0, already claimed today, or top-ups are switched off (0 points).
    """
    if rules.topup_points <= 0:
        raise TopupRefused("Top-ups are switched off on this server.")
    at = now or utcnow()
    key = f"topup:{guild_id}:{member_id}:{day.isoformat()}"

    def body() -> int:
        _ensure_account(guild_id, member_id, rules.start_points, at)
        BetLedger.insert(
            guild_id=guild_id,
            member_id=member_id,
            kind="topup",
            amount=rules.topup_points,
            key=key,
            created_at=at,
        ).execute()
        rows = list(
            BetAccount.update(points=BetAccount.points + rules.topup_points)
            .where(
                (BetAccount.guild_id == guild_id)
                & (BetAccount.member_id == member_id)
                & (BetAccount.points == 0)
            )
            .returning(BetAccount.points)
            .tuples()
            .execute()
        )
        if not rows:
            raise TopupRefused(
                "The top-up is only for members at 0 points; you have {points}.",
                points=_points(guild_id, member_id),
            )
        return int(rows[0][0])

    try:
        return _write(body)
    except IntegrityError:
        if not BetLedger.select().where(BetLedger.key == key).exists():
            raise
        raise TopupRefused(
            "You already claimed today's top-up of {points} points; come back tomorrow.",
            points=rules.topup_points,
        ) from None


# --------------------------------------------------------------------------- pools


def lineups_from_last_round() -> tuple[list[str], list[str]]:
    """The two teams of the most recent round (what is on the server now): axis as side
    A, allies as side B (GUIDs sorted). Raises NoData without such a round."""
    last = Round.select(Round.id).order_by(Round.ended_at.desc(), Round.id.desc()).first()
    if last is None:
        raise NoData("No round has been imported yet, so there are no teams to bet on.")
    teams = _round_teams(last.id)
    a, b = sorted(teams.get(1, ())), sorted(teams.get(2, ()))
    if not a or not b:
        raise NoData(
            "The most recent round does not have players on both teams; pick the line-ups."
        )
    return a, b


def known_maps(text: str = "", limit: int = 25) -> list[str]:
    """Map names of the imported rounds for autocomplete: those starting with ``text``,
    then those containing it, most played first."""
    wanted = text.strip().lower()
    counted = (
        Round.select(Round.map, fn.COUNT(Round.id))
        .group_by(Round.map)
        .order_by(fn.COUNT(Round.id).desc(), Round.map)
        .tuples()
    )
    names = [str(m) for m, _n in counted]
    starts = [m for m in names if m.lower().startswith(wanted)]
    contains = [m for m in names if wanted in m.lower() and m not in starts]
    return (starts + contains)[:limit]


def open_pool(
    guild_id: int,
    opened_by: int,
    team_a: Iterable[str],
    team_b: Iterable[str],
    *,
    not_before: datetime,
    title: str | None = None,
    map_name: str | None = None,
    lock_in: timedelta | None = None,
    now: datetime | None = None,
) -> int:
    """Open a pool; returns its id.

    ``not_before`` is the server-local (naive) time of the opening: only a round 1 that
    ends later locks the pool automatically. Raises UserError for bad line-ups (empty
    side, a GUID on both sides), a title that is too long or a bad lock time.
    """
    from etbot import rating

    a, b = rating.check_lineups(team_a, team_b, (SIDE_NAMES[SIDE_A], SIDE_NAMES[SIDE_B]))
    clean_title = (title or "").strip() or None
    if clean_title is not None and len(clean_title) > MAX_TITLE:
        raise BettingError("The title is longer than {n} characters.", n=MAX_TITLE)
    clean_map = (map_name or "").strip() or None
    if clean_map is not None and len(clean_map) > 128:
        raise BettingError("That map name is too long.")
    if lock_in is not None and not timedelta(0) < lock_in <= MAX_LOCK_IN:
        raise BettingError("The lock time must be between 1 minute and 7 days.")
    at = now or utcnow()
    try:
        prediction = rating.win_probability(a, b, clean_map)
        p_side_a: float | None = prediction.p_team_a
        known = prediction.n_known_players
    except UserError:
        raise
    except Exception:  # the odds are a nicety; a broken model must not block the pool
        log.exception("no win chance for a new pool")
        p_side_a, known = None, 0

    def body() -> int:
        pool_id = int(
            BetPool.insert(
                guild_id=guild_id,
                title=clean_title,
                map=clean_map,
                state=OPEN,
                opened_by=opened_by,
                opened_at=at,
                not_before=not_before,
                lock_at=at + lock_in if lock_in is not None else None,
                p_side_a=p_side_a,
                rated_players=known,
            ).execute()
        )
        BetLineup.insert_many(
            [{"pool": pool_id, "side": SIDE_A, "guid": g} for g in a]
            + [{"pool": pool_id, "side": SIDE_B, "guid": g} for g in b]
        ).execute()
        return pool_id

    pool_id = _write(body)
    log.info("pool %s opened in guild %s by %s: %s vs %s", pool_id, guild_id, opened_by, a, b)
    return pool_id


def _pool_row(pool_id: int, guild_id: int | None = None) -> BetPool:
    where = BetPool.id == pool_id
    if guild_id is not None:
        where &= BetPool.guild_id == guild_id
    pool = BetPool.get_or_none(where)
    if pool is None:
        raise NoSuchPool("There is no betting pool #{pool} in this server.", pool=pool_id)
    return pool


def _closed_error(pool: BetPool) -> PoolClosed:
    state = pool.state
    if state == OPEN:  # open, but its lock time has passed
        return PoolClosed(
            "Betting on pool #{pool} has closed (its lock time passed).", pool=pool.id
        )
    what = {
        LOCKED: "is locked: the match has started, no more bets",
        SETTLED: "is settled",
        CANCELLED: "was cancelled",
    }[state]
    return PoolClosed(f"Pool #{{pool}} {what}.", pool=pool.id)


def _accepting(now: datetime) -> object:
    """The condition under which a pool takes bets."""
    return (BetPool.state == OPEN) & (BetPool.lock_at.is_null() | (BetPool.lock_at > now))


def set_pool_message(pool_id: int, channel_id: int, message_id: int) -> None:
    """Remember the public message of a pool (edited when the pool changes)."""
    BetPool.update(channel_id=channel_id, message_id=message_id, shown_state=None).where(
        BetPool.id == pool_id
    ).execute()


def mark_shown(pool_id: int, state: str) -> None:
    """The pool's message now shows ``state``."""
    BetPool.update(shown_state=state).where(BetPool.id == pool_id).execute()


def forget_message(pool_id: int) -> None:
    """The pool's message is gone (deleted in Discord)."""
    BetPool.update(channel_id=None, message_id=None, shown_state=None).where(
        BetPool.id == pool_id
    ).execute()


def stale_messages() -> list[int]:
    """Pools whose message does not show their current state yet (locked or settled
    meanwhile, maybe by another process or an import), oldest first."""
    query = (
        BetPool.select(BetPool.id)
        .where(
            BetPool.message_id.is_null(False)
            & (BetPool.shown_state.is_null() | (BetPool.shown_state != BetPool.state))
        )
        .order_by(BetPool.id)
    )
    return [pid for (pid,) in query.tuples()]


# --------------------------------------------------------------------------- bets


@dataclass(frozen=True)
class BetReceipt:
    """What a bet did: the member's whole stake on that side now, and their balance."""

    pool_id: int
    side: int
    amount: int
    stake: int
    balance: int
    #: This interaction had already placed the bet (nothing happened this time).
    duplicate: bool = False


def _own_side(pool_id: int, member_id: int) -> int | None:
    """The side whose line-up holds the player linked to this member, if any."""
    side = (
        BetLineup.select(BetLineup.side)
        .join(Player, on=(Player.guid == BetLineup.guid))
        .where((BetLineup.pool == pool_id) & (Player.discord_id == member_id))
        .scalar()
    )
    return int(side) if side is not None else None


def _check_own_team(pool: BetPool, member_id: int, side: int) -> None:
    own = _own_side(pool.id, member_id)
    if own is not None and own != side and guild_settings(pool.guild_id).own_team_only:
        raise OwnTeam(
            "You play for {own} in this pool, so you may only bet on your own team.",
            own=side_name(own),
        )


def prepare_bet(
    pool_id: int,
    guild_id: int,
    member_id: int,
    side: int,
    rules: Rules,
    now: datetime | None = None,
) -> int:
    """Before asking for an amount (read-only): the member's balance (the starting amount
    when they never bet), or the error a bet would get now (closed pool, own team, other
    side, no points)."""
    check_side(side)
    at = now or utcnow()
    pool = _pool_row(pool_id, guild_id)
    if not BetPool.select().where((BetPool.id == pool_id) & _accepting(at)).exists():
        raise _closed_error(pool)
    _check_own_team(pool, member_id, side)
    backed = (
        BetStake.select(BetStake.side)
        .where((BetStake.pool == pool_id) & (BetStake.member_id == member_id))
        .scalar()
    )
    if backed is not None and backed != side:
        raise OtherSide(
            "You already bet on {side} in this pool; you can only add to that bet.",
            side=side_name(backed),
        )
    points = balance(guild_id, member_id, rules).points
    if points <= 0:
        raise NotEnoughPoints(
            "You have no points left. At 0 you can claim a daily top-up with `/bet topup`."
        )
    return points


def place_bet(
    pool_id: int,
    guild_id: int,
    member_id: int,
    side: int,
    amount: int,
    key: str,
    rules: Rules,
    now: datetime | None = None,
) -> BetReceipt:
    """Bet ``amount`` points on ``side``, exactly once per ``key`` (``bet:<interaction id>``).

    One transaction: the ledger row (its unique key refuses a second use of the
    interaction), the pool's conditional UPDATE (open and before its lock time), the
    balance's conditional UPDATE (enough points) and the stake upsert (same side only).
    Any refusal rolls all of it back and raises a :class:`BettingError`; a key that was
    already used returns the first bet's receipt with ``duplicate=True``.
    """
    check_side(side)
    check_amount(amount)
    if not key or len(key) > 80:
        raise ValueError(f"bad idempotency key {key!r}")
    at = now or utcnow()

    def body() -> BetReceipt:
        _ensure_account(guild_id, member_id, rules.start_points, at)
        pool = _pool_row(pool_id, guild_id)
        _check_own_team(pool, member_id, side)
        BetLedger.insert(
            guild_id=guild_id,
            member_id=member_id,
            kind="stake",
            amount=-amount,
            pool=pool_id,
            side=side,
            key=key,
            created_at=at,
        ).execute()
        taken = (
            BetPool.update(bets=BetPool.bets + 1)
            .where((BetPool.id == pool_id) & _accepting(at))
            .execute()
        )
        if taken != 1:
            raise _closed_error(_pool_row(pool_id))
        paid = list(
            BetAccount.update(points=BetAccount.points - amount)
            .where(
                (BetAccount.guild_id == guild_id)
                & (BetAccount.member_id == member_id)
                & (BetAccount.points >= amount)
            )
            .returning(BetAccount.points)
            .tuples()
            .execute()
        )
        if not paid:
            have = _points(guild_id, member_id)
            if have == 0:
                raise NotEnoughPoints(
                    "You have no points left. At 0 you can claim a daily top-up with `/bet topup`."
                )
            raise NotEnoughPoints(
                "You have only {balance} points; you cannot bet {amount}.",
                balance=have,
                amount=amount,
            )
        staked = list(
            BetStake.insert(
                pool=pool_id,
                member_id=member_id,
                side=side,
                amount=amount,
                first_at=at,
                last_at=at,
            )
            .on_conflict(
                conflict_target=[BetStake.pool, BetStake.member_id],
                update={
                    BetStake.amount: BetStake.amount + EXCLUDED.amount,
                    BetStake.last_at: EXCLUDED.last_at,
                },
                where=(BetStake.side == EXCLUDED.side),
            )
            .returning(BetStake.amount)
            .tuples()
            .execute()
        )
        if not staked:
            raise OtherSide(
                "You already bet on {side} in this pool; you can only add to that bet.",
                side=side_name(SIDE_B if side == SIDE_A else SIDE_A),
            )
        return BetReceipt(pool_id, side, amount, int(staked[0][0]), int(paid[0][0]))

    try:
        return _write(body)
    except IntegrityError:
        first = BetLedger.get_or_none(BetLedger.key == key)
        if first is None:
            raise
        if (first.guild_id, first.member_id, first.pool_id) != (guild_id, member_id, pool_id):
            # Keys are interaction ids; another member's or pool's row means a forged one.
            raise BettingError("This form was already used; click the button again.") from None
        return _duplicate_receipt(first)


def _duplicate_receipt(row: BetLedger) -> BetReceipt:
    pool_id = int(row.pool_id) if row.pool_id is not None else 0
    stake = (
        BetStake.select(BetStake.amount)
        .where((BetStake.pool == pool_id) & (BetStake.member_id == row.member_id))
        .scalar()
    )
    return BetReceipt(
        pool_id=pool_id,
        side=int(row.side or 0),
        amount=-int(row.amount),
        stake=int(stake or 0),
        balance=_points(row.guild_id, row.member_id),
        duplicate=True,
    )


# --------------------------------------------------------------------------- lock, settle


def lock_pool(pool_id: int, *, guild_id: int | None = None, now: datetime | None = None) -> bool:
    """Close an open pool to bets; False when it was not open (already locked…)."""
    _pool_row(pool_id, guild_id)
    at = now or utcnow()

    def body() -> bool:
        return (
            BetPool.update(state=LOCKED, locked_at=at)
            .where((BetPool.id == pool_id) & (BetPool.state == OPEN))
            .execute()
            == 1
        )

    locked = _write(body)
    if locked:
        log.info("pool %s locked", pool_id)
    return locked


def lock_due(now: datetime | None = None) -> list[int]:
    """Lock every open pool whose lock time has come; returns their ids."""
    at = now or utcnow()
    due = [
        pid
        for (pid,) in BetPool.select(BetPool.id)
        .where((BetPool.state == OPEN) & (BetPool.lock_at <= at))
        .order_by(BetPool.id)
        .tuples()
    ]
    return [pid for pid in due if lock_pool(pid, now=at)]


def next_lock_at() -> datetime | None:
    """The earliest lock time of an open pool (UTC), if any."""
    value = BetPool.select(fn.MIN(BetPool.lock_at)).where(BetPool.state == OPEN).scalar()
    return as_datetime(value) if value is not None else None


@dataclass(frozen=True)
class Stake:
    """A member's stake, as the payout rule sees it (``order``: first bet first)."""

    member_id: int
    side: int
    amount: int
    order: int


@dataclass(frozen=True)
class Payout:
    """Points a member gets back when a pool ends (``kind`` payout or refund)."""

    member_id: int
    side: int
    stake: int
    amount: int
    kind: str

    @property
    def profit(self) -> int:
        return self.amount - self.stake


def parimutuel(stakes: Sequence[Stake], winner: int | None) -> list[Payout]:
    """Who gets what when a pool ends (pure; see the module docstring).

    ``winner``: :data:`SIDE_A` / :data:`SIDE_B`, :data:`DRAW`, or None (cancelled): a
    draw, a cancel or a winning side nobody backed refunds every stake. Otherwise each
    winning stake gets ``pot * stake // winning total``; the remainder goes to the largest
    winning stake, ties to the lowest ``order``. Losing stakes get nothing (no row). The
    payouts always add up to the pot.
    """
    winners = [s for s in stakes if s.side == winner] if winner in SIDES else []
    if not winners:
        return [Payout(s.member_id, s.side, s.amount, s.amount, "refund") for s in stakes]
    pot = sum(s.amount for s in stakes)
    backed = sum(s.amount for s in winners)
    shares = {s.member_id: pot * s.amount // backed for s in winners}
    top = min(winners, key=lambda s: (-s.amount, s.order))
    shares[top.member_id] += pot - sum(shares.values())
    return [Payout(s.member_id, s.side, s.amount, shares[s.member_id], "payout") for s in winners]


@dataclass(frozen=True)
class Settlement:
    """How a pool ended."""

    pool_id: int
    state: str
    #: 1 / 2 the winning side, 0 a draw, None cancelled.
    winner: int | None
    pot: int
    payouts: tuple[Payout, ...]

    @property
    def refunded(self) -> bool:
        return all(p.kind == "refund" for p in self.payouts)


def _close(
    pool_id: int,
    state: str,
    winner: int | None,
    *,
    guild_id: int | None,
    now: datetime,
    map_result_id: int | None = None,
    side_a_colour: int | None = None,
    round1_id: int | None = None,
) -> Settlement:
    """Settle or cancel, in the caller's transaction: the state change first (it takes the
    pool row, so no bet can slip in after it), then a payout or refund per stake."""
    pool = _pool_row(pool_id, guild_id)
    changes: dict[object, object] = {
        BetPool.state: state,
        BetPool.winner: winner,
        BetPool.closed_at: now,
        BetPool.locked_at: fn.COALESCE(BetPool.locked_at, now),
    }
    if map_result_id is not None:
        changes[BetPool.map_result] = map_result_id
    if round1_id is not None:
        changes[BetPool.round1] = round1_id
        changes[BetPool.side_a_colour] = side_a_colour
    updated = (
        BetPool.update(changes).where((BetPool.id == pool_id) & BetPool.state.in_(ACTIVE)).execute()
    )
    if updated != 1:
        raise _closed_error(_pool_row(pool_id))
    stakes = [
        Stake(int(m), int(s), int(a), int(i))
        for i, m, s, a in BetStake.select(
            BetStake.id, BetStake.member_id, BetStake.side, BetStake.amount
        )
        .where(BetStake.pool == pool_id)
        .order_by(BetStake.id)
        .tuples()
    ]
    payouts = parimutuel(stakes, winner if state == SETTLED else None)
    # Accounts in member order: two settles running at once lock rows in the same order.
    for payout in sorted(payouts, key=lambda p: p.member_id):
        credited = (
            BetAccount.update(points=BetAccount.points + payout.amount)
            .where(
                (BetAccount.guild_id == pool.guild_id) & (BetAccount.member_id == payout.member_id)
            )
            .execute()
        )
        if credited != 1:
            raise RuntimeError(f"pool {pool_id}: no account for member {payout.member_id}")
        BetLedger.insert(
            guild_id=pool.guild_id,
            member_id=payout.member_id,
            kind=payout.kind,
            amount=payout.amount,
            pool=pool_id,
            side=payout.side,
            key=f"{payout.kind}:{pool_id}:{payout.member_id}",
            created_at=now,
        ).execute()
    announce.enqueue(RESULT_KIND, pool_id, now=now)
    pot = sum(s.amount for s in stakes)
    log.info(
        "pool %s %s (winner %s): %d points to %d members", pool_id, state, winner, pot, len(payouts)
    )
    return Settlement(pool_id, state, winner, pot, tuple(payouts))


def settle_pool(
    pool_id: int,
    winner: int,
    *,
    guild_id: int | None = None,
    now: datetime | None = None,
    map_result_id: int | None = None,
) -> Settlement:
    """Settle an open or locked pool: ``winner`` 1 / 2, or 0 for a draw (refunds).
    Queues the result post. Raises PoolClosed when it is already settled or cancelled."""
    if winner not in (DRAW, *SIDES):
        raise BettingError("The winner must be Team A, Team B or a draw.")
    at = now or utcnow()
    return _write(
        lambda: _close(
            pool_id, SETTLED, winner, guild_id=guild_id, now=at, map_result_id=map_result_id
        )
    )


def cancel_pool(
    pool_id: int, *, guild_id: int | None = None, now: datetime | None = None
) -> Settlement:
    """Cancel an open or locked pool and refund every stake; queues the result post."""
    at = now or utcnow()
    return _write(lambda: _close(pool_id, CANCELLED, None, guild_id=guild_id, now=at))


# --------------------------------------------------------------------------- imports


def _round_teams(round_id: int) -> dict[int, set[str]]:
    """GUIDs per colour (1 axis, 2 allies) of one round; spectators left out."""
    teams: dict[int, set[str]] = defaultdict(set)
    query = (
        PlayerRound.select(PlayerRound.team, Player.guid)
        .join(Player, on=(PlayerRound.player == Player.id))
        .where((PlayerRound.round == round_id) & PlayerRound.team.in_([1, 2]))
        .tuples()
    )
    for team, guid in query:
        teams[int(team)].add(guid)
    return teams


def match_sides(side_a: set[str], side_b: set[str], teams: Mapping[int, set[str]]) -> int | None:
    """The colour side A plays in a round whose teams are ``teams``, or None.

    A round matches when the team of one colour holds most (more than half) of side A's
    players and the other colour most of side B's.
    """
    if not side_a or not side_b:
        return None
    for colour in (1, 2):
        in_a = len(side_a & teams.get(colour, set()))
        in_b = len(side_b & teams.get(3 - colour, set()))
        if 2 * in_a > len(side_a) and 2 * in_b > len(side_b):
            return colour
    return None


def winning_side(
    side_a_colour_r1: int,
    round1_defender: int,
    round2_defender: int,
    winner_team: int | None,
    outcome: str,
) -> int:
    """The pool side that won a map, from side A's colour in round 1.

    Side A attacked first when it played the colour that did not defend round 1; in
    round 2 the teams swap colours, so the first attackers defend: their round 2 colour is
    round 2's defending colour. ``winner_team`` is in round 2 colours.
    """
    if outcome == "draw" or winner_team is None:
        return DRAW
    a_attacked_first = side_a_colour_r1 == 3 - round1_defender
    a_colour_r2 = round2_defender if a_attacked_first else 3 - round2_defender
    return SIDE_A if winner_team == a_colour_r2 else SIDE_B


@dataclass
class _ActivePool:
    id: int
    map: str | None
    not_before: datetime
    round1_id: int | None
    side_a_colour: int | None
    state: str
    sides: dict[int, set[str]] = field(default_factory=lambda: {SIDE_A: set(), SIDE_B: set()})


def _active_pools() -> list[_ActivePool]:
    pools = {
        pid: _ActivePool(pid, m, as_datetime(nb), r1, colour, state)
        for pid, m, nb, r1, colour, state in BetPool.select(
            BetPool.id,
            BetPool.map,
            BetPool.not_before,
            BetPool.round1,
            BetPool.side_a_colour,
            BetPool.state,
        )
        .where(BetPool.state.in_(ACTIVE))
        .order_by(BetPool.id)
        .tuples()
    }
    if pools:
        for pid, side, guid in (
            BetLineup.select(BetLineup.pool, BetLineup.side, BetLineup.guid)
            .where(BetLineup.pool.in_(list(pools)))
            .tuples()
        ):
            pools[pid].sides[int(side)].add(guid)
    return list(pools.values())


def _fits(pool: _ActivePool, map_name: str, ended_at: datetime) -> bool:
    return (pool.map is None or pool.map == map_name) and ended_at >= pool.not_before


@dataclass(frozen=True)
class ImportOutcome:
    """What :func:`follow_import` did: pools locked and settled."""

    locked: tuple[int, ...] = ()
    settled: tuple[int, ...] = ()


def follow_import(batch: Batch, now: datetime | None = None) -> ImportOutcome:
    """Batch hook: lock pools whose match started and settle pools whose map ended.

    A new round 1 of a pool's map (any map if the pool names none) that ended after the
    pool opened and whose teams hold most of each side's players locks the pool (if still
    open) and ties it to that round 1; the map result of that round 1 settles it (draws
    refund). A pool locked by hand or by its lock time is tied to the first such round 1
    the same way. Runs inside the import's transaction; the result post is queued there
    too, whether the import is live or not (a result is always news).
    """
    round1_ids = batch.new_rounds(1)
    result_ids = batch.map_result_ids()
    if not round1_ids and not result_ids:
        return ImportOutcome()
    pools = _active_pools()
    if not pools:
        return ImportOutcome()
    at = now or utcnow()
    locked: list[int] = []
    settled: list[int] = []

    for round_id, map_name, ended in (
        Round.select(Round.id, Round.map, Round.ended_at)
        .where(Round.id.in_(round1_ids))
        .order_by(Round.ended_at, Round.id)
        .tuples()
        if round1_ids
        else []
    ):
        teams = None
        for pool in pools:
            if pool.round1_id is not None or not _fits(pool, map_name, as_datetime(ended)):
                continue
            teams = teams if teams is not None else _round_teams(round_id)
            colour = match_sides(pool.sides[SIDE_A], pool.sides[SIDE_B], teams)
            if colour is None:
                continue
            pool.round1_id, pool.side_a_colour = round_id, colour
            changes: dict[object, object] = {
                BetPool.round1: round_id,
                BetPool.side_a_colour: colour,
            }
            if pool.state == OPEN:
                changes[BetPool.state] = LOCKED
                changes[BetPool.locked_at] = at
            BetPool.update(changes).where(
                (BetPool.id == pool.id) & BetPool.state.in_(ACTIVE)
            ).execute()
            if pool.state == OPEN:
                pool.state = LOCKED
                locked.append(pool.id)
                log.info("pool %s locked by round 1 %s (%s)", pool.id, round_id, map_name)

    if result_ids:
        r1 = Round.alias("r1")
        r2 = Round.alias("r2")
        results = (
            MapResult.select(
                MapResult.id,
                MapResult.round1,
                MapResult.map,
                MapResult.outcome,
                MapResult.winner_team,
                r1.ended_at,
                r1.defender,
                r2.defender,
            )
            .join(r1, on=(MapResult.round1 == r1.id))
            .switch(MapResult)
            .join(r2, on=(MapResult.round2 == r2.id))
            .where(MapResult.id.in_(result_ids))
            .order_by(MapResult.ended_at, MapResult.id)
            .tuples()
        )
        for mr_id, round1_id, map_name, outcome, winner_team, ended1, d1, d2 in results:
            for pool in pools:
                if pool.state not in ACTIVE:
                    continue
                colour = pool.side_a_colour if pool.round1_id == round1_id else None
                new_tie = False
                if pool.round1_id is None and _fits(pool, map_name, as_datetime(ended1)):
                    colour = match_sides(
                        pool.sides[SIDE_A], pool.sides[SIDE_B], _round_teams(round1_id)
                    )
                    new_tie = colour is not None
                if colour is None:
                    continue
                winner = winning_side(colour, d1, d2, winner_team, outcome)
                _close(
                    pool.id,
                    SETTLED,
                    winner,
                    guild_id=None,
                    now=at,
                    map_result_id=mr_id,
                    round1_id=round1_id if new_tie else None,
                    side_a_colour=colour if new_tie else None,
                )
                pool.state = SETTLED
                settled.append(pool.id)
    return ImportOutcome(tuple(locked), tuple(settled))


# --------------------------------------------------------------------------- views


@dataclass(frozen=True)
class LineupPlayer:
    guid: str
    name: str


@dataclass(frozen=True)
class SideView:
    side: int
    players: tuple[LineupPlayer, ...]
    pot: int
    bettors: int


@dataclass(frozen=True)
class PoolView:
    """Everything the pool's message shows, read from the database."""

    id: int
    guild_id: int
    title: str | None
    map: str | None
    state: str
    opened_by: int
    opened_at: datetime
    lock_at: datetime | None
    winner: int | None
    p_side_a: float | None
    rated_players: int
    sides: tuple[SideView, SideView]
    channel_id: int | None
    message_id: int | None

    @property
    def pot(self) -> int:
        return sum(s.pot for s in self.sides)

    @property
    def players(self) -> int:
        return sum(len(s.players) for s in self.sides)

    def side(self, side: int) -> SideView:
        return self.sides[0] if side == SIDE_A else self.sides[1]

    def accepting(self, now: datetime) -> bool:
        """Takes bets at ``now`` (UTC): open and before its lock time."""
        return self.state == OPEN and (self.lock_at is None or self.lock_at > now)

    def multiplier(self, side: int) -> float | None:
        """Points paid per point staked on ``side`` if it wins, with the pot as it is now
        (None while nobody backed that side)."""
        pot = self.side(side).pot
        return self.pot / pot if pot else None


def pool_view(pool_id: int, guild_id: int | None = None) -> PoolView:
    """The pool as its message shows it (NoSuchPool when it does not exist here)."""
    pool = _pool_row(pool_id, guild_id)
    names = {}
    lineup: dict[int, list[str]] = {SIDE_A: [], SIDE_B: []}
    for side, guid, name in (
        BetLineup.select(BetLineup.side, BetLineup.guid, Player.name)
        .join(Player, on=(Player.guid == BetLineup.guid), join_type=JOIN.LEFT_OUTER)
        .where(BetLineup.pool == pool_id)
        .order_by(BetLineup.id)
        .tuples()
    ):
        lineup[int(side)].append(guid)
        names[guid] = name or guid
    totals = {
        int(side): (int(pot), int(count))
        for side, pot, count in BetStake.select(
            BetStake.side, fn.SUM(BetStake.amount), fn.COUNT(BetStake.id)
        )
        .where(BetStake.pool == pool_id)
        .group_by(BetStake.side)
        .tuples()
    }
    sides = tuple(
        SideView(
            side,
            tuple(LineupPlayer(g, names[g]) for g in lineup[side]),
            *totals.get(side, (0, 0)),
        )
        for side in SIDES
    )
    return PoolView(
        id=pool.id,
        guild_id=pool.guild_id,
        title=pool.title,
        map=pool.map,
        state=pool.state,
        opened_by=pool.opened_by,
        opened_at=as_datetime(pool.opened_at),
        lock_at=as_datetime(pool.lock_at) if pool.lock_at is not None else None,
        winner=pool.winner,
        p_side_a=pool.p_side_a,
        rated_players=pool.rated_players,
        sides=(sides[0], sides[1]),
        channel_id=pool.channel_id,
        message_id=pool.message_id,
    )


@dataclass(frozen=True)
class PoolSummary:
    """One line of a pool list (autocomplete, "which pool?")."""

    id: int
    title: str | None
    state: str
    opened_at: datetime


def pools(guild_id: int, states: Sequence[str] = ACTIVE, limit: int = 25) -> list[PoolSummary]:
    """The server's pools in these states, newest first."""
    query = (
        BetPool.select(BetPool.id, BetPool.title, BetPool.state, BetPool.opened_at)
        .where((BetPool.guild_id == guild_id) & BetPool.state.in_(list(states)))
        .order_by(BetPool.id.desc())
        .limit(limit)
        .tuples()
    )
    return [PoolSummary(int(i), t, s, as_datetime(o)) for i, t, s, o in query]


def latest_pool(guild_id: int, states: Sequence[str] = ACTIVE) -> int:
    """The newest pool of the server in these states (NoSuchPool when there is none)."""
    found = pools(guild_id, states, limit=1)
    if not found:
        raise NoSuchPool("There is no open or locked betting pool in this server.")
    return found[0].id


@dataclass(frozen=True)
class ResultView:
    """What the result post says about a finished pool."""

    pool: PoolView
    payouts: tuple[Payout, ...]
    #: Members who lost their stake, with the stake.
    losers: tuple[tuple[int, int], ...]


def result_view(pool_id: int) -> ResultView | None:
    """A settled or cancelled pool's payouts (from the ledger); None while it is active."""
    view = pool_view(pool_id)
    if view.state in ACTIVE:
        return None
    stakes = {
        int(m): (int(s), int(a))
        for m, s, a in BetStake.select(BetStake.member_id, BetStake.side, BetStake.amount)
        .where(BetStake.pool == pool_id)
        .tuples()
    }
    paid = list(
        BetLedger.select(BetLedger.member_id, BetLedger.kind, BetLedger.amount)
        .where((BetLedger.pool == pool_id) & BetLedger.kind.in_(["payout", "refund"]))
        .order_by(BetLedger.amount.desc(), BetLedger.member_id)
        .tuples()
    )
    payouts = tuple(
        Payout(int(m), stakes[int(m)][0], stakes[int(m)][1], int(a), str(k)) for m, k, a in paid
    )
    winners = {p.member_id for p in payouts}
    losers = tuple(
        sorted(((m, a) for m, (_s, a) in stakes.items() if m not in winners), key=lambda x: -x[1])
    )
    return ResultView(view, payouts, losers)


# --------------------------------------------------------------------------- leaderboards


@dataclass(frozen=True)
class Richest:
    member_id: int
    points: int


def richest(guild_id: int, limit: int = 10) -> list[Richest]:
    """Members with the most points (ties: who joined first)."""
    query = (
        BetAccount.select(BetAccount.member_id, BetAccount.points)
        .where(BetAccount.guild_id == guild_id)
        .order_by(BetAccount.points.desc(), BetAccount.id)
        .limit(limit)
        .tuples()
    )
    return [Richest(int(m), int(p)) for m, p in query]


@dataclass(frozen=True)
class Return:
    """A member's result over the settled pools they bet in."""

    member_id: int
    pools: int
    staked: int
    returned: int

    @property
    def net(self) -> int:
        return self.returned - self.staked

    @property
    def roi(self) -> float:
        """Net result per point staked."""
        return self.net / self.staked if self.staked else 0.0


def best_returns(guild_id: int, limit: int = 10) -> list[Return]:
    """Members by net points won in settled pools (refunds count as nothing won)."""
    staked = {
        int(m): (int(n), int(s))
        for m, n, s in BetStake.select(
            BetStake.member_id, fn.COUNT(BetStake.id), fn.SUM(BetStake.amount)
        )
        .join(BetPool, on=(BetStake.pool == BetPool.id))
        .where((BetPool.guild_id == guild_id) & (BetPool.state == SETTLED))
        .group_by(BetStake.member_id)
        .tuples()
    }
    returned = {
        int(m): int(a)
        for m, a in BetLedger.select(BetLedger.member_id, fn.SUM(BetLedger.amount))
        .join(BetPool, on=(BetLedger.pool == BetPool.id))
        .where(
            (BetPool.guild_id == guild_id)
            & (BetPool.state == SETTLED)
            & BetLedger.kind.in_(["payout", "refund"])
        )
        .group_by(BetLedger.member_id)
        .tuples()
    }
    rows = [Return(m, n, s, returned.get(m, 0)) for m, (n, s) in staked.items()]
    rows.sort(key=lambda r: (-r.net, -r.roi, r.member_id))
    return rows[:limit]


@dataclass(frozen=True)
class LedgerEntry:
    kind: str
    amount: int
    pool_id: int | None
    pool_title: str | None
    side: int | None
    created_at: datetime


def history(guild_id: int, member_id: int, limit: int = 15) -> list[LedgerEntry]:
    """A member's latest balance changes, newest first."""
    query = (
        BetLedger.select(
            BetLedger.kind,
            BetLedger.amount,
            BetLedger.pool,
            BetPool.title,
            BetLedger.side,
            BetLedger.created_at,
        )
        .join(BetPool, on=(BetLedger.pool == BetPool.id), join_type=JOIN.LEFT_OUTER)
        .where((BetLedger.guild_id == guild_id) & (BetLedger.member_id == member_id))
        .order_by(BetLedger.id.desc())
        .limit(limit)
        .tuples()
    )
    return [
        LedgerEntry(str(k), int(a), int(p) if p is not None else None, t, s, as_datetime(c))
        for k, a, p, t, s, c in query
    ]


# --------------------------------------------------------------------------- audit


@dataclass(frozen=True)
class GuildAudit:
    """One server's totals: points created (grants + top-ups) must equal the balances
    plus the stakes riding on open and locked pools."""

    guild_id: int
    members: int
    created: int
    balances: int
    open_stakes: int

    @property
    def difference(self) -> int:
        return self.created - self.balances - self.open_stakes


@dataclass(frozen=True)
class AuditReport:
    guilds: tuple[GuildAudit, ...]
    #: ``"<guild>:<member>"`` → points.
    balances: dict[str, int]
    open_stakes: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def audit() -> AuditReport:
    """Check that no point was created or lost (read-only; see :class:`GuildAudit`).

    Per server: grants + top-ups = balances + stakes in open and locked pools. Per member:
    the ledger's sum = the balance, and the balance is not negative. Per pool: every stake
    equals its ledger stakes; a settled or cancelled pool paid back exactly its pot, an
    open or locked one nothing.
    """
    problems: list[str] = []
    accounts = {
        (int(g), int(m)): int(p)
        for g, m, p in BetAccount.select(
            BetAccount.guild_id, BetAccount.member_id, BetAccount.points
        ).tuples()
    }
    ledger_sums = {
        (int(g), int(m)): int(s)
        for g, m, s in BetLedger.select(
            BetLedger.guild_id, BetLedger.member_id, fn.SUM(BetLedger.amount)
        )
        .group_by(BetLedger.guild_id, BetLedger.member_id)
        .tuples()
    }
    for key in sorted(set(accounts) | set(ledger_sums)):
        have, summed = accounts.get(key), ledger_sums.get(key)
        who = f"{key[0]}:{key[1]}"
        if have is None:
            problems.append(f"{who}: ledger rows ({summed}) but no balance")
        elif summed is None:
            problems.append(f"{who}: balance {have} without ledger rows")
        elif have != summed:
            problems.append(f"{who}: balance {have} but the ledger adds up to {summed}")
        if have is not None and have < 0:
            problems.append(f"{who}: negative balance {have}")

    created: dict[int, int] = defaultdict(int)
    for g, s in (
        BetLedger.select(BetLedger.guild_id, fn.SUM(BetLedger.amount))
        .where(BetLedger.kind.in_(["grant", "topup"]))
        .group_by(BetLedger.guild_id)
        .tuples()
    ):
        created[int(g)] = int(s)
    open_stakes: dict[int, int] = defaultdict(int)
    for g, s in (
        BetStake.select(BetPool.guild_id, fn.SUM(BetStake.amount))
        .join(BetPool, on=(BetStake.pool == BetPool.id))
        .where(BetPool.state.in_(ACTIVE))
        .group_by(BetPool.guild_id)
        .tuples()
    ):
        open_stakes[int(g)] = int(s)
    held: dict[int, int] = defaultdict(int)
    members: dict[int, int] = defaultdict(int)
    for (g, _m), p in accounts.items():
        held[g] += p
        members[g] += 1

    # Stakes against the ledger, and what each finished pool paid back.
    ledger_stakes = {
        (int(p), int(m)): -int(s)
        for p, m, s in BetLedger.select(
            BetLedger.pool, BetLedger.member_id, fn.SUM(BetLedger.amount)
        )
        .where((BetLedger.kind == "stake") & BetLedger.pool.is_null(False))
        .group_by(BetLedger.pool, BetLedger.member_id)
        .tuples()
    }
    stake_rows = {
        (int(p), int(m)): int(a)
        for p, m, a in BetStake.select(BetStake.pool, BetStake.member_id, BetStake.amount).tuples()
    }
    for key in sorted(set(ledger_stakes) | set(stake_rows)):
        if ledger_stakes.get(key, 0) != stake_rows.get(key, 0):
            problems.append(
                f"pool {key[0]} member {key[1]}: stake {stake_rows.get(key, 0)} but the "
                f"ledger staked {ledger_stakes.get(key, 0)}"
            )
    paid_back = {
        int(p): int(s)
        for p, s in BetLedger.select(BetLedger.pool, fn.SUM(BetLedger.amount))
        .where(BetLedger.kind.in_(["payout", "refund"]) & BetLedger.pool.is_null(False))
        .group_by(BetLedger.pool)
        .tuples()
    }
    pots: dict[int, int] = defaultdict(int)
    for (p, _m), a in stake_rows.items():
        pots[p] += a
    for pid, state in BetPool.select(BetPool.id, BetPool.state).tuples():
        back = paid_back.get(int(pid), 0)
        if state in ACTIVE and back:
            problems.append(f"pool {pid} is {state} but paid out {back}")
        if state not in ACTIVE and pots.get(int(pid), 0) != back:
            problems.append(f"pool {pid} ({state}): pot {pots.get(int(pid), 0)}, paid back {back}")

    guilds = []
    for g in sorted(set(created) | set(held) | set(open_stakes)):
        row = GuildAudit(g, members[g], created[g], held[g], open_stakes[g])
        guilds.append(row)
        if row.difference:
            problems.append(
                f"server {g}: {row.created} points created but {row.balances} in balances "
                f"+ {row.open_stakes} in open pools (difference {row.difference})"
            )
    return AuditReport(
        guilds=tuple(guilds),
        balances={f"{g}:{m}": p for (g, m), p in sorted(accounts.items())},
        open_stakes=sum(open_stakes.values()),
        problems=tuple(problems),
    )

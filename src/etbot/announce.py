"""What the bot posts by itself, each exactly once: a transactional outbox.

Whoever decides that something deserves a post (the import that stored a round, the
check that finds a season ended, a settled betting pool…) calls :func:`enqueue` inside
the same database transaction as the data itself. The unique ``(kind, key)`` of
:class:`~etbot.models.Announcement` makes the post exist at most once whatever happens
later: a re-import, a duplicate file, a restart or a second bot process on the same
PostgreSQL database cannot queue it again.

The Discord side (:mod:`etbot.poster`) drains the outbox:

1. :func:`claim` takes pending rows with a conditional UPDATE, so exactly one process
   wins each row; a claim whose process died before sending expires after
   :data:`STALE_CLAIM` and is taken again.
2. :func:`mark_sending` right before the HTTP call. A row left in ``sending`` by a crash
   is never retried (:func:`expire_sending`): we would rather miss one post than show
   it twice.
3. :func:`mark_sent` with the message id, or :func:`mark_failed`.

Posts recorded with ``silent=True`` exist only so that they are never posted: bulk
imports of old history, awards of seasons that ended before the bot was added.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from etbot.db import row_chunks
from etbot.models import Announcement, GuildSetting, database_proxy

log = logging.getLogger(__name__)

PENDING = "pending"
CLAIMED = "claimed"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
SILENT = "silent"

#: A claim not followed by a send within this long was abandoned (process died).
STALE_CLAIM = timedelta(minutes=5)
#: Retries of a post whose sending failed for a temporary reason (a Discord 5xx).
MAX_ATTEMPTS = 5
#: A post that failed for a temporary reason waits this long before its next attempt.
RETRY_DELAY = timedelta(seconds=30)
#: Longest error text kept on a row (the column holds 255).
_ERROR_CHARS = 250


@dataclass(frozen=True)
class Claimed:
    """A row this process may now post."""

    id: int
    kind: str
    key: str
    attempts: int


def utcnow() -> datetime:
    """Naive UTC "now" used for the outbox bookkeeping columns."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_worker_id() -> str:
    """A name for this process in ``claimed_by`` (host, pid and a random part)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(3)}"


def enqueue(
    kind: str, key: str | int, *, silent: bool = False, now: datetime | None = None
) -> bool:
    """Queue the post ``(kind, key)`` unless it already exists; True when this call added it.

    Call it inside the transaction that stores what the post is about. ``silent`` records
    the post as already dealt with (it will never be sent).
    """
    key = str(key)
    _check_post(kind, key)
    query = (
        Announcement.insert(
            kind=kind,
            key=key,
            status=SILENT if silent else PENDING,
            created_at=now or utcnow(),
        )
        .on_conflict_ignore()
        .returning(Announcement.id)
    )
    inserted = list(query.execute())
    return bool(inserted)


def enqueue_many(
    kind: str, posts: Sequence[tuple[str, bool]], *, now: datetime | None = None
) -> None:
    """:func:`enqueue` for many ``(key, silent)`` posts of one kind, with a few statements."""
    if not posts:
        return
    created_at = now or utcnow()
    rows = []
    for key, silent in posts:
        _check_post(kind, key)
        rows.append(
            {
                "kind": kind,
                "key": key,
                "status": SILENT if silent else PENDING,
                "created_at": created_at,
            }
        )
    for start, stop in row_chunks(len(rows)):
        Announcement.insert_many(rows[start:stop]).on_conflict_ignore().execute()


def _check_post(kind: str, key: str) -> None:
    """The outbox's limits on a post's kind and key (ValueError when outside them)."""
    if not kind or len(kind) > 32:
        raise ValueError(f"announcement kind must be 1-32 characters: {kind!r}")
    if not key or len(key) > 64:
        raise ValueError(f"announcement key must be 1-64 characters: {key!r}")


def exists(kind: str, key: str | int) -> bool:
    """Is ``(kind, key)`` already queued, posted or recorded?"""
    return (
        Announcement.select()
        .where((Announcement.kind == kind) & (Announcement.key == str(key)))
        .exists()
    )


def claim(worker: str, *, limit: int = 10, now: datetime | None = None) -> list[Claimed]:
    """Take up to ``limit`` posts for this worker, oldest first.

    Pending rows (a retried one only :data:`RETRY_DELAY` after its failed attempt), and
    rows claimed by someone more than :data:`STALE_CLAIM` ago who never started sending,
    qualify. Each row is taken with its own conditional UPDATE, so when
    several processes drain at once every row goes to exactly one of them.
    """
    now = now or utcnow()
    stale = now - STALE_CLAIM
    ready = Announcement.claimed_at.is_null() | (Announcement.claimed_at < now - RETRY_DELAY)
    takeable = ((Announcement.status == PENDING) & ready) | (
        (Announcement.status == CLAIMED) & (Announcement.claimed_at < stale)
    )
    candidates = list(
        Announcement.select(Announcement.id, Announcement.kind, Announcement.key)
        .where(takeable)
        .order_by(Announcement.id)
        .limit(limit)
        .tuples()
    )
    won: list[Claimed] = []
    for row_id, kind, key in candidates:
        updated = (
            Announcement.update(
                status=CLAIMED,
                claimed_by=worker,
                claimed_at=now,
                attempts=Announcement.attempts + 1,
            )
            .where((Announcement.id == row_id) & takeable)
            .execute()
        )
        if updated == 1:
            attempts = Announcement.get_by_id(row_id).attempts
            won.append(Claimed(row_id, kind, key, attempts))
    return won


def _owned(row_id: int, worker: str, status: str) -> object:
    return (
        (Announcement.id == row_id)
        & (Announcement.claimed_by == worker)
        & (Announcement.status == status)
    )


def mark_sending(row_id: int, worker: str, *, now: datetime | None = None) -> bool:
    """Right before the HTTP call: from here on a crash means "maybe sent", never retried.

    False when the claim was lost meanwhile (it went stale and another process took it):
    the caller must not send.
    """
    return (
        Announcement.update(status=SENDING, claimed_at=now or utcnow())
        .where(_owned(row_id, worker, CLAIMED))
        .execute()
        == 1
    )


def mark_sent(
    row_id: int,
    worker: str,
    *,
    channel_id: int,
    message_id: int,
    now: datetime | None = None,
) -> bool:
    """Record the message that was posted."""
    return (
        Announcement.update(
            status=SENT,
            channel_id=channel_id,
            message_id=message_id,
            posted_at=now or utcnow(),
            error=None,
        )
        .where(_owned(row_id, worker, SENDING))
        .execute()
        == 1
    )


def mark_failed(
    row_id: int, worker: str, error: str, *, retry: bool, now: datetime | None = None
) -> str:
    """Record a failure; a temporary one goes back to pending (tried again after
    :data:`RETRY_DELAY`) until :data:`MAX_ATTEMPTS`. Returns the row's new status.
    """
    with database_proxy.atomic():
        row = Announcement.get_or_none(Announcement.id == row_id)
        if row is None or row.claimed_by != worker or row.status not in (CLAIMED, SENDING):
            return row.status if row is not None else FAILED
        status = PENDING if retry and row.attempts < MAX_ATTEMPTS else FAILED
        Announcement.update(
            status=status, error=error[:_ERROR_CHARS], claimed_at=now or utcnow()
        ).where(Announcement.id == row_id).execute()
    if status == FAILED:
        log.warning("giving up on announcement %s %s: %s", row.kind, row.key, error)
    return status


def mark_silent(row_id: int, worker: str, reason: str) -> bool:
    """A claimed post that will not be sent (its kind is switched off, its data is gone)."""
    return (
        Announcement.update(status=SILENT, error=reason[:_ERROR_CHARS])
        .where(_owned(row_id, worker, CLAIMED))
        .execute()
        == 1
    )


def expire_sending(*, now: datetime | None = None) -> int:
    """Rows stuck in ``sending`` (the process died during the HTTP call) become failed.

    They may or may not have reached Discord; not sending again is the only way to never
    show a post twice. Returns how many rows were expired.
    """
    stale = (now or utcnow()) - STALE_CLAIM
    count = int(
        Announcement.update(status=FAILED, error="interrupted while sending; not retried")
        .where((Announcement.status == SENDING) & (Announcement.claimed_at < stale))
        .execute()
    )
    if count:
        log.warning("%d announcement(s) were interrupted while sending and are not retried", count)
    return count


# --------------------------------------------------------------------------- per-server switches


def _setting_name(kind: str) -> str:
    return f"announce.{kind}"


def kind_enabled(guild_id: int, kind: str) -> bool:
    """Is this kind of post switched on in this server? (All kinds are on by default.)"""
    value = (
        GuildSetting.select(GuildSetting.value)
        .where((GuildSetting.guild_id == guild_id) & (GuildSetting.name == _setting_name(kind)))
        .scalar()
    )
    return value != "off"


def set_kind_enabled(guild_id: int, kind: str, enabled: bool) -> None:
    """Switch a kind of post on or off for a server."""
    value = "on" if enabled else "off"
    (
        GuildSetting.insert(guild_id=guild_id, name=_setting_name(kind), value=value)
        .on_conflict(
            conflict_target=[GuildSetting.guild_id, GuildSetting.name],
            update={GuildSetting.value: value},
        )
        .execute()
    )


def enabled_kinds(guild_id: int, kinds: list[str]) -> dict[str, bool]:
    """The on/off state of each of ``kinds`` in a server."""
    off = {
        name
        for (name,) in GuildSetting.select(GuildSetting.name)
        .where(
            (GuildSetting.guild_id == guild_id)
            & (GuildSetting.name.in_([_setting_name(k) for k in kinds]))
            & (GuildSetting.value == "off")
        )
        .tuples()
    }
    return {k: _setting_name(k) not in off for k in kinds}

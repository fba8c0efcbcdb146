"""The outbox of automatic posts: at most one row per (kind, key), each claimed by one
worker (threads, and separate processes), never re-sent after a crash during sending
(SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from peewee import Database, PostgresqlDatabase

from conftest import PG_URL
from etbot import announce
from etbot.models import Announcement


def test_enqueue_is_idempotent_per_kind_and_key(db: Database) -> None:
    assert announce.enqueue("round_summary", 17) is True
    assert announce.enqueue("round_summary", 17) is False  # a re-import, a second process
    assert announce.enqueue("round_summary", "17") is False  # keys are text
    assert announce.enqueue("map_summary", 17) is True  # another kind, same key
    assert Announcement.select().count() == 2
    assert announce.exists("round_summary", 17)
    assert not announce.exists("round_summary", 18)


def test_silent_rows_are_never_claimed(db: Database) -> None:
    announce.enqueue("milestone", "5:kills_1000", silent=True)
    assert announce.claim("w1") == []
    # ... and they still block a later live enqueue of the same post.
    assert announce.enqueue("milestone", "5:kills_1000") is False


@pytest.mark.parametrize("bad", ["", "x" * 65])
def test_bad_keys_are_refused(db: Database, bad: str) -> None:
    with pytest.raises(ValueError, match="key"):
        announce.enqueue("round_summary", bad)


def test_claim_send_and_mark(db: Database) -> None:
    announce.enqueue("round_summary", 1)
    announce.enqueue("round_summary", 2)
    [first, second] = announce.claim("w1")
    assert (first.key, second.key) == ("1", "2")
    assert announce.claim("w2") == []  # both taken
    assert announce.mark_sending(first.id, "w2") is False  # not w2's claim
    assert announce.mark_sending(first.id, "w1") is True
    assert announce.mark_sent(first.id, "w1", channel_id=10, message_id=99)
    row = Announcement.get_by_id(first.id)
    assert (row.status, row.channel_id, row.message_id) == ("sent", 10, 99)
    assert announce.mark_silent(second.id, "w1", "switched off")
    assert Announcement.get_by_id(second.id).status == "silent"
    assert announce.claim("w1") == []


def test_stale_claim_is_taken_over_but_stale_send_is_not_retried(db: Database) -> None:
    announce.enqueue("map_summary", 7)
    announce.enqueue("map_summary", 8)
    t0 = announce.utcnow()
    [a, b] = announce.claim("dead", now=t0)
    assert announce.mark_sending(b.id, "dead", now=t0)
    later = t0 + announce.STALE_CLAIM + timedelta(seconds=1)
    # The dead worker's unsent claim goes to the next worker; its send in flight does not.
    assert [c.id for c in announce.claim("alive", now=later)] == [a.id]
    assert announce.mark_sending(a.id, "dead") is False  # the old owner lost it
    assert announce.expire_sending(now=later) == 1
    assert Announcement.get_by_id(b.id).status == "failed"
    # Much later only the never-sent row is takeable again (alive's claim went stale too).
    retaken = announce.claim("next", now=later + timedelta(hours=1))
    assert [c.id for c in retaken] == [a.id]


def test_temporary_failures_retry_until_the_limit(db: Database) -> None:
    announce.enqueue("round_summary", 3)
    now = announce.utcnow()
    for attempt in range(1, announce.MAX_ATTEMPTS + 1):
        [claimed] = announce.claim("w", now=now)
        assert claimed.attempts == attempt
        status = announce.mark_failed(claimed.id, "w", "HTTP 503", retry=True, now=now)
        expected = "pending" if attempt < announce.MAX_ATTEMPTS else "failed"
        assert status == expected
        assert announce.claim("w", now=now) == []  # not again at once: it waits
        now += announce.RETRY_DELAY + timedelta(seconds=1)
    assert announce.claim("w", now=now) == []
    assert Announcement.get(Announcement.key == "3").error == "HTTP 503"


def test_permanent_failure_is_not_retried(db: Database) -> None:
    announce.enqueue("round_summary", 4)
    [claimed] = announce.claim("w")
    assert announce.mark_failed(claimed.id, "w", "403 Missing Access", retry=False) == "failed"
    assert announce.claim("w") == []


def test_concurrent_workers_claim_each_row_once(db: Database) -> None:
    for key in range(40):
        announce.enqueue("round_summary", key)
    claimed: dict[str, list[str]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def work(name: str) -> None:
        try:
            db.connect(reuse_if_open=True)
            barrier.wait()
            mine: list[str] = []
            while batch := announce.claim(name, limit=3):
                mine += [c.key for c in batch]
            claimed[name] = mine
        except BaseException as exc:  # noqa: BLE001 reported below, from the main thread
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    keys = [k for mine in claimed.values() for k in mine]
    assert sorted(keys, key=int) == [str(k) for k in range(40)]  # each exactly once


def test_kinds_are_on_by_default_and_switch_per_server(db: Database) -> None:
    assert announce.kind_enabled(1, "round_summary")
    announce.set_kind_enabled(1, "round_summary", False)
    announce.set_kind_enabled(1, "round_summary", False)  # idempotent
    assert not announce.kind_enabled(1, "round_summary")
    assert announce.kind_enabled(2, "round_summary")  # another server
    assert announce.enabled_kinds(1, ["round_summary", "map_summary"]) == {
        "round_summary": False,
        "map_summary": True,
    }
    announce.set_kind_enabled(1, "round_summary", True)
    assert announce.kind_enabled(1, "round_summary")


#: One bot process's poster loop without Discord: claim, mark sending, "send" (write the
#: key to the output file), mark sent. Starts when the go-file appears.
CLAIM_WORKER = """
import sys, time
from pathlib import Path
from etbot import announce
from etbot.db import open_database

url, worker, go, out = sys.argv[1:]
open_database(url, migrate_schema=False)
while not Path(go).exists():
    time.sleep(0.001)
sent = []
while batch := announce.claim(worker, limit=2):
    for row in batch:
        if announce.mark_sending(row.id, worker):
            sent.append(row.key)
            assert announce.mark_sent(row.id, worker, channel_id=1, message_id=len(sent))
Path(out).write_text("\\n".join(sent))
"""


def test_bot_processes_draining_one_outbox_send_each_post_once(
    db: Database, tmp_path: Path
) -> None:
    """Four OS processes drain one outbox at the same moment (SQLite and PostgreSQL):
    every post is sent by exactly one of them (the conditional claim, across processes)."""
    url = str(PG_URL) if isinstance(db, PostgresqlDatabase) else f"sqlite:///{db.database}"
    keys = [str(k) for k in range(300)]
    for key in keys:
        announce.enqueue("round_summary", key)
    go = tmp_path / "go"
    outs = [tmp_path / f"sent-{i}.txt" for i in range(4)]
    procs = [
        subprocess.Popen(  # noqa: S603 this interpreter, our own script
            [sys.executable, "-c", CLAIM_WORKER, url, f"w{i}", str(go), str(out)],
            stderr=subprocess.PIPE,
        )
        for i, out in enumerate(outs)
    ]
    try:
        go.touch()
        errors = [p.communicate(timeout=300)[1] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0] * 4, errors
    sent = {f"w{i}": out.read_text().split() for i, out in enumerate(outs)}
    assert sorted(k for ks in sent.values() for k in ks) == sorted(keys)  # each exactly once
    rows = {a.key: a for a in Announcement.select()}
    for worker, worker_keys in sent.items():
        assert {rows[k].claimed_by for k in worker_keys} <= {worker}
    assert {a.status for a in rows.values()} == {"sent"}

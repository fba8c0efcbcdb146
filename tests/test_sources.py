"""The local folder watcher: new stats files reach the importer only once fully written."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from peewee import Database

from conftest import corpus_files, evening, until
from etbot.ingest import Importer, ImportReport
from etbot.models import Round
from etbot.sources.local import FolderWatcher, SettleRules, wait_until_settled, watch_folder


async def test_slowly_written_file_is_handed_over_once_complete(tmp_path: Path) -> None:
    source = corpus_files()[0]
    data = source.read_bytes()
    seen: list[tuple[Path, bytes]] = []
    stop = asyncio.Event()
    got_one = asyncio.Event()

    async def on_files(paths: list[Path]) -> None:
        for path in paths:
            seen.append((path, path.read_bytes()))
        got_one.set()

    watcher = asyncio.create_task(
        watch_folder(tmp_path, on_files, stop_event=stop, settle=0.6, debounce_ms=100)
    )
    await asyncio.sleep(0.5)  # watcher running
    (tmp_path / "notes.log").write_text("not a stats file")
    target = tmp_path / source.name
    with target.open("wb") as fh:  # the game server writes in two bursts
        fh.write(data[: len(data) // 2])
        fh.flush()
        await asyncio.sleep(0.3)
        fh.write(data[len(data) // 2 :])
    await asyncio.wait_for(got_one.wait(), timeout=15)
    stop.set()
    await asyncio.wait_for(watcher, timeout=5)
    assert [p for p, _ in seen] == [target]
    assert seen[0][1] == data  # never the half-written file


async def test_callback_errors_do_not_stop_the_watch(tmp_path: Path) -> None:
    files = corpus_files()[:2]
    calls: list[list[Path]] = []
    stop = asyncio.Event()

    async def on_files(paths: list[Path]) -> None:
        calls.append(paths)
        if len(calls) == 1:
            raise RuntimeError("database down")

    watcher = asyncio.create_task(
        watch_folder(tmp_path, on_files, stop_event=stop, settle=0.2, debounce_ms=100)
    )
    await asyncio.sleep(0.5)
    for path in files:
        (tmp_path / path.name).write_bytes(path.read_bytes())
        for _ in range(200):
            if len(calls) >= files.index(path) + 1:
                break
            await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(watcher, timeout=5)
    assert [p.name for batch in calls for p in batch] == [p.name for p in files]


async def test_wait_until_settled_reports_a_vanished_file(tmp_path: Path) -> None:
    path = tmp_path / "gone.txt"
    path.write_text("x")
    path.unlink()
    result = await wait_until_settled(path, SettleRules(settle=0.1, poll=0.01))
    assert not result.ok
    assert result.vanished


# --------------------------------------------------------------------------- hardening
# Issue 12: one bad file must never stall the watch (item 1), files written during the
# start-up import are imported (item 3), files settle concurrently (item 10).


async def _until_watching(folder: Path, seen: list[str]) -> None:
    """Rewrite a probe file until the watcher hands it over: it is live from then on."""
    probe = folder / "probe.txt"
    for attempt in range(200):
        if "probe.txt" in seen:
            return
        if attempt % 10 == 0:
            probe.write_text(f"probe {attempt}")
        await asyncio.sleep(0.05)
    raise AssertionError("the watcher never reported the probe file")


async def test_an_empty_file_is_rejected_and_later_files_still_imported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = corpus_files()[0]
    seen: list[str] = []
    stop = asyncio.Event()

    async def on_files(paths: list[Path]) -> None:
        seen.extend(p.name for p in paths)

    caplog.set_level(logging.INFO, logger="etbot.sources")
    watcher = asyncio.create_task(
        watch_folder(tmp_path, on_files, stop_event=stop, settle=0.2, debounce_ms=50)
    )
    try:
        await _until_watching(tmp_path, seen)
        (tmp_path / "empty.txt").write_bytes(b"")  # disk full / crash mid-write
        (tmp_path / good.name).write_bytes(good.read_bytes())
        await until(lambda: good.name in seen, "the file after the empty one is imported")
        await until(lambda: "empty.txt" in caplog.text, "the empty file is logged")
    finally:
        stop.set()
        await asyncio.wait_for(watcher, timeout=10)
    assert "empty.txt" not in seen
    line = next(r.getMessage() for r in caplog.records if "empty.txt" in r.getMessage())
    assert "empty" in line.replace("empty.txt", "")  # says why, not only which file


async def test_a_fifo_named_txt_is_rejected_and_later_files_still_imported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = corpus_files()[0]
    seen: list[str] = []
    stop = asyncio.Event()

    async def on_files(paths: list[Path]) -> None:
        seen.extend(p.name for p in paths)

    caplog.set_level(logging.INFO, logger="etbot.sources")
    watcher = asyncio.create_task(
        watch_folder(tmp_path, on_files, stop_event=stop, settle=0.2, debounce_ms=50)
    )
    try:
        await _until_watching(tmp_path, seen)
        os.mkfifo(tmp_path / "pipe.txt")  # reading it would block forever
        (tmp_path / good.name).write_bytes(good.read_bytes())
        await until(lambda: good.name in seen, "the file after the FIFO is imported")
        await until(lambda: "pipe.txt" in caplog.text, "the FIFO is logged")
    finally:
        stop.set()
        await asyncio.wait_for(watcher, timeout=10)
    assert "pipe.txt" not in seen
    assert "not a regular file" in caplog.text


async def test_a_file_still_growing_does_not_hold_up_the_others(tmp_path: Path) -> None:
    """Files settle concurrently: complete files are imported while another is still being
    written, and the growing file is imported whole once its writer stops."""
    files = corpus_files()[:20]
    seen: dict[str, bytes] = {}
    stop = asyncio.Event()
    writing = True

    async def on_files(paths: list[Path]) -> None:
        for path in paths:
            seen[path.name] = path.read_bytes()

    growing = tmp_path / "2000-01-01-000000-slow-round-1.txt"  # sorts before the others
    written = bytearray()

    async def slow_writer() -> None:
        """Appends a line every 20 ms until the test says stop, then a last line."""
        with growing.open("wb") as fh:
            for i in itertools.count():
                line = f"line {i}\n".encode()
                fh.write(line)
                fh.flush()
                written.extend(line)
                if not writing:
                    return
                await asyncio.sleep(0.02)

    watcher = asyncio.create_task(
        watch_folder(tmp_path, on_files, stop_event=stop, settle=0.2, debounce_ms=50)
    )
    writer = asyncio.create_task(slow_writer())
    try:
        await until(lambda: growing.exists(), "the slow writer started")
        for path in files:
            (tmp_path / path.name).write_bytes(path.read_bytes())
        await until(lambda: all(p.name in seen for p in files), "complete files imported meanwhile")
        assert not writer.done()  # …while the slow file is still being written
        assert growing.name not in seen
        writing = False
        await writer
        await until(lambda: growing.name in seen, "the slow file imported once complete")
    finally:
        writing = False
        stop.set()
        await asyncio.wait_for(watcher, timeout=10)
    assert seen[growing.name] == bytes(written)  # all of it, never a part
    assert all(seen[p.name] == p.read_bytes() for p in files)


class VirtualClock:
    """Virtual time for the settle loops: ``sleep`` waits until the test advances the clock
    to the sleeper's wake-up time, so a test spanning minutes runs in milliseconds and
    measures time the code *would* take, deterministically."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def time(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + delay, next(self._order), future))
        await future

    async def run_until(self, condition: Callable[[], bool], *, limit: float) -> None:
        """Let every task run until it sleeps, then jump to the next wake-up; repeat."""
        while True:
            for _ in range(20):  # woken tasks run to their next sleep (no threads involved)
                await asyncio.sleep(0)
            if condition():
                return
            if not self._sleepers:
                raise AssertionError("nothing left to wake and the condition is not met")
            wake = self._sleepers[0][0]
            if wake > limit:
                raise AssertionError(f"not done after {limit} s of virtual time")
            self.now = wake
            while self._sleepers and self._sleepers[0][0] <= wake:
                heapq.heappop(self._sleepers)[2].set_result(None)


async def test_settling_a_complete_file_takes_the_settle_time(tmp_path: Path) -> None:
    path = tmp_path / "round.txt"
    path.write_bytes(b"complete")
    clock = VirtualClock()
    task = asyncio.create_task(
        wait_until_settled(
            path,
            SettleRules(settle=1.0, poll=0.25, deadline=5),
            clock=clock.time,
            sleep=clock.sleep,
        )
    )
    await clock.run_until(task.done, limit=10)
    result = task.result()
    assert result.ok
    assert result.size == len(b"complete")
    assert clock.now == 1.0  # four unchanged polls, no more


async def test_an_empty_file_is_rejected_once_settled(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    clock = VirtualClock()
    task = asyncio.create_task(
        wait_until_settled(
            path,
            SettleRules(settle=1.0, poll=0.25, deadline=60),
            clock=clock.time,
            sleep=clock.sleep,
        )
    )
    await clock.run_until(task.done, limit=100)
    result = task.result()
    assert not result.ok
    assert not result.vanished
    assert "empty" in (result.problem or "")
    assert clock.now == 1.0  # rejected as soon as it is settled, not at the deadline


async def test_a_file_that_never_settles_is_given_up_at_its_deadline(tmp_path: Path) -> None:
    path = tmp_path / "endless.txt"
    path.write_bytes(b"x")
    clock = VirtualClock()

    async def writer_keeps_writing(delay: float) -> None:
        with path.open("ab") as fh:  # between two polls the file grows again
            fh.write(b"x")
        await clock.sleep(delay)

    task = asyncio.create_task(
        wait_until_settled(
            path,
            SettleRules(settle=1.0, poll=0.25, deadline=5),
            clock=clock.time,
            sleep=writer_keeps_writing,
        )
    )
    await clock.run_until(task.done, limit=100)
    result = task.result()
    assert not result.ok
    assert result.problem == "still being written after 5 s"
    assert clock.now == 5.0


async def test_a_burst_of_1000_files_settles_concurrently(tmp_path: Path) -> None:
    """Settled one after another, 1,000 files take 1,000 settle periods (~17 min at 1 s);
    concurrently they take one, in virtual time."""
    names = [f"2025-01-01-{i:06d}-map-round-1.txt" for i in range(1000)]
    for name in names:
        (tmp_path / name).write_bytes(b"round " + name.encode())
    clock = VirtualClock()
    handed: list[list[Path]] = []

    async def on_files(paths: list[Path]) -> None:
        handed.append(paths)

    rules = SettleRules(settle=1.0, poll=0.25, deadline=60)
    watcher = FolderWatcher(tmp_path, on_files, rules=rules, clock=clock.time, sleep=clock.sleep)
    handover = asyncio.create_task(watcher.handover())
    try:
        watcher.consider(tmp_path / name for name in names)
        await clock.run_until(lambda: sum(map(len, handed)) >= 1000, limit=60)
    finally:
        handover.cancel()
    assert sorted(p.name for batch in handed for p in batch) == names  # each exactly once
    assert clock.now <= rules.settle + rules.poll
    assert len(handed) <= 2  # handed over in bulk, not one import per file


async def test_files_written_during_the_start_up_import_are_imported_once(
    tmp_path: Path,
) -> None:
    files = corpus_files()[:4]
    for path in files[:3]:
        (tmp_path / path.name).write_bytes(path.read_bytes())
    late, later = files[3], corpus_files()[4]
    existing_calls: list[Path] = []
    handed: list[str] = []
    stop = asyncio.Event()

    async def on_existing(folder: Path) -> None:
        existing_calls.append(folder)
        # The game server ends a round while the start-up import is still running.
        (folder / late.name).write_bytes(late.read_bytes())
        await asyncio.sleep(0.3)

    async def on_files(paths: list[Path]) -> None:
        handed.extend(p.name for p in paths)

    watcher = FolderWatcher(
        tmp_path,
        on_files,
        on_existing=on_existing,
        rules=SettleRules(settle=0.2, poll=0.05, deadline=10),
        debounce_ms=50,
    )
    task = asyncio.create_task(watcher.run(stop))
    try:
        await until(lambda: late.name in handed, "the round written during the import")
        (tmp_path / later.name).write_bytes(later.read_bytes())
        await until(lambda: later.name in handed, "a round written afterwards")
        await until(lambda: watcher.idle, "nothing left to settle")
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    assert existing_calls == [tmp_path]
    # The files already there went to the start-up import only; the others came once each.
    assert handed == [late.name, later.name]


async def test_a_truncated_file_is_rejected_by_the_import_and_the_next_one_imported(
    db: Database, tmp_path: Path
) -> None:
    """Into a real database on both backends: the watcher hands a truncated file over (it
    cannot know), the importer rejects it with its reason, and the round after it is
    imported."""
    whole = next(p for p in sorted(evening(corpus_files())) if p.name.endswith("round-1.txt"))
    data = whole.read_bytes()
    truncated = tmp_path / "2025-10-02-000000-crash-round-1.txt"
    reports: list[ImportReport] = []
    stop = asyncio.Event()

    async def on_files(paths: list[Path]) -> None:
        reports.append(Importer().import_paths(paths))

    watcher = asyncio.create_task(
        watch_folder(tmp_path, on_files, stop_event=stop, settle=0.2, debounce_ms=50)
    )
    try:
        await _until_watching_with(tmp_path, reports)
        truncated.write_bytes(data[: data.index(b"\n") + 40])  # the header and a broken line
        (tmp_path / whole.name).write_bytes(data)
        await until(lambda: sum(r.imported for r in reports) >= 1, "the complete round is imported")
    finally:
        stop.set()
        await asyncio.wait_for(watcher, timeout=10)
    rejected = dict(item for r in reports for item in r.rejected)
    assert rejected.get(truncated.name)  # with its reason
    assert Round.select().where(Round.file_name == whole.name).exists()
    assert not Round.select().where(Round.file_name == truncated.name).exists()


async def _until_watching_with(folder: Path, reports: list[ImportReport]) -> None:
    """Like :func:`_until_watching`, for a callback that imports (the probe is rejected)."""
    probe = folder / "probe.txt"
    for attempt in range(200):
        if any(name == "probe.txt" for r in reports for name, _ in r.rejected):
            return
        if attempt % 10 == 0:
            probe.write_text(f"probe {attempt}")
        await asyncio.sleep(0.05)
    raise AssertionError("the watcher never reported the probe file")


async def test_a_writer_that_pauses_longer_than_the_settle_time_gets_its_round_whole(
    db: Database, tmp_path: Path
) -> None:
    """Issue 12, item 11, end to end on both backends: the writer stops after half the
    player lines for longer than the settle time, so that half is imported as a round;
    when the writer finishes, the complete file replaces it (before: refused for good as
    'a different file with the same name')."""
    whole = next(p for p in sorted(evening(corpus_files())) if p.name.endswith("round-1.txt"))
    data = whole.read_bytes()
    lines = data.split(b"\n")
    players = [line for line in lines[1:] if line.strip()]
    assert len(players) >= 4
    half = b"\n".join(lines[: 1 + len(players) // 2]) + b"\n"
    reports: list[ImportReport] = []
    stop = asyncio.Event()

    async def on_files(paths: list[Path]) -> None:
        reports.append(Importer().import_paths(paths))

    watcher = asyncio.create_task(
        watch_folder(tmp_path, on_files, stop_event=stop, settle=0.2, debounce_ms=50)
    )
    target = tmp_path / whole.name
    try:
        await _until_watching_with(tmp_path, reports)
        target.write_bytes(half)  # …and the writer pauses
        await until(lambda: sum(r.imported for r in reports) == 1, "the half round imported")
        with target.open("ab") as fh:  # the writer goes on
            fh.write(data[len(half) :])
        await until(lambda: sum(r.replaced for r in reports) == 1, "the whole round replaces it")
    finally:
        stop.set()
        await asyncio.wait_for(watcher, timeout=10)
    assert not any(name == whole.name for r in reports for name, _ in r.rejected)
    (stored,) = Round.select().where(Round.file_name == whole.name)
    assert stored.player_count == len(players)

"""The local folder watcher: new stats files reach the importer only once fully written."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import corpus_files, is_probe, until_watching
from etbot.sources.local import wait_until_settled, watch_folder


async def test_wait_until_settled_waits_for_the_last_write(tmp_path: Path) -> None:
    """On a fake clock: an empty file, then two bursts; handed over one full ``settle``
    after the last change (checked every ``poll``), never earlier."""
    data = corpus_files()[0].read_bytes()
    path = tmp_path / "round.txt"
    path.write_bytes(b"")  # the game server created the file but wrote nothing yet
    writes = {2.0: data[: len(data) // 2], 2.75: data[len(data) // 2 :]}  # pause < settle
    now = 0.0

    async def sleep(seconds: float) -> None:
        nonlocal now
        now += seconds
        for at in [at for at in writes if at <= now]:
            with path.open("ab") as fh:
                fh.write(writes.pop(at))

    settled = await wait_until_settled(path, settle=1.0, poll=0.25, clock=lambda: now, sleep=sleep)
    assert settled and path.read_bytes() == data
    assert now == pytest.approx(2.75 + 1.0)


async def test_wait_until_settled_reports_a_vanished_file(tmp_path: Path) -> None:
    path = tmp_path / "gone.txt"
    path.write_text("x")
    now = 0.0

    async def sleep(seconds: float) -> None:
        nonlocal now
        now += seconds
        path.unlink()

    settled = await wait_until_settled(path, settle=1.0, poll=0.25, clock=lambda: now, sleep=sleep)
    assert settled is False and now == 0.25  # gone at the first look after the first poll
    assert await wait_until_settled(path, settle=0.1, poll=0.01) is False


async def test_slowly_written_file_is_handed_over_once_complete(tmp_path: Path) -> None:
    """The real watcher (inotify) end to end; the settle rule itself is tested above."""
    source = corpus_files()[0]
    data = source.read_bytes()
    seen: list[tuple[Path, bytes]] = []
    probes: list[Path] = []
    stop = asyncio.Event()
    got_one = asyncio.Event()

    async def on_files(paths: list[Path]) -> None:
        for path in paths:
            if is_probe(path):
                probes.append(path)
                continue
            seen.append((path, path.read_bytes()))
            got_one.set()

    watcher = asyncio.create_task(
        watch_folder(tmp_path, on_files, stop_event=stop, settle=0.6, debounce_ms=100)
    )
    await until_watching(tmp_path, lambda: bool(probes))
    (tmp_path / "notes.log").write_text("not a stats file")
    target = tmp_path / source.name
    with target.open("wb") as fh:  # the game server writes in two bursts
        fh.write(data[: len(data) // 2])
        fh.flush()
        # A real pause (the watcher watches the real filesystem), shorter than settle.
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
    probes: list[Path] = []
    stop = asyncio.Event()
    called = asyncio.Condition()

    async def on_files(paths: list[Path]) -> None:
        probes.extend(p for p in paths if is_probe(p))
        real = [p for p in paths if not is_probe(p)]
        if not real:
            return
        async with called:
            calls.append(real)
            called.notify_all()
        if len(calls) == 1:
            raise RuntimeError("database down")

    watcher = asyncio.create_task(
        watch_folder(tmp_path, on_files, stop_event=stop, settle=0.2, debounce_ms=100)
    )
    await until_watching(tmp_path, lambda: bool(probes))

    def calls_reached(n: int) -> Callable[[], bool]:
        return lambda: len(calls) >= n

    for n, path in enumerate(files, start=1):
        (tmp_path / path.name).write_bytes(path.read_bytes())
        async with called:
            await asyncio.wait_for(called.wait_for(calls_reached(n)), timeout=15)
    stop.set()
    await asyncio.wait_for(watcher, timeout=5)
    assert [p.name for batch in calls for p in batch] == [p.name for p in files]

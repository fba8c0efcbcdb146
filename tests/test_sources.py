"""The local folder watcher: new stats files reach the importer only once fully written."""

from __future__ import annotations

import asyncio
from pathlib import Path

from conftest import corpus_files
from etbot.sources.local import wait_until_settled, watch_folder


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
    assert await wait_until_settled(path, settle=0.1, poll=0.01) is False

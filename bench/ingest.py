"""Ingest benchmark: parse only, full import of one folder, and growth with the history.

The real corpus (``../shared/corpus/real``) is repeated until ``--files`` files (default
5,140, the folder the issue measures): repetition *k* renames the server in the header
(so each copy is a distinct file, with its own content hash) and moves the dates in the
file names *k* × 600 days later (the corpus spans ~560 days), so the copies read like
one long history of a community with several servers — pairing, differential, aliases,
sessions, the per-day aggregates and the batch hooks (ratings, betting, milestones) all
do their real work, on realistic amounts per day.

The full import writes the files into ONE folder and imports it as ``etbot import
FOLDER`` does (``Importer().import_paths``: bulk, files prepared in worker processes)
into a fresh database: SQLite (WAL) in a temporary folder by default, or
``--database-url postgresql://…`` (every etbot table there is DROPPED first).

``--growth 10000,50000,100000`` then fills a fresh database up to each size and times
importing the next ``--growth-batch`` files, to show that the cost per file stays flat
as the history grows.

    python bench/ingest.py [--files 5140] [--runs 3] [--database-url URL] [--workers N]
    python bench/ingest.py --growth 10000,50000,100000 [--growth-batch 1000]

Every result line ends with the load average (1, 5, 15 minutes) when it was taken: the
machine has 2 cores and is often shared, so read the numbers with it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from etbot.db import drop_everything, migrate, open_database, redact_url
from etbot.ingest import Importer
from etbot.models import PlayerRound
from etbot.statsfile import ParseError, parse_round

# ../shared/corpus beside the checkout, or ETBOT_CORPUS (as for the tests).
CORPUS = (
    os.environ.get("ETBOT_CORPUS")
    or Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
)
DEFAULT_CORPUS = Path(CORPUS) / "real"


def read_corpus(corpus: Path) -> list[tuple[str, bytes]]:
    originals = [(p.name, p.read_bytes()) for p in sorted(corpus.glob("*.txt"))]
    if not originals:
        sys.exit(f"no stats files in {corpus}")
    return originals


def repeated(
    originals: list[tuple[str, bytes]], start: int, stop: int
) -> Iterator[tuple[str, bytes]]:
    """Files ``start`` … ``stop - 1`` of the corpus repeated (see the module docstring)."""
    n = len(originals)
    for i in range(start, stop):
        k, j = divmod(i, n)
        name, data = originals[j]
        header, sep, rest = data.partition(b"\n")
        server, _, tail = header.partition(b"\\")
        yield shift_name(name, k * 600), server + b" #%d\\" % k + tail + sep + rest


def load_files(corpus: Path, target: int) -> list[tuple[str, bytes]]:
    """At least ``target`` files: whole copies of the corpus (kept for other scripts)."""
    originals = read_corpus(corpus)
    whole = -(-target // len(originals)) * len(originals)
    return list(repeated(originals, 0, whole))


def shift_name(name: str, days: int) -> str:
    """The same stats file name, ``days`` later."""
    ended = datetime.strptime(name[:17], "%Y-%m-%d-%H%M%S") + timedelta(days=days)
    return ended.strftime("%Y-%m-%d-%H%M%S") + name[17:]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def write_folder(folder: Path, files: Iterator[tuple[str, bytes]]) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for name, data in files:
        (folder / name).write_bytes(data)
        count += 1
    return count


def fresh_database(url: str | None, tmp: Path) -> tuple[object, str]:
    """An empty, migrated database and how to name it."""
    if url is None:
        return open_database(f"sqlite:///{tmp}/bench.db"), "SQLite WAL"
    db = open_database(url, migrate_schema=False)
    drop_everything(db)
    migrate(db)
    return db, f"PostgreSQL {redact_url(url)}"


def bench_parse(files: list[tuple[str, bytes]]) -> None:
    start = time.perf_counter()
    players = 0
    for name, data in files:
        with contextlib.suppress(ParseError):
            players += len(parse_round(data, name).players)
    elapsed = time.perf_counter() - start
    print(
        f"parse only   : {len(files):6d} files in {elapsed:6.2f} s = "
        f"{len(files) / elapsed:6.0f} files/s, {players / elapsed:7.0f} player-rounds/s"
        f"  (1 process; {load()})"
    )


def import_folder(folder: Path, workers: int | None, batch: int | None) -> tuple[float, float, int]:
    """Import one folder (bulk, as ``etbot import``): (seconds, CPU seconds of this
    process — the importer, without its parse workers — and files imported)."""
    start = time.perf_counter()
    cpu = time.process_time()
    options: dict[str, int] = {}  # only those given (so older versions can be timed too)
    if workers is not None:
        options["workers"] = workers
    if batch is not None:
        options["batch_size"] = batch
    report = Importer().import_paths([folder], **options)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    if report.rejected[:1] and not all("header only" in r for _, r in report.rejected):
        print(f"  rejected: {report.rejected[:3]}")
    return elapsed, cpu, report.imported


def bench_import(
    originals: list[tuple[str, bytes]],
    count: int,
    url: str | None,
    workers: int | None,
    batch: int | None,
) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        folder = tmp / "gamestats"
        write_folder(folder, repeated(originals, 0, count))
        db, what = fresh_database(url, tmp)
        elapsed, cpu, imported = import_folder(folder, workers, batch)
        rows = PlayerRound.select().count()
        db.close()  # type: ignore[attr-defined]
    print(
        f"full import  : {count:6d} files in {elapsed:6.2f} s = {count / elapsed:6.0f} files/s, "
        f"{rows / elapsed:7.0f} player-rounds/s  ({imported} imported, {rows} player-rounds, "
        f"{what}, workers {'default' if workers is None else workers}; "
        f"importer CPU {cpu:.2f} s = {count / cpu:.0f} files per CPU-second; {load()})"
    )


def bench_growth(
    originals: list[tuple[str, bytes]],
    sizes: list[int],
    batch_files: int,
    url: str | None,
    workers: int | None,
    batch: int | None,
) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db, what = fresh_database(url, tmp)
        print(f"growth ({what}): the next {batch_files} files with N files already imported")
        done = 0
        for size in sorted(sizes):
            if size > done:
                fill = tmp / f"fill-{size}"
                write_folder(fill, repeated(originals, done, size))
                elapsed, _, _ = import_folder(fill, workers, batch)
                shutil.rmtree(fill)
                print(
                    f"  fill {done:6d} -> {size:6d}: {(size - done) / elapsed:6.0f} files/s "
                    f"({elapsed:.1f} s; {load()})"
                )
                done = size
            rows_before = PlayerRound.select().count()
            step = tmp / f"next-{size}"
            write_folder(step, repeated(originals, done, done + batch_files))
            elapsed, cpu, imported = import_folder(step, workers, batch)
            shutil.rmtree(step)
            rows = PlayerRound.select().count() - rows_before
            done += batch_files
            print(
                f"  at {size:6d} files: next {batch_files} in {elapsed:5.2f} s = "
                f"{batch_files / elapsed:6.0f} files/s, {rows / elapsed:7.0f} player-rounds/s "
                f"({imported} imported; importer CPU {cpu:.2f} s; {load()})"
            )
        db.close()  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5140)
    parser.add_argument("--runs", type=int, default=1, help="full imports to time")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument(
        "--database-url", help="postgresql://… (its etbot tables are dropped!); default SQLite"
    )
    parser.add_argument("--workers", type=int, help="parse worker processes (0: none)")
    parser.add_argument("--batch", type=int, help="files per transaction (default: bulk size)")
    parser.add_argument("--no-parse", action="store_true", help="skip the parse-only line")
    parser.add_argument("--growth", help="sizes, e.g. 10000,50000,100000 (instead of --files)")
    parser.add_argument("--growth-batch", type=int, default=1000)
    args = parser.parse_args()
    originals = read_corpus(args.corpus)
    Importer()  # imports every feature module its hooks use: once per process, not timed
    if args.growth:
        sizes = [int(s) for s in args.growth.split(",")]
        bench_growth(
            originals, sizes, args.growth_batch, args.database_url, args.workers, args.batch
        )
        return
    if not args.no_parse:
        bench_parse(list(repeated(originals, 0, args.files)))
    for _ in range(args.runs):
        bench_import(originals, args.files, args.database_url, args.workers, args.batch)


if __name__ == "__main__":
    main()

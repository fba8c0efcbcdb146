"""Ingest benchmark: parse-only and full import into a fresh SQLite database.

The real corpus (``../shared/corpus/real``) is repeated until at least ``--files`` files
(default 10,000): repetition *k* renames the server in the header (so each copy is a
distinct file, with its own content hash) and moves the dates in the file names *k*
× 600 days later (the corpus spans ~560 days), so the copies read like one long
history of a community with several servers — pairing, differential, aliases, sessions
and the per-day aggregates all do their real work, on realistic amounts per day.

    python bench/ingest.py [--files 10000] [--corpus PATH] [--batch 200]

Prints files/s and player-rounds/s for each phase.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from etbot.db import open_database
from etbot.ingest import Importer
from etbot.statsfile import ParseError, parse_round

# ../shared/corpus beside the checkout, or ETBOT_CORPUS (as for the tests).
CORPUS = (
    os.environ.get("ETBOT_CORPUS")
    or Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
)
DEFAULT_CORPUS = Path(CORPUS) / "real"


def load_files(corpus: Path, target: int) -> list[tuple[str, bytes]]:
    originals = [(p.name, p.read_bytes()) for p in sorted(corpus.glob("*.txt"))]
    if not originals:
        sys.exit(f"no stats files in {corpus}")
    files: list[tuple[str, bytes]] = []
    k = 0
    while len(files) < target:
        for name, data in originals:
            header, sep, rest = data.partition(b"\n")
            server, _, tail = header.partition(b"\\")
            files.append((shift_name(name, k * 600), server + b" #%d\\" % k + tail + sep + rest))
        k += 1
    return files


def shift_name(name: str, days: int) -> str:
    """The same stats file name, ``days`` later."""
    ended = datetime.strptime(name[:17], "%Y-%m-%d-%H%M%S") + timedelta(days=days)
    return ended.strftime("%Y-%m-%d-%H%M%S") + name[17:]


def bench_parse(files: list[tuple[str, bytes]]) -> None:
    start = time.perf_counter()
    players = 0
    ok = 0
    for name, data in files:
        try:
            players += len(parse_round(data, name).players)
            ok += 1
        except ParseError:
            pass
    elapsed = time.perf_counter() - start
    print(
        f"parse only : {len(files):6d} files in {elapsed:6.2f} s = "
        f"{len(files) / elapsed:8.0f} files/s, {players / elapsed:9.0f} player-rounds/s"
    )


def bench_import(files: list[tuple[str, bytes]], batch: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(f"sqlite:///{tmp}/bench.db")
        importer = Importer()
        start = time.perf_counter()
        results = []
        for i in range(0, len(files), batch):
            results += importer.import_many(files[i : i + batch])
        elapsed = time.perf_counter() - start
        from etbot.models import PlayerRound

        rows = PlayerRound.select().count()
        imported = sum(1 for r in results if r.status == "imported")
        db.close()
    print(
        f"full import: {len(files):6d} files in {elapsed:6.2f} s = "
        f"{len(files) / elapsed:8.0f} files/s, {rows / elapsed:9.0f} player-rounds/s "
        f"({imported} imported, {rows} player-rounds, SQLite WAL, batch {batch})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    files = load_files(args.corpus, args.files)
    bench_parse(files)
    bench_import(files, args.batch)


if __name__ == "__main__":
    main()

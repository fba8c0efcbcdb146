"""Write a synthetic ET:Legacy stats history for benchmarks.

Usage: ``python bench/gen_history.py OUT_DIR [--players N] [--years Y] [--seed S]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from etbot.synth import generate_history


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, generate the history and print its summary and the time taken."""
    ap = argparse.ArgumentParser(description="Generate a synthetic stats-file history.")
    ap.add_argument("out_dir", type=Path, help="folder to write the files into")
    ap.add_argument("--players", type=int, default=3000, help="distinct GUIDs (default 3000)")
    ap.add_argument("--years", type=float, default=5.0, help="history length (default 5)")
    ap.add_argument("--servers", type=int, default=2, help="servers (default 2)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()

    def progress(files: int) -> None:
        print(f"\r{files:>8} files  {time.perf_counter() - t0:7.1f} s", end="", file=sys.stderr)

    summary = generate_history(
        args.out_dir,
        players=args.players,
        years=args.years,
        servers=args.servers,
        seed=args.seed,
        progress=progress if sys.stderr.isatty() else None,
    )
    elapsed = time.perf_counter() - t0
    print(file=sys.stderr)
    print(f"out_dir        {args.out_dir}")
    print(f"files          {summary.files}")
    print(f"rounds         {summary.rounds}")
    print(f"maps           {summary.maps}")
    print(f"sessions       {summary.sessions}")
    print(f"player_rounds  {summary.player_rounds}")
    print(f"players        {summary.players}")
    print(f"orphans        {summary.orphans}")
    print(f"resets         {summary.resets}")
    print(f"substitutes    {summary.substitutes}")
    print(f"first          {summary.first}")
    print(f"last           {summary.last}")
    for key, days in summary.weekdays.items():
        print(f"weekdays {key or '(single)'}: {days}")
    print(f"time           {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

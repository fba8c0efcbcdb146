"""A separate OS process that bets on one pool (tests/test_betting_stress.py).

Usage: ``python tests/betting_worker.py DATABASE_URL POOL_ID GUILD SEED COUNT OUT.json``.
Places ``COUNT`` bets from a shared set of members (some with interaction ids that the
other worker uses too, as if Discord delivered one interaction to two bot processes) and
writes every attempt as JSON: member, side, amount, key, when it started (wall clock),
and the outcome.
"""

from __future__ import annotations

import json
import random
import sys
import time
from typing import Any

from etbot import betting
from etbot.db import open_database

MEMBERS = 40
SHARED_KEYS = 60


def main(argv: list[str]) -> int:
    url, pool, guild, seed, count, out = argv
    open_database(url, migrate_schema=False)
    rng = random.Random(int(seed))
    rules = betting.Rules()
    attempts: list[dict[str, Any]] = []
    for n in range(int(count)):
        member = 5000 + rng.randrange(MEMBERS)
        # Shared keys carry the same bet in both workers (one interaction, two processes).
        if rng.random() < 0.3:
            k = rng.randrange(SHARED_KEYS)
            key = f"bet:shared-{k}"
            shared = random.Random(k)
            member = 5000 + shared.randrange(MEMBERS)
            side, amount = 1 + member % 2, shared.randint(1, 30)
        else:
            key = f"bet:w{seed}-{n}"
            side, amount = 1 + member % 2, rng.randint(1, 30)
            if rng.random() < 0.1:
                side = 3 - side  # sometimes the other side: refused once they backed one
        started = time.time()
        try:
            receipt = betting.place_bet(int(pool), int(guild), member, side, amount, key, rules)
            outcome = "duplicate" if receipt.duplicate else "accepted"
        except betting.BettingError as exc:
            outcome = type(exc).__name__
        attempts.append(
            {
                "member": member,
                "side": side,
                "amount": amount,
                "key": key,
                "started": started,
                "outcome": outcome,
            }
        )
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(attempts, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

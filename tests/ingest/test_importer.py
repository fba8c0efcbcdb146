"""The importer stores exactly what the pure parts derive (SQLite and PostgreSQL).

The behaviour tests of the import as a whole (pairing on the corpus, orphans, resets,
aliases, sessions, order independence, rollback) are in tests/test_ingest.py; this
module checks that the database path — round 1 read back from the database, rows
written with the hand-built SQL — gives the same values as the pure differential on
the parsed files, for every stored round.
"""

from __future__ import annotations

import zlib
from typing import Any

from etbot.ingest.differential import WEAPON_COUNTERS, derive_player, differential
from etbot.models import Player, PlayerRound, Round, SourceFile, WeaponRound
from etbot.statsfile import parse_round


def test_every_stored_row_is_the_pure_differential_of_its_files(corpus: Any) -> None:
    parsed_source = {
        s.id: parse_round(zlib.decompress(s.content), s.file_name) for s in SourceFile.select()
    }
    rounds = list(Round.select(Round.id, Round.source, Round.round1, Round.round_no))
    parsed = {r.id: parsed_source[r.source_id] for r in rounds}
    guid = {p.id: p.guid for p in Player.select(Player.id, Player.guid)}
    stored = {(row["round"], guid[row["player"]]): row for row in PlayerRound.select().dicts()}
    weapons: dict[tuple[int, str], dict[int, tuple[int, ...]]] = {}
    for w in WeaponRound.select().dicts():
        counts = tuple(w[name] for name in WEAPON_COUNTERS)
        weapons.setdefault((w["round"], guid[w["player"]]), {})[w["weapon"]] = counts

    expected_rows = 0
    kinds = {"round 1": 0, "paired": 0, "orphan": 0}
    for r in rounds:
        this = parsed[r.id]
        if r.round_no == 1:
            kinds["round 1"] += 1
            expected = {
                p.guid: derive_player(p, this.layout, paired=False, round1=None)
                for p in this.players
                if not p.is_bot
            }
        else:
            round1 = parsed[r.round1_id] if r.round1_id is not None else None
            kinds["paired" if round1 is not None else "orphan"] += 1
            expected = differential(this, round1)
        for player_guid, derived in expected.items():
            row = stored[(r.id, player_guid)]
            assert {name: row[name] for name in derived.values} == derived.values, (
                this.file_name,
                player_guid,
            )
            assert (row["reset"], row["only_round2"]) == (derived.reset, derived.only_round2)
            nonzero = {w: c for w, c in derived.weapons.items() if any(c)}
            assert weapons.get((r.id, player_guid), {}) == nonzero
        expected_rows += len(expected)
    assert len(stored) == expected_rows
    assert all(kinds.values()), kinds

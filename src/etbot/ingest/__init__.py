"""Ingest: stats files in, rounds, players, aliases, pairs and sessions in the database.

One job per module:

* :mod:`.differential` — round 1 + round 2 → round-2-only values (pure);
* :mod:`.pairing` — which round 1 a round 2 belongs to, the map result (pure);
* :mod:`.sessions` — gaming sessions, the 60-minute rule per server (pure);
* :mod:`.statements` — the per-file SQL, names derived from the models;
* :mod:`.importer` — the :class:`Importer` that drives them (dedupe, one transaction per
  batch, a savepoint per file);
* :mod:`.results` — :class:`FileResult` and :class:`ImportReport`.
"""

from etbot.ingest.importer import MAX_FILE_BYTES, Importer, iter_stats_files
from etbot.ingest.pairing import PAIR_WINDOW, map_outcome_from, pair_rounds
from etbot.ingest.results import FileResult, ImportReport
from etbot.ingest.sessions import SESSION_GAP

__all__ = [
    "MAX_FILE_BYTES",
    "PAIR_WINDOW",
    "SESSION_GAP",
    "FileResult",
    "ImportReport",
    "Importer",
    "iter_stats_files",
    "map_outcome_from",
    "pair_rounds",
]

"""Covering indexes for /duos, /rivals, /matchup and /rating (issue 13, a million
player-rounds).

Those commands read one player's rating history (``player, ended_at`` → ``tiebreak``,
``side``, ``score``) and, for /duos and /rivals, everyone else's row of each of those
maps (``ended_at, tiebreak`` → ``player``, ``side``). With the two indexes of migration
0006 every such row was then looked up in the table; at ~490,000 history rows (5 years,
3,000 players, the busiest with ~7,900 maps) that was most of their time. Each index is
replaced by a wider one with the same leading columns, so every query that used the old
one can use the new one, and the count of indexes an import updates stays the same.
"""

from peewee import *


def up(migrator, db):
    migrator.migrate(
        migrator.drop_index("rating_history", "ratinghistory_player_id_ended_at"),
        migrator.drop_index("rating_history", "ratinghistory_ended_at_tiebreak"),
        migrator.add_index(
            "rating_history", ("player_id", "ended_at", "tiebreak", "side", "score"), False
        ),
        migrator.add_index("rating_history", ("ended_at", "tiebreak", "player_id", "side"), False),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index(
            "rating_history", "ratinghistory_player_id_ended_at_tiebreak_side_score"
        ),
        migrator.drop_index("rating_history", "ratinghistory_ended_at_tiebreak_player_id_side"),
        migrator.add_index("rating_history", ("player_id", "ended_at"), False),
        migrator.add_index("rating_history", ("ended_at", "tiebreak"), False),
    )

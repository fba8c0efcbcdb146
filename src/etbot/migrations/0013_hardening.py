"""64-bit sums in the per-day aggregates (player_day, player_weapon_day, player_map_day).

One round's numbers are bounded by the parser and fit 32 bits, but a day's sum of many
rounds can pass 2^31 (issue 12): the summed columns become BIGINT on PostgreSQL. SQLite
integers are 64-bit whatever the declared type, so there is nothing to change there.
"""

from peewee import *

#: The summed columns per table (counts such as rounds or maps won stay 32-bit).
SUMS = {
    "player_day": (
        "kills",
        "deaths",
        "hits",
        "shots",
        "headshots",
        "headshot_kills",
        "damage_given",
        "damage_received",
        "team_damage_given",
        "gibs",
        "self_kills",
        "team_kills",
        "xp",
        "kill_assists",
        "objectives",
        "revives",
        "time_played_s",
    ),
    "player_weapon_day": ("kills", "deaths", "hits", "shots", "headshots"),
    "player_map_day": ("damage_given", "time_played_s"),
}


def up(migrator, db):
    if not isinstance(db, PostgresqlDatabase):
        return
    migrator.migrate(
        *(
            migrator.alter_column_type(table, column, BigIntegerField())
            for table, columns in SUMS.items()
            for column in columns
        )
    )

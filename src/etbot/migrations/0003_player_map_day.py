"""Maps won/lost per player-day, and per-map player-day sums (player_map_day).

``player_day`` gets ``maps_won`` / ``maps_lost``; both aggregate tables are recomputed
from the rows (same rules as etbot.aggregates: no orphans, no spectators).
"""

from peewee import *


def up(migrator, db):
    class Player(Model):
        class Meta:
            database = db
            table_name = "player"

    class PlayerMapDay(Model):
        player = ForeignKeyField(Player, on_delete="CASCADE", index=False)
        day = DateField()
        map = CharField(max_length=128)
        rounds = IntegerField()
        damage_given = IntegerField()
        time_played_s = IntegerField()

        class Meta:
            database = db
            table_name = "player_map_day"
            indexes = ((("player", "day", "map"), True),)

    db.create_tables([PlayerMapDay])
    migrator.migrate(
        migrator.add_column("player_day", "maps_won", IntegerField(default=0)),
        migrator.add_column("player_day", "maps_lost", IntegerField(default=0)),
    )

    day = "CAST(pr.ended_at AS DATE)" if isinstance(db, PostgresqlDatabase) else "date(pr.ended_at)"
    db.execute_sql("DELETE FROM player_day")
    db.execute_sql(
        "INSERT INTO player_day (player_id, day, rounds, first_at, last_at, kills, deaths, "
        "hits, shots, headshots, headshot_kills, damage_given, damage_received, "
        "team_damage_given, gibs, self_kills, team_kills, xp, kill_assists, objectives, "
        "revives, time_played_s, maps_won, maps_lost) "
        f"SELECT pr.player_id, {day}, COUNT(*), MIN(pr.ended_at), MAX(pr.ended_at), "
        "SUM(pr.kills), SUM(pr.deaths), SUM(pr.hits), SUM(pr.shots), SUM(pr.headshots), "
        "SUM(pr.headshot_kills), SUM(pr.damage_given), SUM(pr.damage_received), "
        "SUM(pr.team_damage_given), SUM(pr.gibs), SUM(pr.self_kills), SUM(pr.team_kills), "
        "SUM(pr.xp), SUM(pr.kill_assists), SUM(pr.dynamites_planted + pr.dynamites_defused "
        "+ pr.objectives_stolen + pr.objectives_returned + COALESCE(pr.repairs, 0)), "
        "SUM(COALESCE(pr.revives_given, 0)), SUM(pr.time_played_s), "
        "SUM(CASE WHEN pr.team = m.winner_team THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN m.winner_team IS NOT NULL AND pr.team <> m.winner_team "
        "THEN 1 ELSE 0 END) "
        "FROM player_round pr LEFT OUTER JOIN map_result m ON m.round2_id = pr.round_id "
        "WHERE NOT pr.orphan AND pr.team <> 3 "
        f"GROUP BY pr.player_id, {day}"
    )
    db.execute_sql(
        "INSERT INTO player_map_day (player_id, day, map, rounds, damage_given, time_played_s) "
        f"SELECT pr.player_id, {day}, pr.map, COUNT(*), SUM(pr.damage_given), "
        "SUM(pr.time_played_s) FROM player_round pr WHERE NOT pr.orphan AND pr.team <> 3 "
        f"GROUP BY pr.player_id, {day}, pr.map"
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("player_day", "maps_won"),
        migrator.drop_column("player_day", "maps_lost"),
        migrator.drop_table("player_map_day"),
    )

"""Per-day aggregates per game server (issue 13, several servers feed one community).

``player_day``, ``player_weapon_day`` and ``player_map_day`` get a ``server`` column that
is part of their unique key: one row per (player, day, server[, weapon | map]). The three
tables are derived data, so they are dropped, created again with the new key, and rebuilt
from the rows (same rules as etbot.aggregates: no orphan rounds, no spectator rows; the
server is the round's). The sums stay 64-bit (migration 0013).
"""

from peewee import *


def up(migrator, db):
    class Player(Model):
        class Meta:
            database = db
            table_name = "player"

    class Server(Model):
        class Meta:
            database = db
            table_name = "server"

    class PlayerDay(Model):
        player = ForeignKeyField(Player, on_delete="CASCADE", index=False)
        day = DateField()
        server = ForeignKeyField(Server, on_delete="CASCADE", index=False)
        rounds = IntegerField()
        first_at = DateTimeField()
        last_at = DateTimeField()
        kills = BigIntegerField()
        deaths = BigIntegerField()
        hits = BigIntegerField()
        shots = BigIntegerField()
        headshots = BigIntegerField()
        headshot_kills = BigIntegerField()
        damage_given = BigIntegerField()
        damage_received = BigIntegerField()
        team_damage_given = BigIntegerField()
        gibs = BigIntegerField()
        self_kills = BigIntegerField()
        team_kills = BigIntegerField()
        xp = BigIntegerField()
        kill_assists = BigIntegerField()
        objectives = BigIntegerField()
        revives = BigIntegerField()
        time_played_s = BigIntegerField()
        maps_won = IntegerField(default=0)
        maps_lost = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "player_day"
            indexes = ((("player", "day", "server"), True), (("day", "player"), False))

    class PlayerWeaponDay(Model):
        player = ForeignKeyField(Player, on_delete="CASCADE", index=False)
        day = DateField()
        server = ForeignKeyField(Server, on_delete="CASCADE", index=False)
        weapon = SmallIntegerField()
        kills = BigIntegerField()
        deaths = BigIntegerField()
        hits = BigIntegerField()
        shots = BigIntegerField()
        headshots = BigIntegerField()

        class Meta:
            database = db
            table_name = "player_weapon_day"
            indexes = ((("player", "day", "server", "weapon"), True),)

    class PlayerMapDay(Model):
        player = ForeignKeyField(Player, on_delete="CASCADE", index=False)
        day = DateField()
        server = ForeignKeyField(Server, on_delete="CASCADE", index=False)
        map = CharField(max_length=128)
        rounds = IntegerField()
        damage_given = BigIntegerField()
        time_played_s = BigIntegerField()

        class Meta:
            database = db
            table_name = "player_map_day"
            indexes = ((("player", "day", "server", "map"), True),)

    for table in ("player_map_day", "player_weapon_day", "player_day"):
        db.execute_sql(f"DROP TABLE IF EXISTS {table}")
    db.create_tables([PlayerDay, PlayerWeaponDay, PlayerMapDay])

    day = "CAST(pr.ended_at AS DATE)" if isinstance(db, PostgresqlDatabase) else "date(pr.ended_at)"
    # "round" quoted: a function name in both dialects.
    rounds = 'player_round pr JOIN "round" r ON r.id = pr.round_id'
    counted = "NOT pr.orphan AND pr.team <> 3"
    db.execute_sql(
        "INSERT INTO player_day (player_id, day, server_id, rounds, first_at, last_at, kills, "
        "deaths, hits, shots, headshots, headshot_kills, damage_given, damage_received, "
        "team_damage_given, gibs, self_kills, team_kills, xp, kill_assists, objectives, "
        "revives, time_played_s, maps_won, maps_lost) "
        f"SELECT pr.player_id, {day}, r.server_id, COUNT(*), MIN(pr.ended_at), "
        "MAX(pr.ended_at), SUM(pr.kills), SUM(pr.deaths), SUM(pr.hits), SUM(pr.shots), "
        "SUM(pr.headshots), SUM(pr.headshot_kills), SUM(pr.damage_given), "
        "SUM(pr.damage_received), SUM(pr.team_damage_given), SUM(pr.gibs), "
        "SUM(pr.self_kills), SUM(pr.team_kills), SUM(pr.xp), SUM(pr.kill_assists), "
        "SUM(pr.dynamites_planted + pr.dynamites_defused + pr.objectives_stolen "
        "+ pr.objectives_returned + COALESCE(pr.repairs, 0)), "
        "SUM(COALESCE(pr.revives_given, 0)), SUM(pr.time_played_s), "
        "SUM(CASE WHEN pr.team = m.winner_team THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN m.winner_team IS NOT NULL AND pr.team <> m.winner_team "
        "THEN 1 ELSE 0 END) "
        f"FROM {rounds} LEFT OUTER JOIN map_result m ON m.round2_id = pr.round_id "
        f"WHERE {counted} GROUP BY pr.player_id, {day}, r.server_id"
    )
    db.execute_sql(
        "INSERT INTO player_weapon_day (player_id, day, server_id, weapon, kills, deaths, "
        "hits, shots, headshots) "
        f"SELECT pr.player_id, {day}, r.server_id, w.weapon, SUM(w.kills), SUM(w.deaths), "
        "SUM(w.hits), SUM(w.shots), SUM(w.headshots) "
        f"FROM {rounds} JOIN weapon_round w "
        "ON w.round_id = pr.round_id AND w.player_id = pr.player_id "
        f"WHERE {counted} GROUP BY pr.player_id, {day}, r.server_id, w.weapon"
    )
    db.execute_sql(
        "INSERT INTO player_map_day (player_id, day, server_id, map, rounds, damage_given, "
        "time_played_s) "
        f"SELECT pr.player_id, {day}, r.server_id, pr.map, COUNT(*), SUM(pr.damage_given), "
        f"SUM(pr.time_played_s) FROM {rounds} "
        f"WHERE {counted} GROUP BY pr.player_id, {day}, r.server_id, pr.map"
    )

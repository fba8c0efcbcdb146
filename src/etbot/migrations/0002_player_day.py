"""Per-player per-day aggregates (player_day, player_weapon_day), backfilled from the rows.

Also, on PostgreSQL, a ``text_pattern_ops`` index on ``alias.name_lower`` so that
``LIKE 'prefix%'`` (player autocomplete) is an index range scan whatever the collation.
"""

from peewee import *


def up(migrator, db):
    class Player(Model):
        class Meta:
            database = db
            table_name = "player"

    class PlayerDay(Model):
        player = ForeignKeyField(Player, on_delete="CASCADE", index=False)
        day = DateField()
        rounds = IntegerField()
        first_at = DateTimeField()
        last_at = DateTimeField()
        kills = IntegerField()
        deaths = IntegerField()
        hits = IntegerField()
        shots = IntegerField()
        headshots = IntegerField()
        headshot_kills = IntegerField()
        damage_given = IntegerField()
        damage_received = IntegerField()
        team_damage_given = IntegerField()
        gibs = IntegerField()
        self_kills = IntegerField()
        team_kills = IntegerField()
        xp = IntegerField()
        kill_assists = IntegerField()
        objectives = IntegerField()
        revives = IntegerField()
        time_played_s = IntegerField()

        class Meta:
            database = db
            table_name = "player_day"
            indexes = ((("player", "day"), True), (("day", "player"), False))

    class PlayerWeaponDay(Model):
        player = ForeignKeyField(Player, on_delete="CASCADE", index=False)
        day = DateField()
        weapon = SmallIntegerField()
        kills = IntegerField()
        deaths = IntegerField()
        hits = IntegerField()
        shots = IntegerField()
        headshots = IntegerField()

        class Meta:
            database = db
            table_name = "player_weapon_day"
            indexes = ((("player", "day", "weapon"), True),)

    db.create_tables([PlayerDay, PlayerWeaponDay])

    if isinstance(db, PostgresqlDatabase):
        db.execute_sql(
            "CREATE INDEX IF NOT EXISTS alias_name_lower_pattern "
            "ON alias (name_lower text_pattern_ops)"
        )
        day = "CAST(pr.ended_at AS DATE)"
    else:
        day = "date(pr.ended_at)"

    # Backfill from existing rows (same rules as etbot.aggregates: no orphans, no spectators).
    db.execute_sql(
        "INSERT INTO player_day (player_id, day, rounds, first_at, last_at, kills, deaths, "
        "hits, shots, headshots, headshot_kills, damage_given, damage_received, "
        "team_damage_given, gibs, self_kills, team_kills, xp, kill_assists, objectives, "
        "revives, time_played_s) "
        f"SELECT pr.player_id, {day}, COUNT(*), MIN(pr.ended_at), MAX(pr.ended_at), "
        "SUM(pr.kills), SUM(pr.deaths), SUM(pr.hits), SUM(pr.shots), SUM(pr.headshots), "
        "SUM(pr.headshot_kills), SUM(pr.damage_given), SUM(pr.damage_received), "
        "SUM(pr.team_damage_given), SUM(pr.gibs), SUM(pr.self_kills), SUM(pr.team_kills), "
        "SUM(pr.xp), SUM(pr.kill_assists), SUM(pr.dynamites_planted + pr.dynamites_defused "
        "+ pr.objectives_stolen + pr.objectives_returned + COALESCE(pr.repairs, 0)), "
        "SUM(COALESCE(pr.revives_given, 0)), SUM(pr.time_played_s) "
        "FROM player_round pr WHERE NOT pr.orphan AND pr.team <> 3 "
        f"GROUP BY pr.player_id, {day}"
    )
    db.execute_sql(
        "INSERT INTO player_weapon_day (player_id, day, weapon, kills, deaths, hits, shots, "
        "headshots) "
        f"SELECT pr.player_id, {day}, w.weapon, SUM(w.kills), SUM(w.deaths), SUM(w.hits), "
        "SUM(w.shots), SUM(w.headshots) "
        "FROM weapon_round w JOIN player_round pr "
        "ON pr.round_id = w.round_id AND pr.player_id = w.player_id "
        "WHERE NOT pr.orphan AND pr.team <> 3 "
        f"GROUP BY pr.player_id, {day}, w.weapon"
    )


def down(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql("DROP INDEX IF EXISTS alias_name_lower_pattern")
    migrator.migrate(migrator.drop_table("player_weapon_day"))
    migrator.migrate(migrator.drop_table("player_day"))

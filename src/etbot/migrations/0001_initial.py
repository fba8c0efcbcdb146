"""Initial schema (frozen copy of the models at the time)."""

from peewee import *


def up(migrator, db):
    class Player(Model):
        guid = CharField(unique=True, max_length=32)
        name = CharField(max_length=128)
        raw_name = CharField()
        first_seen = DateTimeField()
        last_seen = DateTimeField(index=True)
        discord_id = BigIntegerField(unique=True, null=True)

        class Meta:
            database = db
            table_name = "player"

    db.create_tables([Player])

    class Alias(Model):
        player = ForeignKeyField(Player, on_delete="CASCADE", index=False)
        name = CharField(max_length=128)
        name_lower = CharField(index=True, max_length=128)
        raw_name = CharField()
        first_seen = DateTimeField()
        last_seen = DateTimeField()
        rounds = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "alias"
            indexes = ((("player", "name"), True),)

    db.create_tables([Alias])

    class Server(Model):
        name = CharField(unique=True)
        clean_name = CharField()

        class Meta:
            database = db
            table_name = "server"

    db.create_tables([Server])

    class GamingSession(Model):
        server = ForeignKeyField(Server, on_delete="CASCADE", index=False)
        started_at = DateTimeField(index=True)
        ended_at = DateTimeField()
        round_count = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "gaming_session"
            indexes = ((("server", "ended_at"), False),)

    db.create_tables([GamingSession])

    class SourceFile(Model):
        sha256 = CharField(unique=True, max_length=64)
        file_name = CharField(index=True)
        content = BlobField()
        imported_at = DateTimeField()

        class Meta:
            database = db
            table_name = "source_file"

    db.create_tables([SourceFile])

    class Round(Model):
        source = ForeignKeyField(SourceFile, unique=True, on_delete="CASCADE")
        file_name = CharField()
        server = ForeignKeyField(Server, on_delete="CASCADE")
        map = CharField(max_length=128)
        round_no = SmallIntegerField()
        ended_at = DateTimeField(index=True)
        config = CharField(max_length=128)
        defender = SmallIntegerField()
        winner = SmallIntegerField()
        time_limit_s = IntegerField()
        round_time_s = IntegerField(null=True)
        play_time_ms = IntegerField(null=True)
        layout = SmallIntegerField()
        round1 = ForeignKeyField("self", unique=True, null=True, on_delete="SET NULL")
        orphan = BooleanField(default=False)
        session = ForeignKeyField(GamingSession, null=True, on_delete="SET NULL")
        player_count = SmallIntegerField(default=0)
        bot_count = SmallIntegerField(default=0)

        class Meta:
            database = db
            table_name = "round"
            indexes = ((("server", "map", "ended_at"), False), (("server", "file_name"), True))

    db.create_tables([Round])

    class MapResult(Model):
        round1 = ForeignKeyField(Round, unique=True, on_delete="CASCADE")
        round2 = ForeignKeyField(Round, unique=True, on_delete="CASCADE")
        map = CharField(max_length=128)
        ended_at = DateTimeField(index=True)
        outcome = CharField(max_length=16)
        winner_team = SmallIntegerField(null=True)
        round1_time_s = IntegerField(null=True)
        round2_time_s = IntegerField(null=True)

        class Meta:
            database = db
            table_name = "map_result"

    db.create_tables([MapResult])

    class PlayerRound(Model):
        round = ForeignKeyField(Round, on_delete="CASCADE", index=False)
        player = ForeignKeyField(Player, on_delete="CASCADE", index=False)
        ended_at = DateTimeField()
        map = CharField(max_length=128)
        round_no = SmallIntegerField()
        orphan = BooleanField(default=False)
        name = CharField(max_length=128)
        raw_name = CharField()
        team = SmallIntegerField()
        rounds_counter = IntegerField()
        reset = BooleanField(default=False)
        only_round2 = BooleanField(default=False)
        kills = IntegerField()
        deaths = IntegerField()
        hits = IntegerField()
        shots = IntegerField()
        headshots = IntegerField()
        damage_given = IntegerField()
        damage_received = IntegerField()
        team_damage_given = IntegerField()
        team_damage_received = IntegerField()
        gibs = IntegerField()
        self_kills = IntegerField()
        team_kills = IntegerField()
        team_gibs = IntegerField()
        xp = IntegerField()
        killing_spree = IntegerField()
        death_spree = IntegerField()
        kill_assists = IntegerField()
        kill_steals = IntegerField()
        headshot_kills = IntegerField()
        objectives_stolen = IntegerField()
        objectives_returned = IntegerField()
        dynamites_planted = IntegerField()
        dynamites_defused = IntegerField()
        times_revived = IntegerField()
        bullets_fired = IntegerField(null=True)
        time_played_s = IntegerField()
        tank_meatshield = FloatField()
        time_dead_s = IntegerField()
        useful_kills = IntegerField()
        denied_playtime = IntegerField(null=True)
        multikill_2 = IntegerField()
        multikill_3 = IntegerField()
        multikill_4 = IntegerField()
        multikill_5 = IntegerField()
        multikill_6 = IntegerField()
        useless_kills = IntegerField(null=True)
        full_selfkills = IntegerField(null=True)
        repairs = IntegerField(null=True)
        revives_given = IntegerField(null=True)

        class Meta:
            database = db
            table_name = "player_round"
            indexes = (
                (("round", "player"), True),
                (("player", "ended_at"), False),
                (("ended_at",), False),
            )

    db.create_tables([PlayerRound])

    class WeaponRound(Model):
        round = ForeignKeyField(Round, on_delete="CASCADE", index=False)
        player = ForeignKeyField(Player, on_delete="CASCADE", index=False)
        weapon = SmallIntegerField()
        hits = IntegerField()
        shots = IntegerField()
        kills = IntegerField()
        deaths = IntegerField()
        headshots = IntegerField()

        class Meta:
            database = db
            table_name = "weapon_round"
            indexes = ((("round", "player", "weapon"), True), (("player", "weapon"), False))

    db.create_tables([WeaponRound])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("weapon_round"))
    migrator.migrate(migrator.drop_table("player_round"))
    migrator.migrate(migrator.drop_table("map_result"))
    migrator.migrate(migrator.drop_table("round"))
    migrator.migrate(migrator.drop_table("source_file"))
    migrator.migrate(migrator.drop_table("gaming_session"))
    migrator.migrate(migrator.drop_table("server"))
    migrator.migrate(migrator.drop_table("alias"))
    migrator.migrate(migrator.drop_table("player"))

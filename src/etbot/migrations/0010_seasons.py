"""Seasons (etbot.seasons): admins' renames and custom ranges (season_def), ended seasons
that were dealt with (season_close) and their champions (season_award). Standings are
never stored: they are computed from the rounds of each season's range."""

from peewee import *


def up(migrator, db):
    class Player(Model):
        class Meta:
            database = db
            table_name = "player"

    class SeasonDef(Model):
        key = CharField(max_length=32, unique=True)
        name = CharField(max_length=64)
        custom = BooleanField(default=False)
        start = DateTimeField(null=True)
        end = DateTimeField(null=True)
        changed_by = BigIntegerField(null=True)
        changed_at = DateTimeField()

        class Meta:
            database = db
            table_name = "season_def"

    class SeasonClose(Model):
        season_key = CharField(max_length=32, unique=True)
        start = DateTimeField()
        end = DateTimeField()
        closed_at = DateTimeField()
        announced = BooleanField()
        rounds = IntegerField()
        players = IntegerField()

        class Meta:
            database = db
            table_name = "season_close"

    class SeasonAward(Model):
        season_key = CharField(max_length=32)
        category = CharField(max_length=32)
        player = ForeignKeyField(Player, on_delete="CASCADE", index=False)
        value = DoubleField()
        baseline = DoubleField(null=True)
        rounds = IntegerField()

        class Meta:
            database = db
            table_name = "season_award"
            indexes = (
                (("season_key", "category"), True),
                (("player", "season_key"), False),
            )

    db.create_tables([SeasonDef, SeasonClose, SeasonAward])


def down(migrator, db):
    migrator.migrate(
        migrator.drop_table("season_award"),
        migrator.drop_table("season_close"),
        migrator.drop_table("season_def"),
    )

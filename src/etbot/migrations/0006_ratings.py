"""Skill ratings (etbot.rating): current values per player and per model term, and the
per-map history the replay writes. All derived data, so nothing is backfilled here (a
migration must not depend on today's model code): the next import, ``etbot rating
rebuild`` or ``etbot rating predict`` rates every map result not yet rated.
"""

from peewee import *


def up(migrator, db):
    class Player(Model):
        class Meta:
            database = db
            table_name = "player"

    class MapResult(Model):
        class Meta:
            database = db
            table_name = "map_result"

    class PlayerRating(Model):
        player = ForeignKeyField(Player, on_delete="CASCADE", unique=True)
        mu = DoubleField()
        sigma = DoubleField()
        maps = IntegerField()
        last_played = DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "player_rating"

    class RatingFactor(Model):
        name = CharField(max_length=160, unique=True)
        mu = DoubleField()
        sigma = DoubleField()
        maps = IntegerField()

        class Meta:
            database = db
            table_name = "rating_factor"

    class RatingGame(Model):
        map_result = ForeignKeyField(MapResult, null=True, unique=True, on_delete="SET NULL")
        ended_at = DateTimeField()
        tiebreak = BigIntegerField()
        map = CharField(max_length=128)
        score = DoubleField(null=True)
        p_first_attack = DoubleField(null=True)
        players = SmallIntegerField()
        side_mu_before = DoubleField(null=True)
        side_sigma_before = DoubleField(null=True)
        map_mu_before = DoubleField(null=True)
        map_sigma_before = DoubleField(null=True)

        class Meta:
            database = db
            table_name = "rating_game"
            indexes = ((("ended_at", "tiebreak"), False),)

    class RatingHistory(Model):
        player = ForeignKeyField(Player, on_delete="CASCADE", index=False)
        map_result = ForeignKeyField(MapResult, null=True, on_delete="SET NULL", index=False)
        ended_at = DateTimeField()
        tiebreak = BigIntegerField()
        side = SmallIntegerField()
        weight = DoubleField()
        score = DoubleField()
        mu_before = DoubleField()
        sigma_before = DoubleField()
        mu_after = DoubleField()
        sigma_after = DoubleField()
        previous_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "rating_history"
            indexes = (
                (("map_result", "player"), True),
                (("player", "ended_at"), False),
                (("ended_at", "tiebreak"), False),
            )

    db.create_tables([PlayerRating, RatingFactor, RatingGame, RatingHistory])


def down(migrator, db):
    for table in ("rating_history", "rating_game", "rating_factor", "player_rating"):
        migrator.migrate(migrator.drop_table(table))

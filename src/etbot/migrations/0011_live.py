"""player_milestone: milestones players reached (etbot.achievements), one row per player and
milestone. Nothing is backfilled here (a migration must not depend on today's domain code):
the first import of a player after this migration records the milestones of the player's
existing history silently, and only thresholds crossed by new rounds are announced.
"""

from peewee import *


def up(migrator, db):
    class Player(Model):
        class Meta:
            database = db
            table_name = "player"

    class PlayerMilestone(Model):
        player = ForeignKeyField(Player, on_delete="CASCADE", index=False)
        stat = CharField(max_length=32)
        threshold = BigIntegerField()
        reached_on = DateField()
        recorded_at = DateTimeField()
        announced = BooleanField(default=False)

        class Meta:
            database = db
            table_name = "player_milestone"
            indexes = ((("player", "stat", "threshold"), True),)

    db.create_tables([PlayerMilestone])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("player_milestone"))

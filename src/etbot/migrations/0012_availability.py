"""Availability polls (etbot.availability): the poll, its days with the start each one
asks about, and one vote per member and day (unique, so a change updates the row)."""

from peewee import *


def up(migrator, db):
    class AvailabilityPoll(Model):
        guild_id = BigIntegerField()
        channel_id = BigIntegerField()
        created_by = BigIntegerField()
        created_at = DateTimeField()
        start_time = CharField(max_length=5, null=True)

        class Meta:
            database = db
            table_name = "availability_poll"

    class AvailabilityDay(Model):
        poll = ForeignKeyField(AvailabilityPoll, on_delete="CASCADE")
        day = DateField()
        start = DateTimeField(null=True)
        proposed = BooleanField(default=False)

        class Meta:
            database = db
            table_name = "availability_day"
            indexes = (
                (("poll", "day"), True),
                (("start",), False),
            )

    class AvailabilityVote(Model):
        poll = ForeignKeyField(AvailabilityPoll, on_delete="CASCADE")
        day = DateField()
        member_id = BigIntegerField()
        answer = CharField(max_length=5)
        voted_at = DateTimeField()

        class Meta:
            database = db
            table_name = "availability_vote"
            indexes = ((("poll", "day", "member_id"), True),)

    db.create_tables([AvailabilityPoll, AvailabilityDay, AvailabilityVote])


def down(migrator, db):
    migrator.migrate(
        migrator.drop_table("availability_vote"),
        migrator.drop_table("availability_day"),
        migrator.drop_table("availability_poll"),
    )

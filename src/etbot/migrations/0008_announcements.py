"""The outbox of automatic posts (announcement) and per-server settings (guild_setting)."""

from peewee import *


def up(migrator, db):
    class Announcement(Model):
        kind = CharField(max_length=32)
        key = CharField(max_length=64)
        status = CharField(max_length=16, default="pending")
        created_at = DateTimeField()
        claimed_by = CharField(max_length=64, null=True)
        claimed_at = DateTimeField(null=True)
        attempts = IntegerField(default=0)
        channel_id = BigIntegerField(null=True)
        message_id = BigIntegerField(null=True)
        posted_at = DateTimeField(null=True)
        error = CharField(max_length=255, null=True)

        class Meta:
            database = db
            table_name = "announcement"
            indexes = (
                (("kind", "key"), True),
                (("status", "id"), False),
            )

    class GuildSetting(Model):
        guild_id = BigIntegerField()
        name = CharField(max_length=64)
        value = CharField(max_length=255)

        class Meta:
            database = db
            table_name = "guild_setting"
            indexes = ((("guild_id", "name"), True),)

    db.create_tables([Announcement, GuildSetting])


def down(migrator, db):
    migrator.migrate(
        migrator.drop_table("guild_setting"),
        migrator.drop_table("announcement"),
    )

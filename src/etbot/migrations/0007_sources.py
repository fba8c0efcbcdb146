"""fetched_file: what an SSH/SFTP source has fetched, one row per (source, file name)."""

from peewee import *


def up(migrator, db):
    class FetchedFile(Model):
        source = CharField(max_length=512)
        name = CharField(max_length=255)
        size = BigIntegerField()
        mtime_ns = BigIntegerField()
        sha256 = CharField(max_length=64, null=True)
        fetched_at = DateTimeField()

        class Meta:
            database = db
            table_name = "fetched_file"
            indexes = ((("source", "name"), True),)

    db.create_tables([FetchedFile])

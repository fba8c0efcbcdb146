"""weapon_round keyed by (round_id, player_id, weapon): no surrogate id, no extra index.

The table is the largest one and written for every player of every file; a composite
primary key (a WITHOUT ROWID table on SQLite) keeps one B-tree instead of a table plus a
unique index, which makes imports faster. Rebuilt by copy, then renamed.
"""

from peewee import *


def up(migrator, db):
    class Player(Model):
        class Meta:
            database = db
            table_name = "player"

    class Round(Model):
        class Meta:
            database = db
            table_name = "round"

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
            table_name = "weapon_round_new"
            primary_key = CompositeKey("round", "player", "weapon")
            without_rowid = isinstance(db, SqliteDatabase)

    db.create_tables([WeaponRound])
    columns = "round_id, player_id, weapon, hits, shots, kills, deaths, headshots"
    db.execute_sql(f"INSERT INTO weapon_round_new ({columns}) SELECT {columns} FROM weapon_round")
    db.execute_sql("DROP TABLE weapon_round")
    migrator.migrate(migrator.rename_table("weapon_round_new", "weapon_round"))

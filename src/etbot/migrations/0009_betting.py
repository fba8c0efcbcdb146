"""Betting pools (etbot.betting): balances per Discord member and server, pools with their
line-ups, stakes, and the ledger of every balance change. The CHECK constraints and unique
keys are part of the rules (no negative balance, one side per member and pool, each
interaction / payout / top-up at most once), so they are created here with the tables.
"""

from peewee import *


def up(migrator, db):
    class Round(Model):
        class Meta:
            database = db
            table_name = "round"

    class MapResult(Model):
        class Meta:
            database = db
            table_name = "map_result"

    class BetAccount(Model):
        guild_id = BigIntegerField()
        member_id = BigIntegerField()
        points = IntegerField(constraints=[Check("points >= 0")])
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "bet_account"
            indexes = ((("guild_id", "member_id"), True),)

    class BetPool(Model):
        guild_id = BigIntegerField()
        title = CharField(max_length=100, null=True)
        map = CharField(max_length=128, null=True)
        state = CharField(
            max_length=16,
            default="open",
            constraints=[Check("state IN ('open', 'locked', 'settled', 'cancelled')")],
        )
        opened_by = BigIntegerField()
        opened_at = DateTimeField()
        not_before = DateTimeField()
        lock_at = DateTimeField(null=True, index=True)
        locked_at = DateTimeField(null=True)
        closed_at = DateTimeField(null=True)
        winner = SmallIntegerField(null=True, constraints=[Check("winner IN (0, 1, 2)")])
        round1 = ForeignKeyField(Round, null=True, on_delete="SET NULL")
        side_a_colour = SmallIntegerField(null=True)
        map_result = ForeignKeyField(MapResult, null=True, on_delete="SET NULL")
        p_side_a = DoubleField(null=True)
        rated_players = SmallIntegerField(default=0)
        channel_id = BigIntegerField(null=True)
        message_id = BigIntegerField(null=True)
        shown_state = CharField(max_length=16, null=True)
        bets = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "bet_pool"
            indexes = ((("guild_id", "state"), False),)

    class BetLineup(Model):
        pool = ForeignKeyField(BetPool, on_delete="CASCADE", index=False)
        side = SmallIntegerField(constraints=[Check("side IN (1, 2)")])
        guid = CharField(max_length=32)

        class Meta:
            database = db
            table_name = "bet_lineup"
            indexes = ((("pool", "guid"), True),)

    class BetStake(Model):
        pool = ForeignKeyField(BetPool, on_delete="CASCADE", index=False)
        member_id = BigIntegerField()
        side = SmallIntegerField(constraints=[Check("side IN (1, 2)")])
        amount = IntegerField(constraints=[Check("amount > 0")])
        first_at = DateTimeField()
        last_at = DateTimeField()

        class Meta:
            database = db
            table_name = "bet_stake"
            indexes = ((("pool", "member_id"), True),)

    class BetLedger(Model):
        guild_id = BigIntegerField()
        member_id = BigIntegerField()
        kind = CharField(
            max_length=16,
            constraints=[Check("kind IN ('grant', 'topup', 'stake', 'payout', 'refund')")],
        )
        amount = IntegerField(
            constraints=[
                Check("(kind = 'stake' AND amount < 0) OR (kind <> 'stake' AND amount > 0)")
            ]
        )
        pool = ForeignKeyField(BetPool, null=True, on_delete="SET NULL", index=False)
        side = SmallIntegerField(null=True)
        key = CharField(max_length=80, unique=True)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "bet_ledger"
            indexes = (
                (("guild_id", "member_id", "id"), False),
                (("pool", "kind"), False),
            )

    db.create_tables([BetAccount, BetPool, BetLineup, BetStake, BetLedger])


def down(migrator, db):
    migrator.migrate(
        migrator.drop_table("bet_ledger"),
        migrator.drop_table("bet_stake"),
        migrator.drop_table("bet_lineup"),
        migrator.drop_table("bet_pool"),
        migrator.drop_table("bet_account"),
    )

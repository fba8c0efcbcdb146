"""/teams proposals (team_proposal): the split a /teams message shows, so its Accept and
Next best split buttons keep working after a restart (etbot.teams)."""

from peewee import *


def up(migrator, db):
    class TeamProposal(Model):
        asked_by = BigIntegerField()
        source = CharField(max_length=16)
        players = CharField(max_length=400)
        split_index = IntegerField()
        split_count = IntegerField()
        team_a = CharField(max_length=400)
        p_team_a = DoubleField()
        created_at = DateTimeField(index=True)
        accepted_by = BigIntegerField(null=True)
        accepted_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "team_proposal"

    db.create_tables([TeamProposal])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("team_proposal"))

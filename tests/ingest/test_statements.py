"""The hand-built import SQL takes its names from the models and notices when they change."""

from __future__ import annotations

import pytest
from peewee import CharField, IntegerField, Model

from etbot.ingest.statements import Insert, Statements, stored_fields, upsert_newest
from etbot.models import ALL_MODELS, Player, Round


class Gadget(Model):
    """A model the tests own: as if someone added a column to a table the ingest writes."""

    name = CharField(unique=True)
    size = IntegerField()
    colour = CharField(null=True)
    seen = IntegerField()

    class Meta:
        table_name = "gadget_for_tests"


def test_an_insert_that_would_leave_a_new_field_to_chance_is_refused() -> None:
    with pytest.raises(LookupError, match=r"does not write \['colour'\]"):
        Insert(Gadget, ["name", "size", "seen"], param="?")
    ok = Insert(Gadget, ["name", "size", "seen"], param="?", leave_out=["colour"])
    assert ok.sql(2) == (
        'INSERT INTO "gadget_for_tests" ("name", "size", "seen") VALUES (?, ?, ?), (?, ?, ?)'
    )
    assert ok.params([{"seen": 3, "size": 2, "name": "x"}]) == ["x", 2, 3]


def test_a_misspelt_field_is_refused() -> None:
    with pytest.raises(LookupError, match="no field or column 'sise'"):
        Insert(Gadget, ["name", "sise", "seen", "colour"], param="?")


def test_an_upsert_must_say_what_happens_to_every_field_and_hit_a_unique_key() -> None:
    fields = ["name", "size", "colour", "seen"]
    with pytest.raises(LookupError, match="must name each"):
        upsert_newest(Gadget, fields, conflict=["name"], newest=["colour"], by="seen")
    with pytest.raises(LookupError, match="no unique key"):
        upsert_newest(
            Gadget, fields, conflict=["size"], newest=["name", "colour", "seen"], by="seen"
        )
    clause = upsert_newest(
        Gadget, fields, conflict=["name"], newest=["colour", "seen"], add=["size"], by="seen"
    )
    assert clause.startswith(' ON CONFLICT ("name") DO UPDATE SET "size" = ')


def test_the_import_statements_write_every_column_but_the_ones_set_elsewhere() -> None:
    sql = Statements("%s")  # PostgreSQL's parameter style
    written = {
        Round: sql.insert_round.fields,
        Player: sql.upsert_player.fields,
    }
    assert set(stored_fields(Round)) - set(written[Round]) == {"round1"}  # set by pairing
    assert set(stored_fields(Player)) - set(written[Player]) == {"discord_id"}  # by /link
    for statement in (
        sql.insert_source,
        sql.insert_player_round,
        sql.insert_weapon_round,
        sql.insert_map_result,
        sql.upsert_alias,
        sql.insert_session,
    ):
        model = next(m for m in ALL_MODELS if f'INTO "{m._meta.table_name}"' in statement.head)
        assert sorted(statement.fields) == sorted(stored_fields(model)), model
        assert "%s" in statement.row
        assert "?" not in statement.row

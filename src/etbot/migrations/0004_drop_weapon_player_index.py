"""WeaponRound is only read per (round, player) now that favourite weapons come from
PlayerWeaponDay: drop the (player, weapon) index, which slowed every import."""

from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.drop_index("weapon_round", "weaponround_player_id_weapon"))


def down(migrator, db):
    migrator.migrate(migrator.add_index("weapon_round", ("player_id", "weapon"), False))

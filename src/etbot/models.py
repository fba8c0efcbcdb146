"""peewee models: the one schema shared by ingest, queries, the CLI and the bot.

All models bind to :data:`database_proxy`; :func:`etbot.db.open_database` points it at
SQLite (default, WAL) or PostgreSQL. Times are naive datetimes in the game server's
local time, exactly as the stats file names hold them; ``SERVER_TIMEZONE`` says which
zone that is when a Discord timestamp is needed.

Round 2 rows (``PlayerRound`` / ``WeaponRound`` of a round with ``round_no == 2``) hold
round-2-only values (the differential), never the cumulative numbers of the file.
"""

from __future__ import annotations

from peewee import (
    BigIntegerField,
    BlobField,
    BooleanField,
    CharField,
    Check,
    CompositeKey,
    DatabaseProxy,
    DateField,
    DateTimeField,
    DoubleField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    SmallIntegerField,
)

database_proxy = DatabaseProxy()


class BaseModel(Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class Server(BaseModel):
    """A game server, known by the name in the stats file header."""

    name = CharField(max_length=255, unique=True)  # raw, with colour codes
    clean_name = CharField(max_length=255)


class Player(BaseModel):
    """A human player, keyed by the 8-character GUID prefix. Bots are never stored."""

    guid = CharField(max_length=32, unique=True)
    name = CharField(max_length=128)  # latest name without colour codes
    raw_name = CharField(max_length=255)
    first_seen = DateTimeField()
    last_seen = DateTimeField(index=True)
    discord_id = BigIntegerField(null=True, unique=True)


class Alias(BaseModel):
    """Every name a GUID has used, with when and how often."""

    player = ForeignKeyField(Player, backref="aliases", on_delete="CASCADE", index=False)
    name = CharField(max_length=128)  # without colour codes
    name_lower = CharField(max_length=128, index=True)
    raw_name = CharField(max_length=255)  # latest coloured spelling of this name
    first_seen = DateTimeField()
    last_seen = DateTimeField()
    rounds = IntegerField(default=0)

    class Meta:
        indexes = ((("player", "name"), True),)


class GamingSession(BaseModel):
    """Rounds of one server with no gap longer than 60 minutes between them."""

    server = ForeignKeyField(Server, on_delete="CASCADE", index=False)
    started_at = DateTimeField(index=True)  # end time of its first round
    ended_at = DateTimeField()  # end time of its last round
    round_count = IntegerField(default=0)

    class Meta:
        indexes = ((("server", "ended_at"), False),)


class SourceFile(BaseModel):
    """One imported stats file, kept (zlib) so a round can be re-derived when pairing changes."""

    sha256 = CharField(max_length=64, unique=True)
    file_name = CharField(max_length=255, index=True)
    content = BlobField()
    imported_at = DateTimeField()


class Round(BaseModel):
    source = ForeignKeyField(SourceFile, unique=True, on_delete="CASCADE")
    file_name = CharField(max_length=255)
    server = ForeignKeyField(Server, on_delete="CASCADE")
    map = CharField(max_length=128)
    round_no = SmallIntegerField()
    ended_at = DateTimeField(index=True)
    config = CharField(max_length=128)
    defender = SmallIntegerField()
    winner = SmallIntegerField()
    time_limit_s = IntegerField()
    round_time_s = IntegerField(null=True)
    play_time_ms = IntegerField(null=True)
    layout = SmallIntegerField()
    #: For a round 2: the round 1 it is paired with (None = orphan).
    round1 = ForeignKeyField("self", null=True, unique=True, on_delete="SET NULL")
    orphan = BooleanField(default=False)
    session = ForeignKeyField(GamingSession, null=True, on_delete="SET NULL")
    player_count = SmallIntegerField(default=0)
    bot_count = SmallIntegerField(default=0)

    class Meta:
        indexes = (
            (("server", "map", "ended_at"), False),
            (("server", "file_name"), True),
        )


class MapResult(BaseModel):
    """Stopwatch outcome of a paired round 1 + round 2."""

    round1 = ForeignKeyField(Round, unique=True, on_delete="CASCADE")
    round2 = ForeignKeyField(Round, unique=True, on_delete="CASCADE")
    map = CharField(max_length=128)
    ended_at = DateTimeField(index=True)
    #: "beat_time" (round 2 attackers beat round 1's time), "held" (round 2 defence held
    #: a set time) or "draw" (both defences held the full time).
    outcome = CharField(max_length=16)
    #: Winning side in round 2 colours (1 axis, 2 allies); None for a draw.
    winner_team = SmallIntegerField(null=True)
    round1_time_s = IntegerField(null=True)
    round2_time_s = IntegerField(null=True)


class PlayerRound(BaseModel):
    """One player in one round. Round 2 rows hold round-2-only values."""

    round = ForeignKeyField(Round, backref="player_rounds", on_delete="CASCADE", index=False)
    player = ForeignKeyField(Player, backref="player_rounds", on_delete="CASCADE", index=False)
    # Denormalised from Round so per-player filters need no join.
    ended_at = DateTimeField()
    map = CharField(max_length=128)
    round_no = SmallIntegerField()
    orphan = BooleanField(default=False)

    name = CharField(max_length=128)
    raw_name = CharField(max_length=255)
    team = SmallIntegerField()  # 1 axis, 2 allies, 3 spectator
    rounds_counter = IntegerField()
    #: Round 2 taken as written: counters reset after a reconnect, or absent from round 1.
    reset = BooleanField(default=False)
    only_round2 = BooleanField(default=False)

    kills = IntegerField()
    deaths = IntegerField()
    hits = IntegerField()
    shots = IntegerField()
    headshots = IntegerField()  # head hits (weapon ints)
    damage_given = IntegerField()
    damage_received = IntegerField()
    team_damage_given = IntegerField()
    team_damage_received = IntegerField()
    gibs = IntegerField()
    self_kills = IntegerField()
    team_kills = IntegerField()
    team_gibs = IntegerField()
    xp = IntegerField()
    killing_spree = IntegerField()
    death_spree = IntegerField()
    kill_assists = IntegerField()
    kill_steals = IntegerField()
    headshot_kills = IntegerField()
    objectives_stolen = IntegerField()
    objectives_returned = IntegerField()
    dynamites_planted = IntegerField()
    dynamites_defused = IntegerField()
    times_revived = IntegerField()
    bullets_fired = IntegerField(null=True)  # meaningful in the 38-field layout only
    time_played_s = IntegerField()
    tank_meatshield = FloatField()
    time_dead_s = IntegerField()  # capped at time played
    useful_kills = IntegerField()
    denied_playtime = IntegerField(null=True)
    multikill_2 = IntegerField()
    multikill_3 = IntegerField()
    multikill_4 = IntegerField()
    multikill_5 = IntegerField()
    multikill_6 = IntegerField()
    useless_kills = IntegerField(null=True)
    full_selfkills = IntegerField(null=True)
    repairs = IntegerField(null=True)
    revives_given = IntegerField(null=True)

    class Meta:
        indexes = (
            (("round", "player"), True),
            (("player", "ended_at"), False),
            (("ended_at",), False),
        )


class WeaponRound(BaseModel):
    """Per-weapon counters of one player-round (weapons with any non-zero value only).

    Keyed by (round, player) rather than the PlayerRound id so a whole file can be
    bulk-inserted without reading generated ids back.
    """

    round = ForeignKeyField(Round, on_delete="CASCADE", index=False)
    player = ForeignKeyField(Player, on_delete="CASCADE", index=False)
    weapon = SmallIntegerField()
    hits = IntegerField()
    shots = IntegerField()
    kills = IntegerField()
    deaths = IntegerField()
    headshots = IntegerField()

    class Meta:
        # A WITHOUT ROWID table on SQLite (created so by migration 0005).
        primary_key = CompositeKey("round", "player", "weapon")


ALL_MODELS: list[type[BaseModel]] = [
    Server,
    Player,
    Alias,
    GamingSession,
    SourceFile,
    Round,
    MapResult,
    PlayerRound,
    WeaponRound,
]


# --------------------------------------------------------------------------- aggregates
# Owned by etbot.aggregates (which keeps them consistent with PlayerRound).


class PlayerDay(BaseModel):
    """Sums of one player's counted rounds on one game server and server-local calendar day.

    Only rows that aggregates count: no orphan rounds, no spectator rows. Maintained by
    :func:`etbot.aggregates.refresh` from PlayerRound, never written by hand. The sums are
    64-bit (migration 0013): a day of many rounds can pass 2^31 where one round cannot.
    One row per game server (migration 0015): a query for all servers sums the rows of a
    day, a query for one server filters on ``server``.
    """

    player = ForeignKeyField(Player, on_delete="CASCADE", index=False)
    day = DateField()
    server = ForeignKeyField(Server, on_delete="CASCADE", index=False)
    rounds = IntegerField()
    first_at = DateTimeField()
    last_at = DateTimeField()
    kills = BigIntegerField()
    deaths = BigIntegerField()
    hits = BigIntegerField()
    shots = BigIntegerField()
    headshots = BigIntegerField()
    headshot_kills = BigIntegerField()
    damage_given = BigIntegerField()
    damage_received = BigIntegerField()
    team_damage_given = BigIntegerField()
    gibs = BigIntegerField()
    self_kills = BigIntegerField()
    team_kills = BigIntegerField()
    xp = BigIntegerField()
    kill_assists = BigIntegerField()
    #: dynamites planted + defused + objectives stolen + returned + repairs
    objectives = BigIntegerField()
    revives = BigIntegerField()  # revives given (0 where the layout lacks it)
    time_played_s = BigIntegerField()
    #: Stopwatch maps decided on this day (by their round 2) with the player in round 2
    #: on the winning / losing side (draws count as neither).
    maps_won = IntegerField(default=0)
    maps_lost = IntegerField(default=0)

    class Meta:
        indexes = (
            (("player", "day", "server"), True),
            (("day", "player"), False),
        )


class PlayerWeaponDay(BaseModel):
    """Per-weapon sums of one player's counted rounds on one server and day (favourite weapon)."""

    player = ForeignKeyField(Player, on_delete="CASCADE", index=False)
    day = DateField()
    server = ForeignKeyField(Server, on_delete="CASCADE", index=False)
    weapon = SmallIntegerField()
    kills = BigIntegerField()
    deaths = BigIntegerField()
    hits = BigIntegerField()
    shots = BigIntegerField()
    headshots = BigIntegerField()

    class Meta:
        indexes = ((("player", "day", "server", "weapon"), True),)


class PlayerMapDay(BaseModel):
    """Per-map sums of one player's counted rounds on one server and day (best map by DPM)."""

    player = ForeignKeyField(Player, on_delete="CASCADE", index=False)
    day = DateField()
    server = ForeignKeyField(Server, on_delete="CASCADE", index=False)
    map = CharField(max_length=128)
    rounds = IntegerField()
    damage_given = BigIntegerField()
    time_played_s = BigIntegerField()

    class Meta:
        indexes = ((("player", "day", "server", "map"), True),)


ALL_MODELS += [PlayerDay, PlayerWeaponDay, PlayerMapDay]


# --------------------------------------------------------------------------- sources
# Owned by etbot.sources (migration 0007_sources).


class FetchedFile(BaseModel):
    """A remote stats file an SSH/SFTP source has fetched, so that neither a restart nor a
    second bot process fetches it again (unless its size or mtime changes).

    ``source`` names the remote folder (``host:port:folder``); ``sha256`` is the content
    handed to the importer, or None when the file was skipped (empty or too large).
    """

    source = CharField(max_length=512)
    name = CharField(max_length=255)
    size = BigIntegerField()
    mtime_ns = BigIntegerField()
    sha256 = CharField(max_length=64, null=True)
    fetched_at = DateTimeField()

    class Meta:
        indexes = ((("source", "name"), True),)


ALL_MODELS += [FetchedFile]


# --------------------------------------------------------------------------- outbox and settings
# Owned by etbot.announce: what the bot posts by itself, each exactly once.


class Announcement(BaseModel):
    """One thing the bot should post by itself (a transactional outbox row).

    Rows are written in the same transaction as the data they announce (e.g. by the import
    that stored a round), so a crash can never lose or double them; the unique
    ``(kind, key)`` makes a re-import, a duplicate file or a second bot process unable to
    queue the same post twice. Posting claims a row with a conditional UPDATE (exactly one
    process wins) and records the message it sent. ``status``: ``pending`` → ``sending`` →
    ``sent`` | ``failed``; ``silent`` rows were recorded without posting (bulk imports,
    history found at first start).
    """

    kind = CharField(max_length=32)
    key = CharField(max_length=64)
    status = CharField(max_length=16, default="pending")
    created_at = DateTimeField()
    #: Who claimed the row for posting, and when (a claim older than a few minutes is stale).
    claimed_by = CharField(max_length=64, null=True)
    claimed_at = DateTimeField(null=True)
    attempts = IntegerField(default=0)
    channel_id = BigIntegerField(null=True)
    message_id = BigIntegerField(null=True)
    posted_at = DateTimeField(null=True)
    error = CharField(max_length=255, null=True)

    class Meta:
        indexes = (
            (("kind", "key"), True),
            (("status", "id"), False),
        )


class GuildSetting(BaseModel):
    """A per-Discord-server setting changed by admins in Discord (text value)."""

    guild_id = BigIntegerField()
    name = CharField(max_length=64)
    value = CharField(max_length=255)

    class Meta:
        indexes = ((("guild_id", "name"), True),)


ALL_MODELS += [Announcement, GuildSetting]


# --------------------------------------------------------------------------- ratings
# Owned by etbot.rating (skill ratings from stopwatch map results). Everything here is
# derived: ``etbot rating rebuild`` recomputes it from map_result + player_round, and the
# incremental path (etbot.rating.apply_map_results) must store exactly the same numbers.
# Skill numbers are doubles (DoubleField) so a value read back is bit-identical to the
# one computed, which is what makes an incremental replay equal to a rebuild.


class PlayerRating(BaseModel):
    """A player's current skill estimate (logit units, see etbot.rating)."""

    player = ForeignKeyField(Player, on_delete="CASCADE", unique=True)
    mu = DoubleField()
    sigma = DoubleField()
    #: Map results that updated this rating.
    maps = IntegerField()
    #: End of the last map that updated it (the "last change").
    last_played = DateTimeField(index=True)


class RatingFactor(BaseModel):
    """A non-player term of the model: ``side`` (first attack vs first defence) and
    ``map:<name>`` (that map's shift of the side term)."""

    name = CharField(max_length=160, unique=True)
    mu = DoubleField()
    sigma = DoubleField()
    maps = IntegerField()


class RatingGame(BaseModel):
    """One map result as the rating replay saw it, in replay order (ended_at, tiebreak).

    ``map_result`` becomes NULL when the ingest deletes the result (a round 2 re-paired):
    the row then marks the point the next update must replay from.
    """

    map_result = ForeignKeyField(MapResult, null=True, unique=True, on_delete="SET NULL")
    ended_at = DateTimeField()
    #: From the round 2 file name and server name: a replay order that does not depend
    #: on the import order (ids do).
    tiebreak = BigIntegerField()
    map = CharField(max_length=128)
    #: 1 first attack won, 0 first defence won, 0.5 draw (as scored); None = not rated.
    score = DoubleField(null=True)
    #: Predicted P(first attack wins) from the earlier maps only; None = not predicted
    #: (a side without players).
    p_first_attack = DoubleField(null=True)
    players = SmallIntegerField()
    side_mu_before = DoubleField(null=True)
    side_sigma_before = DoubleField(null=True)
    map_mu_before = DoubleField(null=True)
    map_sigma_before = DoubleField(null=True)

    class Meta:
        indexes = ((("ended_at", "tiebreak"), False),)


class RatingHistory(BaseModel):
    """One player's rating before and after one map result."""

    player = ForeignKeyField(Player, on_delete="CASCADE", index=False)
    map_result = ForeignKeyField(MapResult, null=True, on_delete="SET NULL", index=False)
    ended_at = DateTimeField()
    tiebreak = BigIntegerField()
    #: 1 = played for the team that attacked first, 2 = for the team that defended first.
    side = SmallIntegerField()
    #: Share of the map's time the player played for that side (0-1).
    weight = DoubleField()
    #: 1 win, 0 loss, 0.5 draw, for this player's side.
    score = DoubleField()
    #: The player's stored state before the map: *before* the drift of their absence
    #: since ``previous_at`` (drift is applied when a map is predicted), so a replay can
    #: restore it; the map was judged with sigma_before grown by that drift.
    mu_before = DoubleField()
    sigma_before = DoubleField()
    mu_after = DoubleField()
    sigma_after = DoubleField()
    #: End of the player's previous rated map (None: this was the first).
    previous_at = DateTimeField(null=True)

    class Meta:
        indexes = (
            (("map_result", "player"), True),
            (("player", "ended_at"), False),
            (("ended_at", "tiebreak"), False),
        )


ALL_MODELS += [PlayerRating, RatingFactor, RatingGame, RatingHistory]


# --------------------------------------------------------------------------- betting
# Owned by etbot.betting (migration 0009_betting). Every rule that keeps points exact is
# a database rule here: CHECK constraints, unique keys, and the conditional UPDATEs of
# etbot.betting, so they hold with several bot processes on one PostgreSQL database.


class BetAccount(BaseModel):
    """A member's points in one Discord server (created with the starting grant)."""

    guild_id = BigIntegerField()
    member_id = BigIntegerField()
    points = IntegerField(constraints=[Check("points >= 0")])
    created_at = DateTimeField()

    class Meta:
        indexes = ((("guild_id", "member_id"), True),)


class BetPool(BaseModel):
    """A betting pool on one upcoming map between two line-ups (:class:`BetLineup`).

    ``state``: ``open`` → ``locked`` → ``settled`` | ``cancelled`` (an open pool may also
    be settled or cancelled directly). Every accepted bet increments ``bets`` with a
    conditional UPDATE on this row (``WHERE state = 'open'``), which is what serialises a
    bet against a concurrent lock on PostgreSQL.
    """

    guild_id = BigIntegerField()
    title = CharField(max_length=100, null=True)
    #: Only a round of this map locks / settles the pool (None: any map).
    map = CharField(max_length=128, null=True)
    state = CharField(
        max_length=16,
        default="open",
        constraints=[Check("state IN ('open', 'locked', 'settled', 'cancelled')")],
    )
    opened_by = BigIntegerField()
    opened_at = DateTimeField()  # UTC
    #: Server-local time of the opening: only rounds that end later belong to the pool.
    not_before = DateTimeField()
    #: When betting closes by itself (UTC); None = only by a round 1 or an admin.
    lock_at = DateTimeField(null=True, index=True)
    locked_at = DateTimeField(null=True)  # UTC
    closed_at = DateTimeField(null=True)  # UTC, settled or cancelled
    #: 1 = side A won, 2 = side B won, 0 = draw (refunded).
    winner = SmallIntegerField(null=True, constraints=[Check("winner IN (0, 1, 2)")])
    #: The round 1 that started the pool's match, and side A's colour in it.
    round1 = ForeignKeyField(Round, null=True, on_delete="SET NULL")
    side_a_colour = SmallIntegerField(null=True)
    map_result = ForeignKeyField(MapResult, null=True, on_delete="SET NULL")
    #: Rating model's P(side A wins) when the pool was opened, and how many of the
    #: line-ups' players it knew.
    p_side_a = DoubleField(null=True)
    rated_players = SmallIntegerField(default=0)
    #: The public pool message, and the state it shows (refreshed while they differ).
    channel_id = BigIntegerField(null=True)
    message_id = BigIntegerField(null=True)
    shown_state = CharField(max_length=16, null=True)
    bets = IntegerField(default=0)

    class Meta:
        indexes = ((("guild_id", "state"), False),)


class BetLineup(BaseModel):
    """One player (GUID) of one side of a pool; a GUID is on at most one side."""

    pool = ForeignKeyField(BetPool, on_delete="CASCADE", index=False)
    side = SmallIntegerField(constraints=[Check("side IN (1, 2)")])
    guid = CharField(max_length=32)

    class Meta:
        indexes = ((("pool", "guid"), True),)


class BetStake(BaseModel):
    """A member's stake in a pool: one side only, raised by further bets on that side."""

    pool = ForeignKeyField(BetPool, on_delete="CASCADE", index=False)
    member_id = BigIntegerField()
    side = SmallIntegerField(constraints=[Check("side IN (1, 2)")])
    amount = IntegerField(constraints=[Check("amount > 0")])
    #: The member's first bet in this pool (the payout tie-break) and the latest one.
    first_at = DateTimeField()
    last_at = DateTimeField()

    class Meta:
        indexes = ((("pool", "member_id"), True),)


class BetLedger(BaseModel):
    """Every change of a balance, with a unique idempotency ``key``.

    ``amount`` is the signed change of the member's balance: ``grant`` (the starting
    points), ``topup`` (the daily top-up at 0), ``payout`` and ``refund`` are positive,
    ``stake`` is negative. Keys: ``grant:<guild>:<member>``, ``topup:<guild>:<member>:<day>``,
    ``bet:<interaction id>``, ``payout:<pool>:<member>``, ``refund:<pool>:<member>`` — so a
    retried interaction, a second settle or a second top-up the same day cannot happen.
    """

    guild_id = BigIntegerField()
    member_id = BigIntegerField()
    kind = CharField(
        max_length=16,
        constraints=[Check("kind IN ('grant', 'topup', 'stake', 'payout', 'refund')")],
    )
    amount = IntegerField(
        constraints=[Check("(kind = 'stake' AND amount < 0) OR (kind <> 'stake' AND amount > 0)")]
    )
    pool = ForeignKeyField(BetPool, null=True, on_delete="SET NULL", index=False)
    #: 1 / 2 for stakes, payouts and refunds (the side of the stake).
    side = SmallIntegerField(null=True)
    key = CharField(max_length=80, unique=True)
    created_at = DateTimeField()

    class Meta:
        indexes = (
            (("guild_id", "member_id", "id"), False),
            (("pool", "kind"), False),
        )


ALL_MODELS += [BetAccount, BetPool, BetLineup, BetStake, BetLedger]
# --------------------------------------------------------------------------- seasons
# Owned by etbot.seasons. A season's standings are never stored: they are computed from
# the rounds of its date range. Only what admins define and what was awarded is kept.


class SeasonDef(BaseModel):
    """What admins changed about the seasons: a renamed quarter (``custom`` False: only
    ``name`` matters, the range follows from the key), or a custom season (``custom``
    True, the range ``[start, end)`` in naive server-local time, midnights)."""

    key = CharField(max_length=32, unique=True)
    name = CharField(max_length=64)
    custom = BooleanField(default=False)
    start = DateTimeField(null=True)
    end = DateTimeField(null=True)
    #: Discord id of the admin who made the last change (None: the CLI or a test).
    changed_by = BigIntegerField(null=True)
    changed_at = DateTimeField()


class SeasonClose(BaseModel):
    """A season that ended and was dealt with: its awards were stored (a snapshot) and
    its recap queued or recorded silently, in one transaction. The unique key makes that
    happen once, whatever the number of bot processes or restarts. One extra row,
    ``season_key = "*tracking"``, records when the bot first looked (etbot.seasons)."""

    season_key = CharField(max_length=32, unique=True)
    #: The range the awards were computed over (naive server-local).
    start = DateTimeField()
    end = DateTimeField()
    #: Server-local time the check closed it.
    closed_at = DateTimeField()
    #: False when it was recorded silently (history found at the first start, no awards).
    announced = BooleanField()
    #: Rounds (no orphans) and players (with a counted round) of the season at the close.
    rounds = IntegerField()
    players = IntegerField()


class SeasonAward(BaseModel):
    """The champion of one category of one season (one per season and category)."""

    season_key = CharField(max_length=32)
    category = CharField(max_length=32)
    player = ForeignKeyField(Player, on_delete="CASCADE", index=False)
    #: The winning value (for "improved": the DPM gain).
    value = DoubleField()
    #: "improved" only: the DPM of the season before.
    baseline = DoubleField(null=True)
    #: The winner's counted rounds in the season.
    rounds = IntegerField()

    class Meta:
        indexes = (
            (("season_key", "category"), True),
            (("player", "season_key"), False),
        )


ALL_MODELS += [SeasonDef, SeasonClose, SeasonAward]
# --------------------------------------------------------------------------- /teams
# Owned by etbot.teams: what a /teams answer shows, so its buttons work after a restart.


class TeamProposal(BaseModel):
    """One ``/teams`` answer: the players, who asked, and the split its message shows.

    The ranking of splits is re-derived from the ratings when "Next best split" is
    pressed; the split on the message is stored, so Accept finalises exactly what was
    shown. Buttons change a row with conditional UPDATEs (expected ``split_index``,
    not accepted yet): a double click, two members or two bot processes cannot skip a
    split or accept twice.
    """

    #: Discord id of the member who asked (only they may press the buttons).
    asked_by = BigIntegerField()
    #: "players" (picked one by one), "session" or "round" (everyone from the last one).
    source = CharField(max_length=16)
    #: The players' GUIDs, sorted, comma-separated (at most 12).
    players = CharField(max_length=400)
    #: Rank of the split shown (0 = the fairest) among ``split_count`` splits.
    split_index = IntegerField()
    split_count = IntegerField()
    #: The split shown: team A's GUIDs (team B is everyone else) and its predicted chance.
    team_a = CharField(max_length=400)
    p_team_a = DoubleField()
    created_at = DateTimeField(index=True)  # UTC
    accepted_by = BigIntegerField(null=True)
    accepted_at = DateTimeField(null=True)  # UTC


ALL_MODELS += [TeamProposal]


# --------------------------------------------------------------------------- milestones
# Owned by etbot.achievements (migration 0011_live).


class PlayerMilestone(BaseModel):
    """A milestone a player reached (e.g. 1,000 kills), stored once per player and milestone.

    Written by the import that made the player's total reach the threshold (a batch hook),
    in the same transaction; the unique (player, stat, threshold) key is what makes the
    announcement of a milestone exactly-once. ``announced`` is False for milestones recorded
    silently (bulk imports, history found when the feature was added).
    """

    player = ForeignKeyField(Player, on_delete="CASCADE", index=False)
    #: Key of the statistic in :data:`etbot.achievements.MILESTONES` (``kills``, ``rounds``…).
    stat = CharField(max_length=32)
    threshold = BigIntegerField()
    #: Server-local day on which the player's running total reached the threshold.
    reached_on = DateField()
    recorded_at = DateTimeField()
    announced = BooleanField(default=False)

    class Meta:
        indexes = ((("player", "stat", "threshold"), True),)


ALL_MODELS += [PlayerMilestone]
# --------------------------------------------------------------------------- availability
# Owned by etbot.availability: "who can play on which day?" polls posted by /availability,
# one changeable vote per member and day, and the reminders sent before each day's start.


class AvailabilityPoll(BaseModel):
    """An availability poll: the coming days of a Discord server's community."""

    guild_id = BigIntegerField()
    channel_id = BigIntegerField()
    #: The member who posted it.
    created_by = BigIntegerField()
    #: When it was posted (naive UTC).
    created_at = DateTimeField()
    #: The start time every day of the poll asks about ("21:00", server time); None when
    #: each day shows the forecast's usual start instead.
    start_time = CharField(max_length=5, null=True)


class AvailabilityDay(BaseModel):
    """One day (evening) of a poll and the start it asks about."""

    poll = ForeignKeyField(AvailabilityPoll, on_delete="CASCADE")
    day = DateField()
    #: The start asked about (server-local): the poll's time that day, else the forecast's
    #: most likely start that evening; None when there is neither.
    start = DateTimeField(null=True)
    #: True when ``start`` is the time the poll proposed (not a forecast).
    proposed = BooleanField(default=False)

    class Meta:
        indexes = (
            (("poll", "day"), True),
            (("start",), False),
        )


class AvailabilityVote(BaseModel):
    """A member's answer for one day of a poll; a new click replaces it."""

    poll = ForeignKeyField(AvailabilityPoll, on_delete="CASCADE")
    day = DateField()
    member_id = BigIntegerField()
    #: "yes", "maybe" or "no".
    answer = CharField(max_length=5)
    #: When the member last changed it (naive UTC).
    voted_at = DateTimeField()

    class Meta:
        indexes = ((("poll", "day", "member_id"), True),)


ALL_MODELS += [AvailabilityPoll, AvailabilityDay, AvailabilityVote]

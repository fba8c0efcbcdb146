"""Milestones by threshold crossing: stored once, announced once (live only), never a flood.

Expected totals are recomputed here from the PlayerRound rows (counted rows, per day),
independently of the per-day aggregates the hook reads.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path

from peewee import Database, fn

from conftest import corpus_files
from etbot import achievements
from etbot.achievements import (
    BY_STAT,
    MILESTONES,
    milestone_key,
    milestone_post,
    parse_milestone_key,
)
from etbot.achievements import (
    achievements as player_achievements,
)
from etbot.db import as_datetime
from etbot.ingest import Importer
from etbot.models import (
    Announcement,
    Player,
    PlayerMilestone,
    PlayerRound,
    Round,
    database_proxy,
)
from etbot.statdefs import counted, objectives_expr, revives_expr

Totals = dict[int, dict[str, int]]


def recomputed() -> tuple[Totals, dict[int, list[tuple[date, dict[str, int]]]]]:
    """Per player: every milestone statistic, and the running totals day by day."""
    per_day: dict[int, dict[date, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    rows = PlayerRound.select(
        PlayerRound.player,
        PlayerRound.ended_at,
        PlayerRound.kills,
        revives_expr(),
        PlayerRound.headshot_kills,
        objectives_expr(),
        PlayerRound.damage_given,
    ).where(counted())
    for pid, ended, kills, revives, heads, objectives, damage in rows.tuples():
        day = per_day[pid][as_datetime(ended).date()]
        day["rounds"] += 1
        day["kills"] += kills
        day["revives"] += revives or 0
        day["headshot_kills"] += heads
        day["objectives"] += objectives or 0
        day["damage"] += damage
    totals: Totals = {}
    running: dict[int, list[tuple[date, dict[str, int]]]] = {}
    for pid, days in per_day.items():
        acc: dict[str, int] = defaultdict(int)
        running[pid] = []
        for on in sorted(days):
            for stat, value in days[on].items():
                acc[stat] += value
            acc["days"] += 1
            running[pid].append((on, dict(acc)))
        totals[pid] = dict(acc)
    return totals, running


def reached(totals: Totals) -> set[tuple[int, str, int]]:
    return {
        (pid, d.stat, t)
        for pid, values in totals.items()
        for d in MILESTONES
        for t in d.thresholds
        if t <= values.get(d.stat, 0)
    }


def stored() -> dict[tuple[int, str, int], PlayerMilestone]:
    return {(m.player_id, m.stat, m.threshold): m for m in PlayerMilestone.select()}


def outbox() -> dict[str, str]:
    rows = Announcement.select().where(Announcement.kind == "milestone")
    return {a.key: a.status for a in rows}


def load(paths: list[Path], *, live: bool, one_batch: bool = True) -> None:
    importer = Importer(live=live)
    if one_batch:
        importer.import_many([(p.name, p.read_bytes()) for p in paths])
    else:
        importer.import_paths(paths)


def players_of(path: Path) -> set[int]:
    rows = PlayerRound.select(PlayerRound.player).join(Round).where(Round.file_name == path.name)
    return {pid for (pid,) in rows.tuples()}


def last_evening() -> tuple[list[Path], list[Path]]:
    """(everything before the corpus's last day, the last day's files)."""
    files = corpus_files()
    day = files[-1].name[:10]
    return [f for f in files if f.name[:10] < day], [f for f in files if f.name[:10] == day]


def test_definitions_are_sane() -> None:
    for d in MILESTONES:
        assert list(d.thresholds) == sorted(set(d.thresholds))
        assert BY_STAT[d.stat] is d
    assert parse_milestone_key(milestone_key(12, "kills", 1000)) == (12, "kills", 1000)
    for bad in ("", "1:kills", "x:kills:1000", "1:nope:1000", "1:kills:1e3", "1:kills:1000:2"):
        assert parse_milestone_key(bad) is None


def test_bulk_import_records_every_milestone_silently(corpus: object) -> None:
    # The corpus fixture: imported in batches of 200, like `etbot import`.
    totals, running = recomputed()
    found = stored()
    assert set(found) == reached(totals)
    assert found, "the corpus reaches some milestones"
    assert set(outbox().values()) == {"silent"}
    assert set(outbox()) == {milestone_key(*k) for k in found}
    assert not any(m.announced for m in found.values())
    # Dated by the day the running total got there.
    for (pid, stat, threshold), row in found.items():
        first = next(on for on, acc in running[pid] if acc.get(stat, 0) >= threshold)
        assert row.reached_on == first


def test_one_live_import_past_several_thresholds_announces_each_once(db: Database) -> None:
    load(corpus_files(), live=True)  # the whole history in one live batch
    totals, _ = recomputed()
    found = stored()
    assert set(found) == reached(totals)
    box = outbox()
    assert box == {milestone_key(*k): "pending" for k in found}
    per_stat: dict[tuple[int, str], int] = defaultdict(int)
    for pid, stat, _t in found:
        per_stat[(pid, stat)] += 1
    assert max(per_stat.values()) >= 2, "one import jumped past two thresholds of a stat"
    # Again, and again with a fresh importer (a restart): nothing new.
    load(corpus_files(), live=True)
    load(corpus_files()[-3:], live=True, one_batch=False)
    assert outbox() == box
    assert len(stored()) == len(found)


def test_adding_the_bot_to_an_existing_history_announces_only_new_crossings(
    db: Database,
) -> None:
    before, evening = last_evening()
    load(before, live=False, one_batch=False)
    # As if the feature had just been added: nothing stored yet for the old history.
    PlayerMilestone.delete().execute()
    Announcement.delete().execute()
    seen: dict[str, str] = {}
    played: set[int] = set()
    for path in evening:
        old, _ = recomputed()
        load([path], live=True)
        new, _ = recomputed()
        box = outbox()
        played |= players_of(path)
        # Everyone who played this evening has all his milestones recorded (the others
        # will have theirs when they next play).
        mine = {k for k in reached(new) if k[0] in played}
        assert {milestone_key(*k) for k in mine} == set(box)
        for key_text, status in box.items():
            if key_text in seen:
                assert seen[key_text] == status
                continue
            seen[key_text] = status
            parsed = parse_milestone_key(key_text)
            assert parsed is not None
            pid, stat, threshold = parsed
            was = old.get(pid, {}).get(stat, 0)
            if status == "pending":  # crossed by this very file
                assert was < threshold <= new[pid][stat]
            else:  # reached by the old history: recorded without a post
                assert status == "silent"
                assert threshold <= was
    assert "pending" in seen.values(), "the corpus's last evening crosses a milestone"
    assert "silent" in seen.values(), "the old history had milestones of its own"


def test_history_added_later_is_silent(db: Database) -> None:
    before, evening = last_evening()
    load(evening, live=True)
    announced_first = {k for k, v in outbox().items() if v == "pending"}
    load(before, live=False, one_batch=False)
    box = outbox()
    assert {k for k, v in box.items() if v == "pending"} == announced_first
    totals, _ = recomputed()
    assert {milestone_key(*k) for k in reached(totals)} <= set(box)


def test_a_live_import_that_crosses_nothing_queues_nothing(db: Database) -> None:
    before, evening = last_evening()
    load(before + evening, live=False, one_batch=False)
    count = Announcement.select().count()
    # The same files once more, live: duplicates, nothing changes.
    load(evening, live=True)
    assert Announcement.select().count() == count


def test_the_achievements_view(corpus: object) -> None:
    with database_proxy.atomic() as transaction:
        check_the_view()
        transaction.rollback()  # the corpus database is shared by the module


def check_the_view() -> None:
    totals, running = recomputed()
    pid = max(totals, key=lambda p: totals[p]["rounds"])
    # A milestone the hook has not stored (history from before the feature) still shows.
    PlayerMilestone.delete().where(
        (PlayerMilestone.player == pid) & (PlayerMilestone.stat == "rounds")
    ).execute()
    view = player_achievements(pid)
    earned = {(e.stat, e.threshold): e.reached_on for e in view.earned}
    expected = {(s, t) for p, s, t in reached(totals) if p == pid}
    assert set(earned) == expected
    for (stat, threshold), on in earned.items():
        assert on == next(d for d, acc in running[pid] if acc.get(stat, 0) >= threshold)
    assert [e.reached_on for e in view.earned] == sorted(
        (e.reached_on for e in view.earned), reverse=True
    )
    for item in view.next:
        definition = BY_STAT[item.stat]
        assert item.current == totals[pid].get(item.stat, 0)
        assert item.threshold == min(t for t in definition.thresholds if t > item.current)
        assert 0 <= item.progress < 1
    progress = [n.progress for n in view.next]
    assert progress == sorted(progress, reverse=True)


def test_milestone_post_data(corpus: object) -> None:
    with database_proxy.atomic() as transaction:
        check_the_post()
        transaction.rollback()  # the corpus database is shared by the module


def check_the_post() -> None:
    row = PlayerMilestone.select().order_by(PlayerMilestone.id).first()
    player = Player.get_by_id(row.player_id)
    player.discord_id = 123456789012345678
    player.save()
    post = milestone_post(milestone_key(row.player_id, row.stat, row.threshold))
    assert post is not None
    assert (post.name, post.discord_id, post.threshold) == (
        player.name,
        player.discord_id,
        row.threshold,
    )
    assert post.label == BY_STAT[row.stat].label
    later = [t for t in BY_STAT[row.stat].thresholds if t > row.threshold]
    assert post.next_threshold == (later[0] if later else None)
    assert milestone_post("garbage") is None
    assert milestone_post(milestone_key(row.player_id, row.stat, 7)) is None


def test_the_hook_is_one_of_the_default_hooks() -> None:
    from etbot.ingest.hooks import default_hooks

    assert achievements.record_milestones in default_hooks()


def test_two_servers_on_one_day_make_one_day_played(db: Database) -> None:
    """Two game servers (the aggregates hold a row per player, day and server): totals,
    the days milestones were reached, and the crossings of a live evening are the same
    as counted from the rows per day, whatever server each round was on."""
    from servers_helpers import two_server_files

    everything = two_server_files(corpus_files())
    last_day = everything[-1][0][:10]
    importer = Importer()
    history = [f for f in everything if f[0][:10] < last_day]
    for i in range(0, len(history), 200):
        importer.import_many(history[i : i + 200])
    both = (
        PlayerRound.select(PlayerRound.player)
        .join(Round)
        .where(counted())
        .group_by(PlayerRound.player, achievements.day_of(PlayerRound.ended_at))
        .having(fn.COUNT(Round.server.distinct()) > 1)
    )
    assert both.exists(), "some players play on both servers on one day"
    live = Importer(live=True)
    seen: set[str] = set(outbox())
    for name, data in (f for f in everything if f[0][:10] == last_day):
        old, _ = recomputed()
        live.import_many([(name, data)])
        new, _ = recomputed()
        for key_text, status in outbox().items():
            if key_text in seen:
                continue
            seen.add(key_text)
            parsed = parse_milestone_key(key_text)
            assert parsed is not None
            pid, stat, threshold = parsed
            if status == "pending":  # crossed by this very file
                assert old.get(pid, {}).get(stat, 0) < threshold <= new[pid][stat]
            else:
                assert threshold <= old.get(pid, {}).get(stat, 0)
    totals, running = recomputed()
    assert achievements.totals(list(totals)) == totals
    found = stored()
    assert set(found) == reached(totals)
    for (pid, stat, threshold), row in found.items():
        first = next(on for on, acc in running[pid] if acc.get(stat, 0) >= threshold)
        assert row.reached_on == first

"""Availability polls (etbot.availability) on SQLite and PostgreSQL: proposed and predicted
starts, one changeable vote per member and day, reminders queued once, and agreed starts
that override the forecast."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from peewee import Database, IntegrityError

from etbot import announce, availability
from etbot.availability import create_poll, vote
from etbot.errors import BadOption, NoData
from etbot.models import Announcement, AvailabilityVote, database_proxy
from test_forecast import import_folder, weekly, write_rounds

BERLIN = ZoneInfo("Europe/Berlin")
GUILD, CHANNEL, ALICE, BOB, CAROL = 10, 20, 101, 102, 103
#: Tuesday 4 March 2025, noon, server time.
NOON = datetime(2025, 3, 4, 12, 0)


def poll_at_nine(days: int = 3, now: datetime = NOON) -> availability.Poll:
    return create_poll(
        guild_id=GUILD,
        channel_id=CHANNEL,
        created_by=ALICE,
        now=now,
        days=days,
        start_time=time(21, 0),
    )


# --------------------------------------------------------------------------- input


@pytest.mark.parametrize(
    ("text", "expected"),
    [("21:00", time(21)), ("9:30", time(9, 30)), (" 20.45 ", time(20, 45)), ("00h30", time(0, 30))],
)
def test_start_times_are_parsed(text: str, expected: time) -> None:
    assert availability.parse_start_time(text) == expected


@pytest.mark.parametrize("text", ["", "21", "24:00", "21:60", "9pm", "=1+1", "21:00:00"])
def test_bad_start_times_are_refused_with_the_typed_text(text: str) -> None:
    with pytest.raises(BadOption) as exc:
        availability.parse_start_time(text)
    assert "HH:MM" in str(exc.value)
    assert exc.value.fields["text"] == text


def test_day_keys_round_trip_and_refuse_garbage() -> None:
    day = date(2025, 3, 4)
    assert availability.day_key(day) == "20250304"
    assert availability.parse_day_key("20250304") == day
    for bad in ("2025034", "2025-03-04", "20251304", "abcdefgh", ""):
        with pytest.raises(ValueError, match="day"):
            availability.parse_day_key(bad)


# --------------------------------------------------------------------------- polls


def test_a_poll_proposes_its_time_every_day(db: Database) -> None:
    poll = poll_at_nine(days=3)
    assert [d.day for d in poll.days] == [date(2025, 3, 4), date(2025, 3, 5), date(2025, 3, 6)]
    assert [d.start for d in poll.days] == [
        datetime(2025, 3, 4, 21, 0),
        datetime(2025, 3, 5, 21, 0),
        datetime(2025, 3, 6, 21, 0),
    ]
    assert all(d.proposed for d in poll.days)
    assert poll.start_time == "21:00"
    # After midnight belongs to the evening before: "Tuesday 00:30" is Wednesday 00:30.
    late = create_poll(
        guild_id=GUILD,
        channel_id=CHANNEL,
        created_by=ALICE,
        now=NOON,
        days=1,
        start_time=time(0, 30),
    )
    assert late.days[0].start == datetime(2025, 3, 5, 0, 30)


@pytest.mark.parametrize("days", [0, 15, -1])
def test_poll_length_is_checked(db: Database, days: int) -> None:
    with pytest.raises(BadOption):
        poll_at_nine(days=days)


def test_without_a_time_each_day_gets_the_predicted_start(db: Database, tmp_path: Path) -> None:
    # No history: nothing to predict from, the start stays open.
    open_poll = create_poll(guild_id=GUILD, channel_id=CHANNEL, created_by=ALICE, now=NOON, days=2)
    assert [d.start for d in open_poll.days] == [None, None]
    # Eight weeks of Tuesday and Thursday sessions at 20:30.
    write_rounds(tmp_path / "h", "Alpha", weekly(datetime(2025, 1, 6), {1, 3}, 20, 30, 8), 3)
    import_folder(tmp_path / "h")
    poll = create_poll(guild_id=GUILD, channel_id=CHANNEL, created_by=ALICE, now=NOON, days=3)
    assert not any(d.proposed for d in poll.days)
    for entry in poll.days:
        assert entry.start is not None
        usual = datetime.combine(entry.day, time(20, 30))
        assert abs(entry.start - usual) <= timedelta(minutes=15), entry


def test_one_changeable_vote_per_member_and_day(db: Database) -> None:
    poll = poll_at_nine()
    tue, wed = poll.days[0].day, poll.days[1].day
    vote(poll.id, tue, ALICE, "yes", now=NOON)
    vote(poll.id, tue, BOB, "maybe", now=NOON)
    after = vote(poll.id, wed, ALICE, "no", now=NOON)
    assert (after.day(tue).yes, after.day(tue).maybe, after.day(tue).no) == ([ALICE], [BOB], [])
    assert (after.day(wed).yes, after.day(wed).no) == ([], [ALICE])
    # Alice changes her mind for Tuesday: her answer moves, nobody else's does.
    changed = vote(poll.id, tue, ALICE, "no", now=NOON)
    assert (changed.day(tue).yes, changed.day(tue).maybe, changed.day(tue).no) == (
        [],
        [BOB],
        [ALICE],
    )
    assert changed.day(tue).answer_of(ALICE) == "no"
    assert changed.day(tue).answer_of(CAROL) is None
    rows = AvailabilityVote.select().where(
        (AvailabilityVote.poll == poll.id) & (AvailabilityVote.member_id == ALICE)
    )
    assert sorted((r.day, r.answer) for r in rows) == [(tue, "no"), (wed, "no")]


def test_the_database_allows_one_row_per_member_and_day(db: Database) -> None:
    poll = poll_at_nine()
    day = poll.days[0].day
    vote(poll.id, day, ALICE, "yes", now=NOON)
    with pytest.raises(IntegrityError), database_proxy.atomic():
        AvailabilityVote.insert(
            poll=poll.id, day=day, member_id=ALICE, answer="no", voted_at=NOON
        ).execute()
    assert availability.get_poll(poll.id).day(day).yes == [ALICE]


def test_bad_votes_are_refused_and_change_nothing(db: Database) -> None:
    poll = poll_at_nine()
    day = poll.days[0].day
    with pytest.raises(BadOption, match="yes, maybe or no"):
        vote(poll.id, day, ALICE, "perhaps", now=NOON)
    with pytest.raises(BadOption, match="not part of this poll"):
        vote(poll.id, day + timedelta(days=5), ALICE, "yes", now=NOON)
    with pytest.raises(NoData, match="no longer exists"):
        vote(poll.id + 1000, day, ALICE, "yes", now=NOON)
    # Two days later, the first day is over.
    with pytest.raises(BadOption, match="over"):
        vote(poll.id, day, ALICE, "yes", now=NOON + timedelta(days=2))
    assert AvailabilityVote.select().count() == 0


# --------------------------------------------------------------------------- reminders


def test_reminders_are_due_shortly_before_the_start_and_queued_once(db: Database) -> None:
    poll = poll_at_nine(days=2)
    tue, wed = poll.days[0].day, poll.days[1].day
    vote(poll.id, tue, ALICE, "yes", now=NOON)
    vote(poll.id, wed, BOB, "no", now=NOON)  # nobody says yes on Wednesday
    start = datetime(2025, 3, 4, 21, 0)
    assert availability.due_reminders(start - timedelta(minutes=31)) == []
    assert availability.due_reminders(start - timedelta(minutes=30)) == [(poll.id, tue)]
    assert availability.queue_due_reminders(start - timedelta(minutes=29)) == 1
    # Checked again (the next minute, after a restart, by a second process): queued once.
    assert availability.queue_due_reminders(start - timedelta(minutes=28)) == 0
    assert availability.queue_due_reminders(start - timedelta(minutes=1)) == 0
    keys = [
        r.key for r in Announcement.select().where(Announcement.kind == "availability_reminder")
    ]
    assert keys == [f"{poll.id}:20250304"]
    assert availability.due_reminders(start) == []  # started: too late for a reminder
    wednesday = datetime(2025, 3, 5, 20, 45)
    assert availability.queue_due_reminders(wednesday) == 0


def test_what_a_reminder_says(db: Database) -> None:
    poll = poll_at_nine(days=1)
    day = poll.days[0].day
    key = availability.reminder_key(poll.id, day)
    before = datetime(2025, 3, 4, 20, 35)
    assert availability.reminder(key, before) is None  # nobody said yes
    vote(poll.id, day, BOB, "yes", now=NOON)
    vote(poll.id, day, ALICE, "yes", now=NOON)
    vote(poll.id, day, CAROL, "maybe", now=NOON)
    found = availability.reminder(key, before)
    assert found is not None
    assert found.yes == [BOB, ALICE]  # the yes group only, in answer order
    assert found.start == datetime(2025, 3, 4, 21, 0)
    assert found.proposed
    assert availability.reminder(key, datetime(2025, 3, 4, 21, 5)) is None  # too late
    assert availability.reminder(f"{poll.id + 1000}:20250304", before) is None  # gone
    with pytest.raises(ValueError, match="day"):
        availability.reminder(f"{poll.id}:tomorrow", before)


# --------------------------------------------------------------------------- agreed starts


def test_a_day_is_agreed_by_a_majority_of_yes(db: Database) -> None:
    poll = poll_at_nine(days=3)
    tue, wed, thu = (d.day for d in poll.days)
    vote(poll.id, tue, ALICE, "yes", now=NOON)  # one player is not a session
    for member, answer in ((ALICE, "yes"), (BOB, "yes"), (CAROL, "no")):
        vote(poll.id, wed, member, answer, now=NOON)
    for member, answer in ((ALICE, "yes"), (BOB, "yes"), (CAROL, "maybe"), (104, "no")):
        vote(poll.id, thu, member, answer, now=NOON)  # two of four: no majority
    result = availability.get_poll(poll.id)
    assert [d.agreed for d in result.days] == [False, True, False]
    assert availability.agreed_starts(NOON) == [datetime(2025, 3, 5, 21, 0)]
    # Once it has started it is no longer ahead.
    assert availability.agreed_starts(datetime(2025, 3, 5, 21, 0)) == []


def test_an_agreed_start_overrides_the_forecast(db: Database, tmp_path: Path) -> None:
    write_rounds(tmp_path / "h", "Alpha", weekly(datetime(2025, 1, 6), {1, 3}, 20, 30, 8), 3)
    import_folder(tmp_path / "h")
    predicted = availability.next_session(NOON, BERLIN)
    assert predicted.start is not None
    assert not predicted.agreed
    # The weekly pattern says Tuesday 20:30; the poll agrees on Wednesday 22:00 instead.
    poll = create_poll(
        guild_id=GUILD, channel_id=CHANNEL, created_by=ALICE, now=NOON, days=3, start_time=time(22)
    )
    wed = poll.days[1].day
    vote(poll.id, wed, ALICE, "yes", now=NOON)
    assert availability.next_session(NOON, BERLIN) == predicted  # one yes: not agreed yet
    vote(poll.id, wed, BOB, "yes", now=NOON)
    agreed = availability.next_session(NOON, BERLIN)
    assert agreed.agreed
    assert agreed.start == datetime(2025, 3, 5, 22, 0, tzinfo=BERLIN).astimezone(UTC)
    # An aware "now" gives the same answer; after the agreed start the forecast is back.
    assert availability.next_session(NOON.replace(tzinfo=BERLIN), "Europe/Berlin") == agreed
    later = availability.next_session(datetime(2025, 3, 5, 23, 0), BERLIN)
    assert not later.agreed


def test_reminders_follow_the_outbox_rules(db: Database) -> None:
    # A reminder is an ordinary outbox row: one per (kind, key), whoever queues it.
    poll = poll_at_nine(days=1)
    vote(poll.id, poll.days[0].day, ALICE, "yes", now=NOON)
    key = availability.reminder_key(poll.id, poll.days[0].day)
    assert announce.enqueue(availability.REMINDER_KIND, key)
    assert availability.queue_due_reminders(datetime(2025, 3, 4, 20, 40)) == 0
    assert Announcement.select().count() == 1


def test_the_presence_shows_the_start_a_poll_agreed_on(db: Database, tmp_path: Path) -> None:
    """The presence says what /sessions says: an agreed poll start before the forecast's."""
    from etbot.matchnight import presence_state

    write_rounds(tmp_path / "h", "Alpha", weekly(datetime(2025, 1, 6), {1, 3}, 20, 30, 8), 3)
    import_folder(tmp_path / "h")
    now = NOON.replace(tzinfo=BERLIN)
    assert presence_state(now, "Europe/Berlin").next_start == (
        availability.next_session(NOON, BERLIN).start
    )
    poll = create_poll(
        guild_id=GUILD, channel_id=CHANNEL, created_by=ALICE, now=NOON, days=3, start_time=time(18)
    )
    tue = poll.days[0].day
    for member in (ALICE, BOB):
        vote(poll.id, tue, member, "yes", now=NOON)

    state = presence_state(now, "Europe/Berlin")
    assert state.kind == "next"
    assert state.next_start == datetime(2025, 3, 4, 18, 0, tzinfo=BERLIN).astimezone(UTC)

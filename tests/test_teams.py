"""/teams proposals on the corpus: the stored split is the ranking's, Next best split walks
the ranking, Accept finalises what was shown, only the asker may press, and double clicks
or stale messages change nothing twice (conditional updates, both backends)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest

from etbot import balance, rating, teams
from etbot.models import TeamProposal
from rating_helpers import rolled_back, unrated_player

ASKER = 111_111_111_111_111_111
OTHER = 222_222_222_222_222_222


@pytest.fixture
def rated(corpus):
    """The module's corpus, rated; what a test stores (proposals…) is rolled back."""
    rating.apply_map_results()
    with rolled_back():
        yield corpus


def guids_of(proposal: teams.Proposal) -> tuple[set[str], set[str]]:
    return {p.guid for p in proposal.team_a}, {p.guid for p in proposal.team_b}


def test_propose_shows_the_fairest_split_and_stores_it(rated) -> None:
    players = [r.guid for r in rating.ranking()[:6]]
    proposal = teams.propose(players, ASKER)
    ranked = balance.balance(players)
    best = ranked.splits[0]
    assert guids_of(proposal) == (set(best.team_a), set(best.team_b))
    assert proposal.p_team_a == best.p_team_a
    assert (proposal.index, proposal.splits) == (0, len(ranked.splits)) == (0, math.comb(6, 3) // 2)
    assert proposal.has_next
    assert not proposal.accepted
    # Names and current ratings, best rated first.
    by_guid = {r.guid: r for r in rating.ranking()}
    for team in (proposal.team_a, proposal.team_b):
        shown = [p.rating for p in team]
        assert None not in shown  # everyone is rated
        assert shown == sorted((r for r in shown if r is not None), reverse=True)
        for p in team:
            assert (p.name, p.rating) == (by_guid[p.guid].name, by_guid[p.guid].rating)
    # Everything a button needs is in the database: a fresh read gives the same answer.
    assert teams.get_proposal(proposal.id) == proposal


def test_next_best_split_walks_the_ranking_then_stops(rated) -> None:
    players = [r.guid for r in rating.ranking()[:4]]  # 3 splits of 2 v 2
    ranked = balance.balance(players).splits
    proposal = teams.propose(players, ASKER)
    shown = [proposal]
    while shown[-1].has_next:
        shown.append(teams.next_split(proposal.id, shown[-1].index, ASKER))
    assert [s.index for s in shown] == list(range(len(ranked))) == [0, 1, 2]
    for s, split in zip(shown, ranked, strict=True):
        assert guids_of(s) == (set(split.team_a), set(split.team_b))
        assert s.p_team_a == split.p_team_a
    # Past the last split nothing changes.
    assert teams.next_split(proposal.id, 2, ASKER) == shown[-1]


def test_a_stale_click_changes_nothing_twice(rated) -> None:
    players = [r.guid for r in rating.ranking()[:6]]
    proposal = teams.propose(players, ASKER)
    second = teams.next_split(proposal.id, 0, ASKER)
    # The same button (index 0) pressed again before the message was updated.
    assert teams.next_split(proposal.id, 0, ASKER) == second
    assert second.index == 1
    # Accept from the stale message: not what is stored now, so the user must look again.
    with pytest.raises(teams.TeamsChanged):
        teams.accept(proposal.id, 0, ASKER)
    assert not teams.get_proposal(proposal.id).accepted


def test_accept_finalises_the_shown_split_once(rated) -> None:
    players = [r.guid for r in rating.ranking()[:5]]
    proposal = teams.propose(players, ASKER)
    shown = teams.next_split(proposal.id, 0, ASKER)
    at = datetime(2030, 1, 2, 3, 4, 5)
    accepted = teams.accept(proposal.id, shown.index, ASKER, now=at)
    assert accepted.accepted_by == ASKER
    assert accepted.accepted_at == at
    assert guids_of(accepted) == guids_of(shown)
    assert accepted.index == 1
    # Accepted is final: another Accept or Next best split changes nothing.
    assert teams.accept(proposal.id, shown.index, ASKER) == accepted
    assert teams.next_split(proposal.id, shown.index, ASKER) == accepted


def test_only_the_asker_may_press(rated) -> None:
    players = [r.guid for r in rating.ranking()[:4]]
    proposal = teams.propose(players, ASKER)
    with pytest.raises(teams.NotYourTeams):
        teams.next_split(proposal.id, 0, OTHER)
    with pytest.raises(teams.NotYourTeams):
        teams.accept(proposal.id, 0, OTHER)
    assert teams.get_proposal(proposal.id) == proposal  # untouched


def test_bad_player_lists_are_user_errors(rated) -> None:
    best = [r.guid for r in rating.ranking()[:13]]
    with pytest.raises(rating.RatingInputError, match="same player twice"):
        teams.propose([best[0], best[1], best[0]], ASKER)
    with pytest.raises(rating.RatingInputError, match="between 2 and 12 players"):
        teams.propose(best[:1], ASKER)
    if len(best) == 13:
        with pytest.raises(rating.RatingInputError, match="between 2 and 12 players"):
            teams.propose(best, ASKER)
    newcomer = unrated_player()
    with pytest.raises(rating.NoRating) as error:
        teams.propose([best[0], newcomer.guid], ASKER)
    assert error.value.fields["players"] == [newcomer.name]
    assert TeamProposal.select().count() == 0  # nothing stored for a refused request


def test_from_last_round_takes_its_players(rated) -> None:
    everyone = balance.players_from_last("round")
    if not 2 <= len(everyone) <= balance.MAX_PLAYERS:
        pytest.skip(f"the corpus's last round has {len(everyone)} players")
    proposal = teams.propose(None, ASKER, source="round")
    assert proposal.source == "round"
    assert set().union(*guids_of(proposal)) == set(everyone)


def test_unknown_proposals_and_old_ones_are_gone(rated) -> None:
    players = [r.guid for r in rating.ranking()[:4]]
    with pytest.raises(teams.TeamsGone):
        teams.next_split(10_000_000, 0, ASKER)
    old = teams.propose(players, ASKER, now=datetime(2030, 1, 1))
    kept = teams.propose(players, ASKER, now=datetime(2030, 1, 1) + timedelta(days=teams.KEEP_DAYS))
    teams.propose(
        players, OTHER, now=datetime(2030, 1, 1) + timedelta(days=teams.KEEP_DAYS, seconds=1)
    )
    with pytest.raises(teams.TeamsGone):
        teams.accept(old.id, 0, ASKER)
    assert teams.get_proposal(kept.id) == kept

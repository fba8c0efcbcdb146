"""Comparisons on the real corpus (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from etbot.compare import compare
from etbot.errors import BadOption
from etbot.statdefs import COMMUNITY_MIN_ROUNDS, player_values
from etbot.summary import player_summary
from raw_truth import ALL


def test_compare_percentiles_against_community(full: object) -> None:
    community = player_values(["kd", "dpm"], ALL, min_rounds=COMMUNITY_MIN_ROUNDS)
    best_dpm = max(community, key=lambda p: community[p]["dpm"])
    worst_kd = min(community, key=lambda p: community[p]["kd"])
    data = compare([best_dpm, worst_kd], ALL)
    assert data.axes == ["K/D", "DPM", "Accuracy", "Objectives", "Revives", "Assists"]
    assert data.community_size == len(community)
    first, second = data.players
    n = len(community)
    assert first.percentiles[1] == pytest.approx(100 * (n - 0.5) / n)
    assert second.percentiles[0] == pytest.approx(100 * 0.5 / n)
    for player in data.players:
        summary = player_summary(player.player.id, ALL)
        assert player.raw[0] == pytest.approx(summary.kd)
        assert player.raw[1] == pytest.approx(summary.dpm)
        assert player.raw[2] == pytest.approx(summary.accuracy)
        assert player.raw[3] == pytest.approx(summary.objectives * 600 / summary.time_played_s)
        assert all(0 <= p <= 100 for p in player.percentiles)
    with pytest.raises(BadOption):
        compare([], ALL)
    with pytest.raises(BadOption):
        compare(list(community)[:6], ALL)

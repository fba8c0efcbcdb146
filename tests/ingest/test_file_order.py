"""A folder's stats files are imported in the time order of their names."""

from __future__ import annotations

from pathlib import Path

from etbot.ingest.importer import iter_stats_files


def test_files_of_sub_folders_come_in_time_order(tmp_path: Path) -> None:
    # One sub-folder per game server, as many communities keep them: the second server's
    # older rounds must not come after the first server's newer ones (the ratings would
    # replay the whole later history for every batch of them).
    names = {
        "alpha": ["2025-01-01-200000-supply-round-1.txt", "2025-01-03-200000-supply-round-1.txt"],
        "beta": ["2025-01-02-200000-goldrush-round-1.txt", "2025-01-04-200000-radar-round-1.txt"],
    }
    for folder, files in names.items():
        (tmp_path / folder).mkdir()
        for name in files:
            (tmp_path / folder / name).write_text("x")
    (tmp_path / "beta" / "notes.md").write_text("not a stats file")

    found = list(iter_stats_files([tmp_path]))

    assert [p.name for p in found] == sorted(n for files in names.values() for n in files)
    assert [p.parent.name for p in found] == ["alpha", "beta", "alpha", "beta"]


def test_each_path_given_keeps_its_place(tmp_path: Path) -> None:
    # Paths given one by one are taken in the order given (the caller chose it).
    late = tmp_path / "2025-02-01-200000-supply-round-1.txt"
    early = tmp_path / "2025-01-01-200000-supply-round-1.txt"
    for path in (late, early):
        path.write_text("x")

    assert list(iter_stats_files([late, early])) == [late, early]

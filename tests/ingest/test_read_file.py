"""Reading a stats file: whole, never more than the limit, whatever size it claims."""

from __future__ import annotations

from pathlib import Path

import pytest

from etbot.ingest.importer import read_stats_file


def test_a_file_up_to_the_limit_is_read_whole_and_one_byte_more_is_refused(
    tmp_path: Path,
) -> None:
    at_limit = tmp_path / "at.txt"
    at_limit.write_bytes(b"x" * 999 + b"\n")
    over = tmp_path / "over.txt"
    over.write_bytes(b"x" * 1001)

    assert read_stats_file(at_limit, limit=1000) == b"x" * 999 + b"\n"
    with pytest.raises(OSError, match="larger than any stats file"):
        read_stats_file(over, limit=1000)


def test_a_file_holding_more_than_its_size_says_is_read_to_the_end() -> None:
    # /proc files are regular files of size 0 with content: the size the file has when it
    # is opened is only where reading starts (a file still being written grows the same way).
    proc = Path("/proc/self/cmdline")
    if not proc.exists() or proc.stat().st_size != 0:
        pytest.skip("needs a /proc file that reports size 0")
    content = proc.read_bytes()
    assert content  # the test's own command line

    assert read_stats_file(proc) == content
    with pytest.raises(OSError, match="larger than any stats file"):
        read_stats_file(proc, limit=len(content) - 1)

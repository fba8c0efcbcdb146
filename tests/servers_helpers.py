"""A community with two game servers, made from the corpus in use (real or generated).

Server A is the corpus as written. Server B is a second server of the same community: a
copy of every file whose map is not one of :data:`ONLY_ON_A`, with the server renamed in
the header (``B_SUFFIX``) and :data:`B_LATER` later, so the two servers' rounds
interleave minute by minute on the same evenings (the trick of bench/ingest.py). Whole
maps are left out of B, never single files, so B's round pairs stay pairs; B's numbers
therefore differ from A's, and a question about one server can tell them apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from etbot.ingest import Importer, ImportReport

#: How much later server B's copy of a round ends.
B_LATER = timedelta(minutes=10)
#: Appended to server A's name (with a colour code, like real server names).
B_SUFFIX = " ^1#2"


def server_a_name(files: Sequence[Path]) -> bytes:
    """Server A's raw name: the first header field of the corpus."""
    for path in files:
        server = path.read_bytes().partition(b"\n")[0].partition(b"\\")[0]
        if server:
            return server
    raise AssertionError("no header in the corpus")


def map_of(name: str) -> str:
    """The map of a stats file name (``YYYY-MM-DD-HHMMSS-<map>-round-N.txt``)."""
    return name[18:].rsplit("-round-", 1)[0]


def only_on_a(files: Sequence[Path]) -> set[str]:
    """The maps server B never plays: every third map in name order (at least one)."""
    maps = sorted({map_of(p.name) for p in files})
    return set(maps[::3])


def shifted(name: str, by: timedelta) -> str:
    """The same stats file name, ``by`` later."""
    ended = datetime.strptime(name[:17], "%Y-%m-%d-%H%M%S") + by
    return ended.strftime("%Y-%m-%d-%H%M%S") + name[17:]


def server_b_file(name: str, data: bytes) -> tuple[str, bytes]:
    """Server B's copy of one file: renamed server, ended :data:`B_LATER` later."""
    header, sep, rest = data.partition(b"\n")
    server, bs, tail = header.partition(b"\\")
    return shifted(name, B_LATER), server + B_SUFFIX.encode() + bs + tail + sep + rest


def two_server_files(files: Sequence[Path]) -> list[tuple[str, bytes]]:
    """Server A's files and server B's copies, in end-time order (as they would arrive)."""
    skip = only_on_a(files)
    out: list[tuple[str, bytes]] = []
    for path in files:
        data = path.read_bytes()
        out.append((path.name, data))
        if map_of(path.name) not in skip:
            out.append(server_b_file(path.name, data))
    return sorted(out, key=lambda f: (f[0][:17], f[1][:40]))


def import_two_servers(files: Sequence[Path], batch: int = 100) -> ImportReport:
    """Import the two-server history in batches; return the report."""
    everything = two_server_files(files)
    report = ImportReport()
    importer = Importer()
    for i in range(0, len(everything), batch):
        importer.import_many(everything[i : i + batch], report)
    return report

"""What an import reports: a :class:`FileResult` per file, summed in an :class:`ImportReport`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FileResult:
    """What happened to one file."""

    file_name: str
    #: "imported" | "duplicate" | "rejected" | "replaced" (a partial file imported before,
    #: now complete: its round was re-derived, see :mod:`etbot.ingest.growth`).
    status: str
    reason: str = ""
    round_id: int | None = None
    round_no: int | None = None
    paired: bool = False
    orphan: bool = False
    #: Other round 2s re-derived because this file changed their pairing.
    repaired_round_ids: list[int] = field(default_factory=list)
    player_ids: list[int] = field(default_factory=list)


@dataclass
class ImportReport:
    """Summary of an import run (what the CLI prints and the bot announces)."""

    imported: int = 0
    duplicates: int = 0
    paired: int = 0
    orphans: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    #: Partial files replaced by their complete version: (file name, what changed).
    replacements: list[tuple[str, str]] = field(default_factory=list)
    #: Paths not even read, with the reason: unreadable folders, FIFOs, devices, dangling
    #: symbolic links (:func:`etbot.ingest.iter_stats_files`).
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: Rounds inserted, and round 2s re-derived because their pairing changed.
    new_round_ids: list[int] = field(default_factory=list)
    repaired_round_ids: list[int] = field(default_factory=list)
    player_ids: set[int] = field(default_factory=set)

    @property
    def changed(self) -> bool:
        """Did the import change any data (so cached query results are stale)?"""
        return bool(self.new_round_ids or self.repaired_round_ids)

    def add(self, result: FileResult) -> None:
        """Count one file's result."""
        if result.status == "imported":
            self.imported += 1
            if result.round_id is not None:
                self.new_round_ids.append(result.round_id)
            self.repaired_round_ids.extend(result.repaired_round_ids)
            self.player_ids.update(result.player_ids)
            if result.round_no == 2:
                if result.paired:
                    self.paired += 1
                else:
                    self.orphans += 1
        elif result.status == "replaced":
            self.replacements.append((result.file_name, result.reason))
            self.repaired_round_ids.extend(result.repaired_round_ids)
            self.player_ids.update(result.player_ids)
        elif result.status == "duplicate":
            self.duplicates += 1
        else:
            self.rejected.append((result.file_name, result.reason))

    def summary(self) -> str:
        """One line: imported, duplicates, paired, orphans, rejected (then replaced partial
        files and skipped paths, when there are any)."""
        line = (
            f"{self.imported} imported, {self.duplicates} duplicates, "
            f"{self.paired} round 2s paired, {self.orphans} orphans, "
            f"{len(self.rejected)} rejected"
        )
        if self.replacements:
            line += f", {self.replaced} replaced"
        return line + (f", {len(self.skipped)} skipped" if self.skipped else "")

    @property
    def replaced(self) -> int:
        """Partial files replaced by their complete version."""
        return len(self.replacements)

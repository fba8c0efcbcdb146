"""CONTRIBUTING.md's module map stays true: every module is in it, every file it names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "etbot"
GUIDE = ROOT / "CONTRIBUTING.md"


def mapped_modules() -> set[str]:
    """The modules in the map's tables: first cell of a row, relative to src/etbot/."""
    rows = re.findall(r"^\| `([\w/]+\.py)` \|", GUIDE.read_text(encoding="utf-8"), re.MULTILINE)
    return {row for row in rows if not row.startswith("tests/")}


def only_a_docstring(path: Path) -> bool:
    """A package marker with no code of its own (at most a docstring) needs no row."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body)


def test_every_module_is_in_the_map() -> None:
    modules = {
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if "migrations" not in path.parts
        and not (path.name == "__init__.py" and only_a_docstring(path))
    }
    missing = sorted(modules - mapped_modules())
    assert not missing, f"add these to CONTRIBUTING.md's module map: {missing}"


def test_every_file_the_guide_names_exists() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:tests|bench|scripts|src)/[\w/.-]+\.(?:py|sh))`", text))
    named |= {f"src/etbot/{m}" for m in mapped_modules()}
    assert named, "the guide names no files"
    examples = ("foo", "NNNN")  # the how-to sections' placeholders
    gone = sorted(
        name
        for name in named
        if not (ROOT / name).exists() and not any(word in name for word in examples)
    )
    assert not gone, f"CONTRIBUTING.md names files that do not exist: {gone}"

"""The layout README's Architecture section describes is the tree's, and no module in src/ is over 400 lines."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "cvstream"


def _architecture_tree() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Architecture: where each change goes", 1)[1]
    return section.split("```", 2)[1]


def test_readme_architecture_names_every_module_and_package_and_nothing_else() -> None:
    named: set[str] = set()
    for line in _architecture_tree().splitlines():
        match = re.match(r"^  (\S[^ ]*(?:, \S+)*)\s{2,}", line)  # an entry: two spaces, names, then its text
        if match:
            named.update(name.strip().rstrip(",") for name in match.group(1).split(", "))
    present = {
        p.name + ("/" if p.is_dir() else "")
        for p in PACKAGE.iterdir()
        if p.name not in ("__init__.py", "__main__.py", "__pycache__")
    }
    assert named == present


def test_no_module_in_src_is_over_400_lines() -> None:
    lengths = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {name: n for name, n in lengths.items() if n > 400} == {}

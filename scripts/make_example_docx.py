"""Write src/cvstream/examples/cv.docx (examples/ links there): the example CV as a Word document (headings,
a role line, bulleted list paragraphs with bold runs, a table). Run it after changing the example:
`python scripts/make_example_docx.py [OUT]`."""

from __future__ import annotations

import sys
from pathlib import Path

import docx
from docx.document import Document

EXPERIENCE = [
    (
        "Acme Corp — Backend Engineer (2021–2024)",
        [
            ("built the ", "billing service", " in Python and Postgres"),
            ("led a team of 4 engineers through the migration to Kubernetes", "", ""),
            ("cut monthly cloud costs by 30% by rightsizing instances", "", ""),
        ],
    ),
    (
        "Globex — Software Developer (2017–2021)",
        [("wrote the on-call runbook used by 3 teams", "", ""), ("mentored two junior developers", "", "")],
    ),
]


def build() -> Document:
    document = docx.Document()
    document.core_properties.author = "Alex Morgan"
    document.add_heading("Alex Morgan", 0)
    document.add_paragraph("Berlin · alex.morgan@example.com · github.com/alexmorgan")
    document.add_heading("Experience", 1)
    for role, bullets in EXPERIENCE:
        document.add_paragraph().add_run(role).bold = True
        for before, bold, after in bullets:
            item = document.add_paragraph(style="List Bullet")
            item.add_run(before)
            if bold:
                item.add_run(bold).bold = True
                item.add_run(after)
    document.add_heading("Skills", 1)
    table = document.add_table(rows=2, cols=2)
    for row, (area, tools) in enumerate([("Languages", "Python, Go, SQL"), ("Platforms", "PostgreSQL, Kafka, AWS")]):
        table.cell(row, 0).text = area
        table.cell(row, 1).text = tools
    return document


def main() -> None:
    default = Path(__file__).resolve().parents[1] / "src" / "cvstream" / "examples" / "cv.docx"
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    build().save(str(target))
    print(target)


if __name__ == "__main__":
    main()

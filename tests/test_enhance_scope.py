"""Which bullets a whole-CV rewrite touches: experience and achievement bullets only; skills, languages,
education and contact lines, and `Label: value` fields, stay byte for byte (unit tests of scope.py and the
plain-text reader, then end to end through the real entry point and SDK against the loopback mock)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from cvstream.documents import kind_of, load_text
from cvstream.documents.model import Document
from cvstream.documents.scope import field_label, is_field, kept_heading, select
from cvstream.errors import ExitStatus
from cvstream.mock.server import MockServer
from tests.conftest import Result

Cli = Callable[..., Result]

TEXT_CV = (
    "Alex Morgan\nBerlin · alex@example.com\n\nExperience:\nBuilt the billing service in Python\n"
    "Led a team of 4 engineers\n\nSkills: Python, SQL, Kubernetes\nEducation: TU Berlin, M.Sc. 2017\n"
)
MARKDOWN_CV = (
    "# Jane\n\n## Experience\n\n### Acme — Engineer\n\n- built the api\n- **Tech stack:** Go, Postgres\n"
    "- led a team\n\n## Skills\n\n- Python, SQL\n- Kubernetes\n\n## Languages\n\n- German (native)\n\n"
    "## Contact\n\n- jane@example.com\n"
)


def _rewritten(text: str, name: str) -> Document:
    return select(load_text(kind_of(name, text), text))[0]


def _texts(text: str, name: str) -> list[str]:
    return [b.text for b in _rewritten(text, name).bullets]


def test_headings_of_facts_are_kept_and_achievement_headings_win() -> None:
    for title in ("Skills", "Technical Skills", "Languages", "EDUCATION", "Certifications", "Contact", "Summary"):
        assert kept_heading(title), title
    for title in ("Experience", "Professional Experience", "Projects", "Education & Experience", "Acme Corp"):
        assert not kept_heading(title), title


def test_fields_are_kept_wherever_they_stand() -> None:
    assert field_label("Skills: Python, SQL, Kubernetes") == "Skills"
    assert field_label("**Languages:** English, German") == "Languages"
    assert field_label("\\textbf{Tech stack:} Go") == "Tech stack"
    assert field_label("https://example.com") is None and field_label("built x: fast") == "built x"
    assert is_field("Skills: Python, SQL") and is_field("Email: jane@example.com")
    assert is_field("jane@example.com") and is_field("+49 30 1234567") and is_field("<https://example.com>")
    assert not is_field("Migration: moved 40 services to Kubernetes")  # a lead-in, not a field
    assert not is_field("cut costs by 30% across 12 services")


def test_the_plain_text_cv_of_the_report_keeps_its_skills_and_education_lines() -> None:
    assert kind_of("cv.txt", TEXT_CV) == "text"
    assert _texts(TEXT_CV, "cv.txt") == ["Built the billing service in Python", "Led a team of 4 engineers"]
    document = _rewritten(TEXT_CV, "cv.txt")
    assert document.with_rewrites({1: "A", 2: "B"}) == TEXT_CV.replace(
        "Built the billing service in Python", "A"
    ).replace("Led a team of 4 engineers", "B")


def test_an_inline_label_opens_its_section_and_a_field_gives_context() -> None:
    text = (
        "JANE\n\nEXPERIENCE\nAcme Corp: Backend Engineer\nBuilt the api\nLed a team\n"
        "Skills: Python, SQL\nKubernetes, Terraform\n"
    )
    document = _rewritten(text, "cv.txt")
    assert [b.text for b in document.bullets] == ["Built the api", "Led a team"]
    assert document.bullets[0].context == "EXPERIENCE › Acme Corp: Backend Engineer"
    marked = "JANE\n\nEXPERIENCE\nAcme\n- built x\nLanguages: English\n- German (native)\n"
    assert _texts(marked, "cv.txt") == ["built x"]
    assert kind_of("b.txt", "- built x\n- led y\n") == "bullets"  # still a plain bullets file


def test_markdown_skills_languages_contact_and_fields_are_kept() -> None:
    assert _texts(MARKDOWN_CV, "cv.md") == ["built the api", "led a team"]
    mixed = "# J\n\n## Education & Experience\n\n- led the robotics club\n"
    assert _texts(mixed, "cv.md") == ["led the robotics club"]
    nearest = "# Jane — Profile\n\n## Experience\n\n- built x\n\n### Skills used\n\n- Go\n"
    assert _texts(nearest, "cv.md") == ["built x"]  # the nearest heading naming a kind of section decides


def test_latex_and_word_follow_the_same_rule() -> None:
    tex = (
        "\\section*{Experience}\n\\begin{itemize}\n  \\item built x\n  \\item \\textbf{Tools:} Go, Rust\n"
        "\\end{itemize}\n\\section*{Skills}\n\\begin{itemize}\n  \\item Python\n\\end{itemize}\n"
    )
    assert _texts(tex, "cv.tex") == ["built x"]
    import docx

    from cvstream.rewrite import parse_document

    source = docx.Document()
    source.add_heading("Skills", 1)
    source.add_paragraph("Python, SQL", style="List Bullet")
    source.add_heading("Experience", 1)
    source.add_paragraph("built the api", style="List Bullet")
    data = io.BytesIO()
    source.save(data)
    job = parse_document("cv.docx", data.getvalue(), "docx")
    assert [b.text for b in job.document.bullets] == ["built the api"]
    assert job.word is not None and job.word.paragraphs[1].text == "built the api"  # renumbered with it


def test_only_can_name_a_kept_section_but_fields_stay_kept() -> None:
    document = load_text("markdown", MARKDOWN_CV)
    limited, numbers = select(document, ["skills"])
    assert [b.text for b in limited.bullets] == ["Python, SQL", "Kubernetes"] and numbers == [4, 5]
    experience, _ = select(document, ["experience"])
    assert [b.text for b in experience.bullets] == ["built the api", "led a team"]


@pytest.mark.timeout(30)
def test_enhance_a_plain_text_cv_rewrites_only_its_achievements(cli: Cli, mock: MockServer, home: Path) -> None:
    (home / "cv.txt").write_text(TEXT_CV)
    result = cli("enhance", "cv.txt", "--no-usage", base_url=mock.base_url)
    assert result.code == 0, result.stderr
    assert result.out == TEXT_CV.replace("Built the", "[offline] Built the").replace("Led a", "[offline] Led a")
    user = mock.records[-1].body["messages"][0]["content"]  # type: ignore[index]
    assert "Skills" not in user and "Education" not in user and "[3]" not in user


@pytest.mark.timeout(30)
def test_enhance_a_markdown_cv_keeps_skills_languages_and_contact(cli: Cli, mock: MockServer, home: Path) -> None:
    (home / "cv.md").write_text(MARKDOWN_CV)
    result = cli("enhance", "cv.md", "--no-usage", base_url=mock.base_url)
    assert result.code == 0, result.stderr
    expected = MARKDOWN_CV.replace("- built", "- [offline] Built").replace("- led", "- [offline] Led")
    assert result.out == expected
    only = cli("enhance", "cv.md", "--only", "Skills", "--no-usage", base_url=mock.base_url)
    assert only.code == 0, only.stderr
    assert "- [offline] Python, SQL\n- [offline] Kubernetes\n" in only.out and "- built the api\n" in only.out


@pytest.mark.timeout(30)
def test_a_cv_with_nothing_but_facts_is_refused_with_a_hint(cli: Cli, mock: MockServer, home: Path) -> None:
    (home / "cv.md").write_text("# Jane\n\n## Skills\n\n- Python\n- SQL\n")
    result = cli("enhance", "cv.md", base_url=mock.base_url)
    assert result.code == ExitStatus.USAGE and not mock.records
    assert result.stderr.splitlines() == [
        "error: cv.md has no experience or achievement bullets (skills, education and contact lines are kept)",
        "hint: name a section to rewrite it anyway, e.g. --only Skills; its sections: Jane, Skills",
    ]

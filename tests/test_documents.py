"""The pure documents package: every CV fixture round-trips, rewrites keep every other byte, the answer reader
and the assembler handle a broken `[n]` answer without losing anything."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cvstream.documents import checker, fixer, kind_of, load_text
from cvstream.documents.answer import AnswerReader, Assembler
from cvstream.documents.model import Bullet, Document
from cvstream.documents.prompt import document_message
from cvstream.documents.scope import select

CVS = Path(__file__).resolve().parent / "fixtures" / "cvs"
FIXTURES = sorted(CVS.iterdir())
ROOT = Path(__file__).resolve().parents[1]


def _read(path: Path) -> str:
    return path.read_bytes().decode().removeprefix("\ufeff")


def _load(path: Path) -> Document:
    text = _read(path)
    return load_text(kind_of(path.name, text), text)


def _kept(document: Document) -> list[str]:
    return [p for p in document.parts if isinstance(p, str)]


def test_there_are_five_cvs_per_text_format() -> None:
    for kind in ("markdown", "text", "latex"):
        assert sum(kind_of(p.name, _read(p)) == kind for p in FIXTURES) >= 5, kind


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_a_cv_read_and_written_back_unchanged_is_byte_for_byte_the_same(path: Path) -> None:
    document = _load(path)
    assert document.bullets, "every fixture has bullets"
    assert document.original() == _read(path)
    assert document.with_rewrites({}) == _read(path)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_rewriting_every_bullet_keeps_every_other_byte_and_the_structure(path: Path) -> None:
    document = _load(path)
    fix = fixer(document.kind)
    rewrites = {b.number: fix(f"[offline] Rewrote {b.number} so it reads better, {b.text}") for b in document.bullets}
    output = document.with_rewrites(rewrites)
    again = load_text(document.kind, output)
    assert _kept(again) == _kept(document)  # every non-bullet byte survives, in place
    assert [b.text for b in again.bullets] == [" ".join(rewrites[b.number].split()) for b in document.bullets]


def test_markdown_bullets_contexts_and_markup() -> None:
    document = _load(CVS / "md-1-classic.md")
    assert [b.text for b in document.bullets] == [
        "built the **billing service** in Python and Postgres",
        "led a team of 4 engineers through the migration to [Kubernetes](https://kubernetes.io)",
        "cut monthly cloud costs by 30% by rightsizing instances",
        "wrote the on-call runbook used by 3 teams",
        "mentored two junior developers",
    ]
    assert document.bullets[0].context == "Jane Doe › Experience › Acme Corp — Backend Engineer (2021–2024)"
    assert document.bullets[3].context == "Jane Doe › Experience › Globex — Software Developer (2017–2021)"


def test_front_matter_code_and_tables_hold_no_bullets() -> None:
    texts = [b.text for b in _load(CVS / "md-2-frontmatter-nested.md").bullets]
    assert "cv" not in texts and "data" not in texts  # the YAML list in the front matter
    assert texts[1] == "replaced nightly batch jobs with `Kafka` streams"  # nested
    assert texts[-1] == "**Schemas at the edge**, Berlin Buzzwords 2023"  # `+` items
    texts = [b.text for b in _load(CVS / "md-3-wrapped-table.md").bullets]
    assert len(texts) == 3 and not any("code" in t or "MVP" in t for t in texts)


def test_a_wrapped_item_is_rewrapped_at_its_width_with_its_indent() -> None:
    document = _load(CVS / "md-3-wrapped-table.md")
    first = document.bullets[0]
    assert first.width == 66  # its longest line
    text = "Rebuilt the checkout in React and TypeScript, raising conversion by 4% and halving the bundle " * 2
    rendered = first.render(text)
    lines = rendered.split("\n")
    assert len(lines) > 2
    assert all(line.startswith("  ") for line in lines[1:])
    assert len(lines[0]) + first.column <= first.width
    assert all(len(line) <= first.width for line in lines[1:])
    assert " ".join(rendered.split()) == " ".join(text.split())


def test_rewrapping_never_starts_a_line_with_a_block_marker() -> None:
    bullet = Bullet(1, "x", "x", (), None, column=2, continuation="  ", width=12)
    rendered = bullet.render("aaaa bbbb - cccc # dddd 1. eeee > ffff")
    for line in rendered.split("\n")[1:]:
        assert not line.strip().startswith(("- ", "# ", "1. ", ">"))


def test_crlf_documents_keep_crlf_in_rewrapped_bullets() -> None:
    document = _load(CVS / "md-4-crlf.md")
    wrapped = document.bullets[1]
    assert wrapped.newline == "\r\n" and wrapped.width
    output = document.with_rewrites({2: "Kept the tracking API at 99.95% uptime across three data centres " * 2})
    assert "\n" not in output.replace("\r\n", "")


def test_plain_text_rules_labels_header_and_role_lines() -> None:
    document = _load(CVS / "txt-1-caps.txt")
    texts = [b.text for b in document.bullets]
    assert "JANE DOE" not in texts and not any("jane@example.com" in t for t in texts)  # the opening block
    assert "EXPERIENCE" not in texts and "Acme Corp - Backend Engineer (2021-2024)" not in texts
    assert document.bullets[0].context == "EXPERIENCE › Acme Corp - Backend Engineer (2021-2024)"
    underlined = _load(CVS / "txt-3-underlines.txt")
    assert [b.sections for b in underlined.bullets] == [("Experience",)] * 3 + [("Volunteering",)]
    plus = _load(CVS / "txt-5-bom-plus.txt")
    assert plus.bullets[0].text == "ran 60 user interviews for the new listing flow"


def test_a_plain_bullets_file_is_not_a_document() -> None:
    text = (ROOT / "examples" / "bullets.txt").read_text()
    assert kind_of("bullets.txt", text) == "bullets"
    assert kind_of("-", "built x\nled y\n") == "bullets"
    assert kind_of("cv.txt", "# Jane\n\n- built x\n") == "markdown"
    assert kind_of("cv.txt", "EXPERIENCE\n- built x\n") == "text"
    assert kind_of("CV.MD", "- built x\n") == "markdown"
    assert kind_of("cv.tex", "") == "latex"


def test_latex_items_labels_nesting_and_comments() -> None:
    document = _load(CVS / "tex-1-article.tex")
    assert [b.text for b in document.bullets][1] == (
        "led a team of 4 engineers through the migration to \\href{https://kubernetes.io}{Kubernetes}"
    )
    assert not any("old bullet" in b.text for b in document.bullets)  # commented out
    nested = _load(CVS / "tex-2-labels-nested.tex")
    assert nested.bullets[0].text == "designed the event pipeline that moves 2 billion rows a day"
    assert nested.bullets[2].text == "added schema checks at the edge"  # the comment stays outside
    assert nested.bullets[0].sections == ("Work", "DataWorks GmbH, Senior Data Engineer (2020--now)")
    inline = _load(CVS / "tex-5-inline.tex")
    assert len(inline.bullets) == 3  # two items on one line; \description is not a list of bullets


def test_latex_check_refuses_unbalanced_braces_and_comments() -> None:
    check = checker("latex")
    assert check("Built the \\textbf{billing} service, cutting costs by 30\\%") is None
    assert check("Built the \\textbf{billing service") == "unbalanced braces"
    assert check("Built} the {billing") == "unbalanced braces"
    assert check("Built it 30% faster") is not None
    assert check("Built it \\item twice") is not None
    assert checker("markdown")("anything") is None


def test_only_limits_the_rewrite_to_matching_sections() -> None:
    document = _load(CVS / "md-4-crlf.md")
    limited, numbers = select(document, ["languages"])
    assert [b.text for b in limited.bullets] == ["German (native)", "English (fluent)"]
    assert [b.number for b in limited.bullets] == [1, 2] and numbers == [4, 5]
    assert limited.original() == document.original()


def test_the_request_numbers_bullets_under_their_context() -> None:
    document = _load(CVS / "md-1-classic.md")
    message = document_message(document, "Senior backend role")
    assert message.splitlines()[:4] == [
        "Format: Markdown",
        "<bullets>",
        "# Jane Doe › Experience › Acme Corp — Backend Engineer (2021–2024)",
        "[1] built the **billing service** in Python and Postgres",
    ]
    assert "\n\n# Jane Doe › Experience › Globex — Software Developer (2017–2021)\n[4] " in message
    assert message.endswith("</bullets>\n\n<job_description>\nSenior backend role\n</job_description>")


# -- the answer ---------------------------------------------------------------------------------------------
def _feed(reader: AnswerReader, chunks: list[str], complete: bool = True) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for chunk in chunks:
        out.extend(reader.feed(chunk))
    return out + reader.close(complete)


def test_answer_lines_complete_across_deltas() -> None:
    reader = AnswerReader()
    assert reader.feed("[1] Built the") == []
    assert reader.feed(" API\r\n[2] Led") == [(1, "Built the API")]
    assert reader.close(True) == [(2, "Led")]


def test_prose_markers_and_merged_lines() -> None:
    reader = AnswerReader()
    got = _feed(reader, ["Here are your bullets:\n\n", "- [1] One\n", "[2] Two [3] Three\n", "Hope this helps!"])
    assert got == [(1, "One"), (2, "Two"), (3, "Three")]
    assert reader.stray_lines == 2


def test_numbers_in_bold_or_as_list_items_are_read_too() -> None:
    got = _feed(AnswerReader(), ["**[1]** One\n", "2. Two\n", "3) Three\n", "4.5 is not a line\n"])
    assert got == [(1, "One"), (2, "Two"), (3, "Three")]


def test_a_line_cut_mid_stream_is_not_used() -> None:
    assert _feed(AnswerReader(), ["[1] One\n[2] Tw"], complete=False) == [(1, "One")]


def test_the_assembler_emits_in_order_and_keeps_what_never_came() -> None:
    document = load_text("markdown", "# CV\n\n- one\n- two\n- three\n\nThe end.\n")
    assembler = Assembler(document)
    assert assembler.start()[0] == "# CV\n\n- "
    text, done = assembler.accept(1, "One!")
    assert (text, [d.after for d in done]) == ("One!\n- ", ["One!"])
    text, done = assembler.accept(3, "Three!")  # [2] skipped: kept as it was
    assert text == "two\n- Three!\n\nThe end.\n"
    assert [(d.bullet.number, d.after) for d in done] == [(2, None), (3, "Three!")]
    assert assembler.accept(2, "late") == ("", [])
    assert assembler.accept(3, "duplicate") == ("", [])
    assert assembler.accept(9, "out of range") == ("", [])
    assert assembler.finish() == ("", [])
    assert assembler.ignored == 3
    assert assembler.kept_line() == "1 of 3 bullets kept as they were (no rewrite came back): 2"


def test_an_unusable_rewrite_keeps_the_original() -> None:
    document = load_text("latex", "\\begin{itemize}\n\\item a {b}\n\\item c\n\\end{itemize}\n")
    assembler = Assembler(document, checker("latex"))
    assembler.start()
    assert assembler.accept(1, "A {b")[0] == "a {b}\n\\item "
    assert assembler.accept(2, "")[0] == "c\n\\end{itemize}\n"
    assert assembler.finish()[0] == ""
    assert assembler.kept_line() == "2 of 2 bullets kept as they were (empty; unbalanced braces): 1, 2"


def test_word_documents_rewrite_list_paragraphs_and_keep_the_first_runs_format() -> None:
    import docx

    from cvstream.documents import docx as word

    source = docx.Document()
    source.add_heading("Experience", 1)
    source.add_paragraph("Acme Corp — Backend Engineer")
    item = source.add_paragraph("", style="List Bullet")
    run = item.add_run("built ")
    run.bold = True
    item.add_run("the billing service")
    source.add_paragraph("led a team of 4", style="List Bullet")
    source.add_paragraph("References on request.")
    data = io.BytesIO()
    source.save(data)
    document, handle = word.parse(data.getvalue())
    assert [b.text for b in document.bullets] == ["built the billing service", "led a team of 4"]
    assert document.bullets[0].context == "Experience › Acme Corp — Backend Engineer"
    assert document.original().startswith("## Experience\n\nAcme Corp — Backend Engineer\n\n- built the billing")
    out = docx.Document(io.BytesIO(word.write(handle, {1: "Built the billing service"})))
    paragraphs = [p.text for p in out.paragraphs]
    assert paragraphs == [
        "Experience",
        "Acme Corp — Backend Engineer",
        "Built the billing service",
        "led a team of 4",
        "References on request.",
    ]
    assert out.paragraphs[2].runs[0].bold is True

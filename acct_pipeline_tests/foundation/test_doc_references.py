"""Every page of ``docs/`` the code cites exists, with the section it names; nothing cites a file
outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "acct_pipeline"
DOCS = REPO / "docs"
# ``docs/page.md`` (not the tail of a URL), optionally followed by ``, "Section"``
CITATION = re.compile(r'(?<![\w/.-])docs/([\w./-]+\.md)(?:,\s*"([^"]+)")?')
OUTSIDE = re.compile(r"\b(REFERENCE|DESIGN)\.md\b")


def _source_texts() -> dict[Path, str]:
    return {p: p.read_text() for p in sorted(PACKAGE.rglob("*")) if p.suffix in (".py", ".yaml")}


def _flat(text: str) -> str:
    """The text with line breaks and comment markers folded into spaces, so a citation that
    wraps onto the next comment or docstring line reads as one."""
    return re.sub(r"\s*\n\s*(?:#\s*)?", " ", text)


def _headings(page: Path) -> set[str]:
    return {
        line.lstrip("#").strip() for line in page.read_text().splitlines() if line.startswith("#")
    }


def citations(text: str) -> list[tuple[str, str | None]]:
    return [(m.group(1), m.group(2)) for m in CITATION.finditer(_flat(text))]


def test_citation_pattern_reads_wrapped_comments_and_skips_urls() -> None:
    text = (
        '# the rule (docs/traps.md,\n# "DuckDB partition column type"), see\n'
        "# https://developers.hubspot.com/docs/api/crm/x.md and docs/landing-format.md\n"
    )
    assert citations(text) == [
        ("traps.md", "DuckDB partition column type"),
        ("landing-format.md", None),
    ]


def test_every_cited_doc_and_section_exists() -> None:
    problems = []
    cited = 0
    for path, text in _source_texts().items():
        for page, section in citations(text):
            cited += 1
            where = path.relative_to(REPO)
            target = DOCS / page
            if not target.is_file():
                problems.append(f"{where}: cites docs/{page}, which does not exist")
            elif section is not None and section not in _headings(target):
                problems.append(f'{where}: cites docs/{page}, "{section}": no such section')
    assert cited >= 8, "the scan found too few citations: is the pattern still right?"
    assert not problems, "\n".join(problems)


def test_no_module_cites_a_file_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(REPO)}: {m.group(0)}"
        for path, text in _source_texts().items()
        for m in OUTSIDE.finditer(text)
    ]
    assert not offenders, "cite a page of docs/ instead:\n" + "\n".join(offenders)


def test_links_between_docs_pages_resolve() -> None:
    """Relative links inside docs/ point at pages (and headings) that exist."""
    problems = []
    for page in sorted(DOCS.glob("*.md")):
        for target, anchor in re.findall(r"\]\(([\w./-]+\.md)(?:#([\w-]+))?\)", page.read_text()):
            linked = (page.parent / target).resolve()
            if not linked.is_file():
                problems.append(f"{page.name}: link to missing {target}")
                continue
            slugs = {
                re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in _headings(linked)
            }
            if anchor and anchor not in slugs:
                problems.append(f"{page.name}: link to missing section {target}#{anchor}")
    assert not problems, "\n".join(problems)

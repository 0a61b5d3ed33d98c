"""The landing-format page documents exactly the contract in warehouse.py."""

from pathlib import Path

from acct_pipeline.quality import settings
from acct_pipeline.quality.rules import NULLED_SUFFIX, RULE_FAMILIES
from acct_pipeline.warehouse import RAW_TABLES

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "landing-format.md"
LANDING_SETTINGS = (
    settings.SNAPSHOT_MIN_SHARE_ENV,
    settings.ACCEPT_SHRINK_ENV,
    settings.TIMESTAMP_FLOOR_ENV,
    settings.TIMESTAMP_CEILING_ENV,
)


def test_landing_format_documents_every_file_and_column() -> None:
    text = DOC.read_text()
    for spec in RAW_TABLES:
        assert f"`{spec.landing_path}`" in text, spec.name
        section = text.split(f"`{spec.landing_path}`", 1)[1].split("\n## ", 1)[0]
        for col in spec.columns:
            row = next(
                (line for line in section.splitlines() if line.startswith(f"| `{col.name}` |")),
                None,
            )
            assert row is not None, f"{spec.name}.{col.name} is not documented"
            assert f"| {col.type} |" in row
            assert ("| yes |" in row) == col.required, (
                f"{spec.name}.{col.name}: required flag differs"
            )


def test_landing_format_documents_every_rule_and_setting() -> None:
    """Every rule family of quality/rules.py and every landing setting is on the contract page;
    the settings are in README's configuration table and in .env.example too."""
    text = " ".join(DOC.read_text().split())  # a rule name may wrap in the Markdown
    for rule in RULE_FAMILIES:
        assert f"`{rule}" in text, f"rule {rule} is not documented in {DOC.name}"
    assert f"`malformed_integer:employees{NULLED_SUFFIX}`" in text
    readme = (REPO / "README.md").read_text()
    example = (REPO / ".env.example").read_text()
    for name in LANDING_SETTINGS:
        assert f"`{name}" in text, name
        row = next((r for r in readme.splitlines() if r.startswith("| `") and name in r), None)
        assert row is not None, f"{name} is not in README's configuration table"
        assert name in example, f"{name} is not in .env.example"


def test_the_readme_counts_the_asset_checks_the_definitions_have() -> None:
    import re

    from acct_pipeline.definitions import defs

    stated = re.search(r"\((\d+) asset checks in all", (REPO / "README.md").read_text())
    assert stated, "README no longer states the number of asset checks"
    loaded = defs()
    actual = sum(len(list(c.check_keys)) for c in (loaded.asset_checks or []))
    assert int(stated.group(1)) == actual

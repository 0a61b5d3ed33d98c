"""The landing-format page documents exactly the contract in warehouse.py."""

from pathlib import Path

from acct_pipeline.warehouse import RAW_TABLES

DOC = Path(__file__).resolve().parents[2] / "docs" / "landing-format.md"


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

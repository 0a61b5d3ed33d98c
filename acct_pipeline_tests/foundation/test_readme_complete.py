"""The README names every command of the CLI and every environment variable the code reads."""

from __future__ import annotations

import re
from pathlib import Path

from acct_pipeline.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def cli_commands() -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return set(sub.choices)


def env_vars_in_code() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "acct_pipeline").rglob("*.py"):
        found |= set(re.findall(r"[\"'](ACCT_[A-Z0-9_]+)[\"']", path.read_text()))
    return found


def test_readme_names_every_command_and_variable() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = cli_commands()
    assert {"demo", "accounts", "explain", "summary", "train-churn"} <= commands
    missing_commands = sorted(c for c in commands if f"acct-pipeline {c}" not in readme)
    variables = env_vars_in_code()
    assert "ACCT_WAREHOUSE" in variables and len(variables) > 10
    missing_vars = sorted(v for v in variables if v not in readme)
    assert not missing_commands + missing_vars, f"README lacks: {missing_commands + missing_vars}"

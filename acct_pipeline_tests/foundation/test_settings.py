"""Configuration is defined once (``acct_pipeline/settings.py``): one grammar per value, errors
that name the variable, values read when needed, and the README's tables generated from it."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from acct_pipeline import settings
from acct_pipeline.connectors.base import SourceError
from acct_pipeline.connectors.http import RateLimiter, paginate, rate_windows
from acct_pipeline.services import hubspot
from acct_pipeline.settings import CoreSettings, SettingsError, parse_rate_limit
from acct_pipeline.sync.settings import SyncConfigError, SyncSettings

ROOT = Path(__file__).resolve().parents[2]
BEGIN = "<!-- settings:begin (generated: python -m acct_pipeline.settings --markdown) -->"
END = "<!-- settings:end -->"
# Moved into packages by another change; the lead points them at acct_pipeline.settings.
NOT_YET_WIRED: set[str] = set()


@pytest.mark.parametrize(
    ("text", "windows"),
    [
        ("100/10", ((100, 10.0),)),  # the ingest spelling ...
        ("100/10,250000/86400", ((100, 10.0), (250000, 86400.0))),  # ... with several windows
        ("190/10s", ((190, 10.0),)),  # the sync spelling, with the `s` suffix
        ("25", ((25, 1.0),)),
        (" 3/1s, 60/3600 ", ((3, 1.0), (60, 3600.0))),
        ("none", None),
        ("off", None),
    ],
)
def test_one_rate_limit_grammar(text: str, windows: tuple[tuple[int, float], ...] | None) -> None:
    assert parse_rate_limit(text, "HUBSPOT_RATE_LIMIT") == windows


@pytest.mark.parametrize("text", ["100 per 10", "100/0", "0/10", "100/ten", "100/10,x"])
def test_rate_limit_errors_name_the_variable(text: str) -> None:
    with pytest.raises(SettingsError, match="HUBSPOT_RATE_LIMIT"):
        parse_rate_limit(text, "HUBSPOT_RATE_LIMIT")


def test_ingest_and_sync_accept_both_old_spellings() -> None:
    several = {"HUBSPOT_RATE_LIMIT": "100/10,250000/86400", "ACCT_SYNC_TARGET": "hubspot"}
    suffixed = {"HUBSPOT_RATE_LIMIT": "190/10s", "ACCT_SYNC_TARGET": "hubspot"}
    # The sync used to raise on several windows; the ingest on the `s` suffix and on `none`.
    assert SyncSettings.from_env(several).rate_limit == ((100, 10.0), (250000, 86400.0))
    assert SyncSettings.from_env(suffixed).rate_limit == ((190, 10.0),)
    assert rate_windows(several, "HUBSPOT_RATE_LIMIT", "100/10") == [(100, 10.0), (250000, 86400.0)]
    assert rate_windows(suffixed, "HUBSPOT_RATE_LIMIT", "100/10") == [(190, 10.0)]
    assert rate_windows({"HUBSPOT_RATE_LIMIT": "none"}, "HUBSPOT_RATE_LIMIT", "100/10") is None
    assert rate_windows({}, "HUBSPOT_RATE_LIMIT", "3/1,60/3600") == [(3, 1.0), (60, 3600.0)]
    with pytest.raises(SourceError, match="HUBSPOT_RATE_LIMIT"):
        rate_windows({"HUBSPOT_RATE_LIMIT": "fast"}, "HUBSPOT_RATE_LIMIT", "100/10")
    with pytest.raises(SyncConfigError, match="HUBSPOT_RATE_LIMIT"):
        SyncSettings.from_env({**suffixed, "HUBSPOT_RATE_LIMIT": "fast"})
    # Several windows pace the client: the second window holds the fourth request.
    clock = [0.0]
    waits: list[float] = []

    def sleep(s: float) -> None:
        waits.append(s)
        clock[0] += s

    limiter = RateLimiter([(10, 1.0), (3, 60.0)], sleep=sleep, clock=lambda: clock[0])
    for _ in range(4):
        limiter.acquire()
    assert waits == [pytest.approx(60.0)]


def test_values_are_read_when_needed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ACCT_WAREHOUSE", str(tmp_path / "a.duckdb"))
    assert settings.get(CoreSettings, "warehouse") == tmp_path / "a.duckdb"
    monkeypatch.setenv("ACCT_WAREHOUSE", str(tmp_path / "b.duckdb"))
    assert settings.get(CoreSettings, "warehouse") == tmp_path / "b.duckdb"
    monkeypatch.setenv("ACCT_WAREHOUSE", "")  # empty counts as unset
    assert settings.get(CoreSettings, "warehouse") == Path("data/warehouse.duckdb")
    env = {"ACCT_PARTITIONS_END": "2026-06-30", "ACCT_WAREHOUSE": "x.duckdb"}
    core = settings.load_core(env)
    assert core.partitions_end == date(2026, 6, 30) and core.warehouse == Path("x.duckdb")


def test_typed_errors_name_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"ACCT_PARTITIONS_END='June'"):
        settings.get(CoreSettings, "partitions_end", {"ACCT_PARTITIONS_END": "June"})
    with pytest.raises(SettingsError, match="ACCT_WRITER_WAIT_SECONDS"):
        settings.load_core({"ACCT_WRITER_WAIT_SECONDS": "-3"})
    # A bad value elsewhere does not break an unrelated read.
    assert settings.get(CoreSettings, "warehouse", {"ACCT_PARTITIONS_END": "June"}) == Path(
        "data/warehouse.duckdb"
    )
    problems = settings.check_all({"ACCT_PARTITIONS_END": "June", "AMPLITUDE_LATE_HOURS": "x"})
    assert len(problems) == 2 and "AMPLITUDE_LATE_HOURS" in problems[1]


def test_hubspot_objects_path_is_a_deprecated_alias_of_base_path() -> None:
    with pytest.warns(DeprecationWarning, match="HUBSPOT_BASE_PATH"):
        assert hubspot.base_path({"HUBSPOT_OBJECTS_PATH": "/crm/objects/2026-03/"}) == (
            "/crm/objects/2026-03"
        )
    both = {"HUBSPOT_OBJECTS_PATH": "/crm/v3/objects", "HUBSPOT_BASE_PATH": "/crm/objects/2026-03"}
    assert hubspot.base_path(both) == "/crm/objects/2026-03"
    assert hubspot.base_path({}) == "/crm/v3/objects"
    with pytest.warns(DeprecationWarning):
        sync = SyncSettings.from_env({"HUBSPOT_OBJECTS_PATH": "/crm/objects/2026-03"})
    assert sync.hubspot_objects_path == "/crm/objects/2026-03/companies"
    with pytest.raises(SourceError, match="HUBSPOT_BASE_PATH"):
        hubspot.base_path({"HUBSPOT_BASE_PATH": "/v3/objects"})


def test_secrets_stay_out_of_reprs() -> None:
    core = settings.load(settings.HubSpotSettings, {"HUBSPOT_ACCESS_TOKEN": "pat-na1-abcdef"})
    assert core.access_token == "pat-na1-abcdef" and "abcdef" not in repr(core)


def test_paginate_follows_the_cursor_lazily() -> None:
    pages = {None: ([1, 2], "b"), "b": ([3], "c"), "c": ([], None)}
    asked: list[str | None] = []

    def fetch(cursor: str | None) -> tuple[list[int], str | None]:
        asked.append(cursor)
        return pages[cursor]

    rows = paginate(fetch)
    assert asked == []  # nothing fetched before the first row is wanted
    assert next(rows) == 1 and asked == [None]
    assert list(rows) == [2, 3] and asked == [None, "b", "c"]
    assert list(paginate(lambda c: ([c], None), start="x")) == ["x"]


def test_readme_tables_are_generated_from_the_settings() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split(BEGIN, 1)[1].split(END, 1)[0]
    assert block.strip() == settings.markdown().strip(), (
        "README configuration tables are stale: paste `python -m acct_pipeline.settings "
        "--markdown` between the settings markers"
    )
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)`", block, flags=re.M))
    assert documented == settings.variable_names() - set(settings.DEPRECATED_ALIASES)


def test_environment_is_read_only_in_the_settings_module() -> None:
    package = ROOT / "acct_pipeline"
    offenders = sorted(
        p.relative_to(package).as_posix()
        for p in package.rglob("*.py")
        if re.search(r"os\.environ|os\.getenv", p.read_text())
    )
    assert set(offenders) - NOT_YET_WIRED == {"settings.py"}


def test_every_variable_in_the_code_is_a_setting() -> None:
    found: set[str] = set()
    pattern = (
        r"[\"']((?:ACCT|HUBSPOT|SALESFORCE|STRIPE|MIXPANEL|AMPLITUDE|SEGMENT)_[A-Z0-9_]+)[\"']"
    )
    texts = [path.read_text() for path in (ROOT / "acct_pipeline").rglob("*.py")]
    for text in texts:
        found |= set(re.findall(pattern, text))
    found -= {"HUBSPOT_DEFINED"}  # an association category, not a variable
    # names of Python constants listed in an ``__all__`` are not environment variables
    found = {
        name
        for name in found
        if not any(re.search(rf"^{name}\b[^=\n]*=", text, re.M) for text in texts)
    }
    assert found <= settings.variable_names(), sorted(found - settings.variable_names())


def test_the_warehouse_resource_shows_the_configured_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from acct_pipeline.definitions import defs

    monkeypatch.setenv("ACCT_WAREHOUSE", str(tmp_path / "shown.duckdb"))
    assert defs().resources["warehouse"].path == str(tmp_path / "shown.duckdb")
    monkeypatch.delenv("ACCT_WAREHOUSE")
    assert defs().resources["warehouse"].path == "data/warehouse.duckdb"  # not "" (issue 22)


def test_sync_settings_take_one_window_or_several() -> None:
    assert SyncSettings(target="hubspot", rate_limit=(190, 10.0)).rate_limit == ((190, 10.0),)  # type: ignore[arg-type]
    two = ((100, 10.0), (250000, 86400.0))
    assert SyncSettings(target="hubspot", rate_limit=two).rate_limit == two
    assert SyncSettings(target="hubspot", rate_limit=None).rate_limit is None

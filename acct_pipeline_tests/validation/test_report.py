"""The HTML score report: self-contained, every chart a real PNG, renders in headless Chromium."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from acct_pipeline.scoring.report import REPORTS_DIR_ENV, build_report, reports_dir

CHROMIUM = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EXPECTED_CHARTS = {
    "tier_distribution_over_time",
    "churn_by_tier",
    "lift_chart",
    "calibration",
    "stability",
    "tier_migration",
    "model_version_timeline",
    "churn_autopsy",
}


def images(html: str) -> list[tuple[str, bytes]]:
    """(chart key, decoded PNG bytes) for every <img> in the document."""
    out = []
    for tag in re.findall(r"<img\b[^>]*>", html):
        key = re.search(r"data-chart='([^']*)'", tag)
        src = re.search(r"src='data:image/png;base64,([^']*)'", tag)
        assert src, f"image without embedded PNG data: {tag[:120]}"
        out.append((key.group(1) if key else "?", base64.b64decode(src.group(1))))
    return out


def assert_report_complete(path: Path) -> None:
    html = path.read_text()
    imgs = images(html)
    assert {k for k, _ in imgs} == EXPECTED_CHARTS
    for key, data in imgs:
        assert data.startswith(PNG_MAGIC) and len(data) > 2000, key
    # self-contained: nothing fetched from anywhere
    assert not re.search(r"(src|href)=['\"](https?:|//)", html)


@pytest.fixture(scope="module")
def report(synthetic_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    with duckdb.connect(str(synthetic_warehouse), read_only=True) as con:
        result = build_report(con, out)
    assert result.path.name == "score_report_2026-07-30.html"
    assert set(result.charts) == EXPECTED_CHARTS
    assert "ROC-AUC" in result.markdown
    return result.path


def test_every_chart_is_an_embedded_png(report: Path) -> None:
    assert_report_complete(report)
    html = report.read_text()
    for section in (
        "Top 20 at-risk accounts",
        "Model version timeline",
        "Churn autopsy",
        "Coverage by segment",
        "Tier migration",
    ):
        assert section in html


def test_reports_dir_follows_env_or_sits_beside_the_warehouse(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(REPORTS_DIR_ENV, raising=False)
    monkeypatch.setenv("ACCT_WAREHOUSE", str(tmp_path / "wh" / "warehouse.duckdb"))
    assert reports_dir() == tmp_path / "wh" / "reports"
    assert reports_dir(tmp_path / "other" / "w.duckdb") == tmp_path / "other" / "reports"
    monkeypatch.setenv(REPORTS_DIR_ENV, str(tmp_path / "elsewhere"))
    assert reports_dir() == tmp_path / "elsewhere"


def screenshot(html_path: Path, tmp_path: Path) -> Path:
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--hide-scrollbars",
            "--window-size=1200,5000",
            f"--screenshot={shot}",
            html_path.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return shot


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    shot = screenshot(report, tmp_path)
    data = shot.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 50_000  # a blank 1200x5000 page compresses to a few KB


EXECUTIVE_SECTIONS = ("exec-tiers", "exec-moved", "exec-accounts", "exec-quality")


def test_the_report_opens_with_the_executive_page(report: Path) -> None:
    html = report.read_text()
    first = html.index('<section id="executive">')
    assert first < html.index('id="model-quality"') < html.index("data-chart=")
    page = html[first : html.index("</section>")]
    for section in EXECUTIVE_SECTIONS:
        assert f'id="{section}"' in page
    # tiers in their order, numbers for people: percentages, money, no raw floats or dicts
    tiers = re.findall(r'class="tier tier-[a-z-]+">([^<]+)<', page)
    order = ["Healthy", "At-Risk", "Concerning", "Critical"]
    assert tiers == [t for t in order if t in tiers] and tiers
    assert "ARR" in page and "$" in page and "%" in page
    assert not re.search(r"\d\.\d{3,}", page.split('id="exec-quality"')[0])
    assert "{'" not in page
    for measure in ("ROC-AUC", "Brier", "PSI", "Lift"):
        assert measure in page


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
def test_the_executive_page_renders_in_chromium(report: Path, tmp_path: Path) -> None:
    """A screenshot of the first screenful, and the DOM chromium built from the page."""
    shot = tmp_path / "executive.png"
    base = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ]
    subprocess.run(
        base + ["--window-size=1200,1400", f"--screenshot={shot}", report.resolve().as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert shot.read_bytes().startswith(PNG_MAGIC) and shot.stat().st_size > 30_000
    dom = subprocess.run(
        base + ["--dump-dom", report.resolve().as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    for section in EXECUTIVE_SECTIONS:
        assert f'id="{section}"' in dom
    assert "Accounts to call first" in dom and "What moved this week" in dom

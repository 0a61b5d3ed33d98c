"""Headless check of the Dagster UI: the asset graph and catalog list the project's assets.

    python scripts/ui_smoke.py            # start dagster-webserver on loopback, check, stop
    python scripts/ui_smoke.py --url http://127.0.0.1:3000   # check a running `make dev`
    python scripts/ui_smoke.py --out data/ui --warehouse data/warehouse.duckdb

Loads the global asset lineage, one group's lineage and the asset catalog in headless Chromium,
saves screenshots, and fails (exit 1) unless every asset of the code location and every group
appears. Needs ``chromium`` (Debian: ``apt-get install -y chromium``); exit 2 when it is absent.
Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
LOCATION = "acct_pipeline"


def find_chromium() -> str | None:
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback only
        return resp.read()


def wait_for_server(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"dagster-webserver exited with {proc.returncode} before serving")
        try:
            _get(f"{url}/server_info")
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"no Dagster UI at {url} after {timeout:.0f}s")


@contextmanager
def webserver(warehouse: str | None, dagster_home: str | None, timeout: float) -> Iterator[str]:
    """``dagster-webserver`` for this repo's workspace on a free loopback port; yields its URL."""
    port = _free_port()
    home = Path(dagster_home or tempfile.mkdtemp(prefix="acct_ui_home_"))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        from acct_pipeline.run import DAGSTER_YAML

        (home / "dagster.yaml").write_text(DAGSTER_YAML)
    # Mark the UI's one-time "join the community" dialog as seen (dagster/_core/nux.py), so it
    # does not cover the screenshots.
    (home / ".nux").mkdir(exist_ok=True)
    (home / ".nux" / "nux.yaml").write_text("seen: 1\n")
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    if warehouse:
        env["ACCT_WAREHOUSE"] = str(warehouse)
    exe = Path(sys.executable).parent / "dagster-webserver"
    log = tempfile.NamedTemporaryFile(prefix="acct_ui_webserver_", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        [str(exe), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for_server(url, timeout, proc)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{exc}; log: {Path(log.name).read_text()[-2000:]}") from None
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def chromium(binary: str, args: Sequence[str], url: str, timeout: float = 180.0) -> str:
    """Run headless Chromium once on ``url`` with a throw-away profile; return stdout."""
    with tempfile.TemporaryDirectory(prefix="acct_ui_chromium_") as profile:
        proc = subprocess.run(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, url],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"chromium failed ({proc.returncode}): {proc.stderr[-1000:]}")
    return proc.stdout


def visible_text(dom: str) -> str:
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    return " ".join(re.sub(r"<[^>]+>", " ", dom).split())


def project_assets() -> tuple[list[str], list[str]]:
    """(asset names, group names) of the code location, from its definitions."""
    from acct_pipeline.definitions import defs

    graph = defs().resolve_asset_graph()
    keys = sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string())
    names = [k.path[-1] for k in keys]
    groups = sorted({graph.get(k).group_name for k in keys if graph.get(k).group_name})
    return names, groups


@dataclass
class SmokeResult:
    url: str
    assets: list[str]
    groups: list[str]
    missing_assets: list[str] = field(default_factory=list)
    missing_groups: list[str] = field(default_factory=list)
    screenshots: list[str] = field(default_factory=list)
    pages: dict[str, int] = field(default_factory=dict)  # page -> characters of visible text

    @property
    def ok(self) -> bool:
        return not self.missing_assets and not self.missing_groups and bool(self.screenshots)


def check_ui(url: str, out: Path, binary: str, timeout: float = 180.0) -> SmokeResult:
    """Load the pages until they list everything (the code location may still be loading)."""
    names, groups = project_assets()
    result = SmokeResult(url=url, assets=names, groups=groups)
    out.mkdir(parents=True, exist_ok=True)
    budget = ["--virtual-time-budget=20000"]
    pages = {
        "catalog": (f"{url}/assets", ["--window-size=1600,4000"], names),
        "asset-graph": (f"{url}/asset-groups", ["--window-size=1600,1000"], groups),
    }
    deadline = time.monotonic() + timeout
    missing: dict[str, list[str]] = {}
    for page, (page_url, size, wanted) in pages.items():
        while True:
            text = visible_text(chromium(binary, [*size, *budget, "--dump-dom"], page_url))
            words = set(re.findall(r"[\w-]+", text))
            missing[page] = [w for w in wanted if w not in words]
            result.pages[page] = len(text)
            if not missing[page] or time.monotonic() > deadline:
                break
            time.sleep(2)
    result.missing_assets, result.missing_groups = missing["catalog"], missing["asset-graph"]
    shots = {
        "asset-graph.png": (f"{url}/asset-groups", "1600,1000"),
        "scores-lineage.png": (
            f"{url}/locations/{LOCATION}/asset-groups/scores/lineage",
            "1600,1000",
        ),
    }
    for filename, (page_url, size) in shots.items():
        target = out / filename
        chromium(binary, [f"--window-size={size}", *budget, f"--screenshot={target}"], page_url)
        if target.exists() and target.stat().st_size > 0:
            result.screenshots.append(str(target))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running Dagster UI (default: start dagster-webserver)")
    parser.add_argument("--warehouse", help="ACCT_WAREHOUSE for the started webserver")
    parser.add_argument(
        "--dagster-home", help="DAGSTER_HOME for the started webserver (default: temporary)"
    )
    parser.add_argument("--out", default="data/ui", help="where screenshots go (default data/ui)")
    parser.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args(argv)
    binary = find_chromium()
    if binary is None:
        print("chromium not found: apt-get update && apt-get install -y chromium", file=sys.stderr)
        return 2
    out = Path(args.out)
    if args.url:
        wait_for_server(args.url.rstrip("/"), args.timeout)
        result = check_ui(args.url.rstrip("/"), out, binary, args.timeout)
    else:
        with webserver(args.warehouse, args.dagster_home, args.timeout) as url:
            result = check_ui(url, out, binary, args.timeout)
    print(json.dumps({**asdict(result), "ok": result.ok}, indent=2))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())

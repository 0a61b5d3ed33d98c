"""Shared helpers for the benchmarks in ``bench/`` (issue #9): scales, paths, machine info,
measuring a step in its own process (wall time + peak RSS) and writing result JSON.

Every benchmark script imports this module by path (``bench/`` is not a package):
``sys.path.insert(0, str(Path(__file__).parent))`` then ``import common``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / "data"  # generated data and working warehouses (gitignored)
RESULTS_DIR = BENCH_DIR / "results"  # small JSON results (committed)

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# The scale data: accounts per scale; days, seed and end date are shared by every scale.
SCALES: dict[str, int] = {"1k": 1_000, "10k": 10_000, "100k": 100_000, "1m": 1_000_000}
DAYS = 90
SEED = 7
END_DATE = date(2026, 10, 31)
# Product events per account and day (the generator's ``events_per_account_day``; the same at
# every scale, so events scale with accounts). Override with BENCH_EVENTS_PER_ACCOUNT_DAY.
EVENTS_PER_ACCOUNT_DAY = float(os.environ.get("BENCH_EVENTS_PER_ACCOUNT_DAY") or 6.0)
# The signal SQL reads the events of the 30 days ending on D (35 for the usage trend).
WINDOW_DAYS = 30

RESULT_PREFIX = "BENCH_RESULT "


def say(msg: str) -> None:
    """Progress on stderr (stdout of a child carries its result line)."""
    print(f"[{datetime.now(UTC):%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def scale_params(scale: str) -> dict[str, Any]:
    """The generator parameters of one scale (also the manifest's ``params``)."""
    if scale not in SCALES:
        raise SystemExit(f"unknown scale {scale!r}: choose one of {', '.join(SCALES)}")
    return {
        "accounts": SCALES[scale],
        "days": DAYS,
        "seed": SEED,
        "end_date": END_DATE.isoformat(),
        "events_per_account_day": EVENTS_PER_ACCOUNT_DAY,
    }


def scale_tag(scale: str) -> str:
    """Folder and result-name tag of a scale: ``100k``, or ``100k-e60`` for another event rate."""
    return scale if EVENTS_PER_ACCOUNT_DAY == 6.0 else f"{scale}-e{EVENTS_PER_ACCOUNT_DAY:g}"


def scale_dir(scale: str) -> Path:
    return DATA_DIR / scale_tag(scale)


def sample_dir(scale: str) -> Path:
    return scale_dir(scale) / "sample"


def period(scale: str) -> tuple[date, date]:
    """First and last day of the scale's event period."""
    return END_DATE - timedelta(days=DAYS - 1), END_DATE


def read_manifest(scale: str) -> dict | None:
    path = sample_dir(scale) / "_manifest.json"
    return json.loads(path.read_text()) if path.exists() else None


def sample_ready(scale: str) -> bool:
    manifest = read_manifest(scale)
    return manifest is not None and manifest.get("params") == scale_params(scale)


def require_sample(scale: str) -> dict:
    manifest = read_manifest(scale)
    if manifest is None or manifest.get("params") != scale_params(scale):
        raise SystemExit(
            f"no scale data for {scale} in {sample_dir(scale)}: run "
            f"`.venv/bin/python bench/scale_data.py --scale {scale}` first"
        )
    return manifest


# ------------------------------------------------------------------------------- machine info


def _meminfo_gb() -> float:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def _cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def _git_commit() -> str:
    # read-only: which commit the code under test is based on (the tree may have local changes)
    out = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or "unknown"


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine_info() -> dict[str, Any]:
    """Cores, memory, CPU model, library versions and the load average right now."""
    return {
        "cores": os.cpu_count(),
        "memory_gb": _meminfo_gb(),
        "cpu_model": _cpu_model(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "duckdb": _version("duckdb"),
        "dagster": _version("dagster"),
        "pandas": _version("pandas"),
        "pyarrow": _version("pyarrow"),
        "git_commit": _git_commit(),
        "duckdb_memory_limit": os.environ.get("ACCT_DUCKDB_MEMORY_LIMIT") or "default (80% of RAM)",
        "load_average_at_start": load_average(),
    }


def write_result(name: str, payload: dict[str, Any], machine: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.json`` (the newest run of that benchmark replaces the last)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"{name}.json"
    doc = {
        "benchmark": name,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "load_average_at_end": load_average(),
        **payload,
    }
    out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    say(f"results: {out.relative_to(REPO)}")
    return out


# --------------------------------------------------------------------- measuring in a child


def vm_hwm_mb() -> float:
    """Peak resident memory of this process image (``VmHWM``: reset by exec, unlike
    ``ru_maxrss``)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


class RssSampler:
    """Samples this process's resident memory (``VmRSS``) every ``interval`` seconds in a
    background thread, so a long run can say *when* (in which step) its peak happened."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []  # (unix time, MB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with open("/proc/self/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        self.samples.append((time.time(), int(line.split()[1]) / 1024))
                        break
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak_between(self, start: float, end: float) -> float | None:
        """Largest sample taken between two unix times (None when none was taken)."""
        inside = [mb for t, mb in self.samples if start <= t <= end]
        return round(max(inside), 1) if inside else None


def child_result(payload: dict[str, Any]) -> None:
    """Called at the end of a child: its own peak RSS and the payload, as one stdout line."""
    payload = {
        **payload,
        "child_peak_rss_mb": vm_hwm_mb(),
        # ru_maxrss is NOT used: on Linux a child inherits its parent's peak across fork + exec,
        # so a child of a parent that prepared a 6.5 GB warehouse reported 6.5 GB itself
        "child_ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(RESULT_PREFIX + json.dumps(payload, default=str), flush=True)


def measure(args: list[str], env: dict[str, str] | None = None, label: str = "") -> dict[str, Any]:
    """Run ``python <args>`` in a fresh process; wall time and peak RSS of exactly that process.

    Peak RSS is the child's own ``VmHWM`` (reported in its ``child_result`` line), so one
    measurement is never mixed with another's or with the parent's. The child's result line is
    merged in.
    """
    cmd = [sys.executable, *args]
    say(f"measure {label or ' '.join(args)}")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}, cwd=REPO
    )
    assert proc.stdout is not None
    lines = proc.stdout.read().splitlines()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    result: dict[str, Any] = {}
    for line in lines:
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX) :])
        else:
            print(line, file=sys.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark step failed (exit {proc.returncode}): {' '.join(cmd)}")
    result["stdout_tail"] = [ln for ln in lines if not ln.startswith(RESULT_PREFIX)][-30:]
    result["process_wall_s"] = round(wall, 3)
    # the child's own VmHWM when it reported one: wait4's ru_maxrss includes the parent's peak
    # at fork time (Linux carries it across exec), so it overstates a child of a big parent
    peak = result.get("child_peak_rss_mb") or round(usage.ru_maxrss / 1024, 1)
    result["process_peak_rss_mb"] = peak
    result["wait4_ru_maxrss_mb"] = round(usage.ru_maxrss / 1024, 1)
    say(f"  -> {label}: process {wall:.1f}s, peak RSS {peak:.0f} MB")
    return result


@contextmanager
def timer(into: dict[str, float], key: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        into[key] = round(time.perf_counter() - t0, 3)


def median(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


# --------------------------------------------------------------------- pipeline environment


def pipeline_env(scale_or_landing: str | Path, work: Path) -> dict[str, str]:
    """Environment for a pipeline run on a private warehouse and Dagster home under ``work``."""
    landing = (
        sample_dir(scale_or_landing) if isinstance(scale_or_landing, str) else scale_or_landing
    )
    return {
        "ACCT_LANDING_DIR": str(landing),
        "ACCT_WAREHOUSE": str(work / "warehouse.duckdb"),
        "DAGSTER_HOME": str(work / "dagster_home"),
        "ACCT_SYNC_OUTBOX_DIR": str(work / "outbox"),
        "ACCT_REPORTS_DIR": str(work / "reports"),
        "ACCT_MODELS_DIR": str(work / "models"),
        "ACCT_ALERT_LOG": str(work / "alerts.log"),
        "ACCT_CRM_SOURCE": "files",
        "ACCT_BILLING_SOURCE": "files",
        "ACCT_PRODUCT_SOURCE": "files",
    }


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def copy_warehouse(src: Path, dst_dir: Path) -> Path:
    """Copy a prepared warehouse file into a fresh working folder; returns the copy's path."""
    fresh_dir(dst_dir)
    dst = dst_dir / "warehouse.duckdb"
    shutil.copyfile(src, dst)
    wal = src.with_name(src.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, dst.with_name(dst.name + ".wal"))
    return dst


def scoring_functions() -> tuple[Callable[..., int], Callable[..., int], str]:
    """``compute_signals`` and ``score_day`` of the scoring engine, or the thin slice until the
    engine imports; the label says which one was measured."""
    try:
        from acct_pipeline.scoring.model import load_model
        from acct_pipeline.scoring.scores import score_day
        from acct_pipeline.scoring.signals import compute_signals

        def signals(con: Any, day: Any, model: Any = None) -> int:
            # the engine takes the model explicitly; the benchmarks score with the default one
            return compute_signals(con, day, model if model is not None else load_model())

        return signals, score_day, "engine (scoring/signals.py + scoring/scores.py)"
    except ImportError:  # pragma: no cover - before the engine lands
        from acct_pipeline.scoring.slice import compute_signals as slice_signals
        from acct_pipeline.scoring.slice import score_day as slice_score

        return slice_signals, slice_score, "slice (scoring/slice.py)"


def preload_scoring() -> None:
    """Import what ``score_day`` imports lazily (the churn module pulls in scikit-learn and
    SciPy, several seconds) and load the model, so a measured call is computation only. The
    import cost is reported separately as ``import_s``."""
    import importlib

    for name in ("acct_pipeline.scoring.churn", "acct_pipeline.scoring.model"):
        with contextlib.suppress(ImportError):  # before the engine lands
            importlib.import_module(name)
    try:
        from acct_pipeline.scoring.model import load_model

        load_model()
    except ImportError:  # pragma: no cover
        pass


def dagster_scoring_label() -> str:
    """Which implementation the Dagster assets call (they may lag the engine)."""
    from acct_pipeline.scoring.scores import score_day  # imported inside the scores asset
    from acct_pipeline.scoring.signals import compute_signals  # via compute_signals_for_days

    return f"signals: {compute_signals.__module__}, scores: {score_day.__module__}"


def engine_signature() -> str:
    """A short digest of the signal SQL and the usage rollups: prepared warehouses built by
    another version are rebuilt, not reused."""
    import hashlib

    h = hashlib.sha256()
    for rel in ("acct_pipeline/scoring/sql/signals.sql", "acct_pipeline/scoring/usage.py"):
        h.update((REPO / rel).read_bytes())
    return h.hexdigest()[:12]


def du_gb(path: Path) -> float:
    total = (
        sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        if path.is_dir()
        else path.stat().st_size
    )
    return round(total / 1e9, 2)

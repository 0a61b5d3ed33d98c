"""Scale data for the benchmarks: the sample generator at 10k / 100k / 1M accounts x 90 days.

Generated once into ``bench/data/<scale>/sample`` (gitignored) and reused: a scale is skipped
when its ``_manifest.json`` holds the same parameters. Events scale with accounts
(``common.EVENTS_PER_ACCOUNT_DAY`` per account and day at every scale).

    .venv/bin/python bench/scale_data.py --scale 10k [--scale 100k ...] [--force]

Writes ``bench/results/scale_data_<scale>.json`` (generation time, rows, size on disk).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402


def generate(scale: str, force: bool = False) -> dict | None:
    """Generate one scale unless it exists with the same parameters; returns the result or None."""
    target = common.sample_dir(scale)
    if common.sample_ready(scale) and not force:
        common.say(f"{scale}: reusing {target.relative_to(common.REPO)} (same parameters)")
        return None
    from acct_pipeline.sample.generator import generate_sample

    machine = common.machine_info()
    params = common.scale_params(scale)
    if target.exists():  # a partial or different run: start clean
        shutil.rmtree(target)
    common.say(f"{scale}: generating {params}")
    t0 = time.perf_counter()
    manifest = generate_sample(
        target,
        accounts=params["accounts"],
        days=params["days"],
        seed=params["seed"],
        end_date=date.fromisoformat(params["end_date"]),
        progress=lambda m: common.say(f"{scale}: {m}"),
        events_per_account_day=params["events_per_account_day"],
    )
    seconds = time.perf_counter() - t0
    events = manifest["counts"]["product_events"]
    payload = {
        "scale": scale,
        "params": params,
        "command": f".venv/bin/python bench/scale_data.py --scale {scale}",
        "generation_s": round(seconds, 1),
        "counts": manifest["counts"],
        "events_per_account_day_measured": round(events / params["accounts"] / params["days"], 2),
        "size_on_disk_gb": common.du_gb(target),
    }
    common.write_result(f"scale_data_{common.scale_tag(scale)}", payload, machine)
    return payload


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--scale", action="append", choices=list(common.SCALES), help="repeat for several"
    )
    p.add_argument("--force", action="store_true", help="regenerate even if the manifest matches")
    args = p.parse_args()
    for scale in args.scale or ["10k", "100k"]:
        generate(scale, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``scripts/ui_smoke.py`` (the Dagster UI in headless Chromium) as a module for the UI tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def ui_smoke() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ui_smoke", REPO / "scripts" / "ui_smoke.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["ui_smoke"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module

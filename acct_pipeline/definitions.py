"""The Dagster code location ``acct_pipeline``: everything under ``acct_pipeline/defs/``."""

from pathlib import Path

import dagster as dg

from acct_pipeline.defs.resources import warehouse_definitions


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
        warehouse_definitions(),  # the resource shows the configured path in the UI
    )

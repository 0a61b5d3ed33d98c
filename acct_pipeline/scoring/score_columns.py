"""Column names of ``scores.account_scores`` that the scoring and the churn model share.

A leaf module (it imports only the model's types), so ``scores.py`` (writes the columns) and
``churn.py`` (learns from them) both import it instead of each other.
"""

from __future__ import annotations

from acct_pipeline.scoring.model import ScoringModel

POINTS_PREFIX = "points_"
# The scores the churn model may learn from, beside the signals and the components' points.
SCORE_FEATURES: tuple[str, ...] = ("health_score", "engagement_score", "value_score")


def points_columns(model: ScoringModel) -> list[str]:
    """``points_<component>`` for each health component, in the model's order."""
    return [f"{POINTS_PREFIX}{c}" for c in model.health.components]

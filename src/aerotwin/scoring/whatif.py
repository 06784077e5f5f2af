"""The risk scorer the what-if simulation takes: the champion of the component's type.

`champion_scorer(settings)` returns a callable (component_type, feature rows as Arrow) ->
risk score of the first row. Each type's champion is loaded once per scorer (by alias, so
a new scorer sees a moved alias); without a champion the risk stays None.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from aerotwin.config import Settings
from aerotwin.ml.model import RiskModel
from aerotwin.scoring.batch import ScoringError, load_champion

RiskScorer = Callable[[str, pa.Table], float | None]


def champion_scorer(settings: Settings) -> RiskScorer:
    """A what-if risk scorer backed by the champion models (None where there is no champion)."""
    cache: dict[str, RiskModel | None] = {}

    def scorer(component_type: str, rows: pa.Table) -> float | None:
        if component_type not in cache:
            try:
                cache[component_type] = load_champion(settings, component_type).model
            except ScoringError:
                cache[component_type] = None
        model = cache[component_type]
        if model is None or rows.num_rows == 0:
            return None
        return float(model.risk(rows.to_pandas())[0])

    return scorer

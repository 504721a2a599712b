"""The Dagster code location: assets, checks, jobs, schedules, sensors and resources.

Each module in `assets/` contributes its own `definitions(paths)`; this file merges them and adds
the resources. Loaded by `dagster dev -w workspace.yaml` and by the `crmclean` CLI. Nothing
here opens the warehouse: reading config is the only work done at import time.
"""

from __future__ import annotations

import dagster as dg

from assets import (
    alerts,
    checks,
    customer_metrics,
    customers,
    drops,
    quality,
    segments,
    sensors,
    suppressions,
)
from assets.console import console
from assets.resources import CrmcleanResource, MatchSparkResource
from pipelines.settings import Paths

# One line per asset module; each has `definitions(paths) -> dg.Definitions`.
MODULES = [
    drops,
    sensors,
    customers,
    customer_metrics,
    quality,
    checks,
    alerts,
    segments,
    suppressions,
]


def build_definitions(paths: Paths | None = None) -> dg.Definitions:
    paths = paths or Paths.from_env()
    resources = dg.Definitions(
        resources={
            "crmclean": CrmcleanResource(
                data_dir=str(paths.data_dir), config_dir=str(paths.config_dir)
            ),
            "spark": MatchSparkResource(),
        },
        loggers={"console": console},
    )
    return dg.Definitions.merge(*(m.definitions(paths) for m in MODULES), resources)


defs = build_definitions()

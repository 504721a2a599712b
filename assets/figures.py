"""Quality figures as Dagster metadata: numbers, not text, so the UI plots each one over time."""

import dagster as dg

# Figures that are not counts: always float, so one series keeps one type from load to load.
_FRACTIONAL = ("rate", "share", "validity", "per_", "age", "hours", "days")


def figure_value(metric: str, value: float) -> dg.MetadataValue:
    """A figure as numeric metadata (counts int, rates float), so the UI plots it over time."""
    if float(value).is_integer() and not any(w in metric for w in _FRACTIONAL):
        return dg.MetadataValue.int(int(value))
    return dg.MetadataValue.float(float(value))


def figure_metadata(figures) -> dict[str, dg.MetadataValue]:
    """(metric, field, value) figures as numeric metadata keyed `metric` or `metric/field`."""
    return {(f"{m}/{f}" if f else m): figure_value(m, v) for m, f, v in figures if v is not None}

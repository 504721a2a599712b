"""Deduplicate contacts into golden customers: accurate on households, fast at a million, stable
over time.

    from pipelines.match import build_customers, explain
    result = build_customers(con, settings=settings, source_priority={"crm": 1, "webshop": 2},
                             overrides_path=Path("sftp_config/match_overrides.yaml"), now=now)
    print(explain(con, "C0123456789"))

See engine.py for the steps and the module of each step.
"""

from pipelines.match.engine import MatchResult, build_customers
from pipelines.match.explain import explain
from pipelines.match.settings import MatchSettings, load_match_settings

__all__ = ["MatchResult", "MatchSettings", "build_customers", "explain", "load_match_settings"]

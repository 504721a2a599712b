"""Segments: named SQL filters over `segment_candidates`, with suppression applied always.

`segment_candidates` is customers plus helper columns a marketer filters on (age, days since the
last purchase, days to the next birthday, whether the customer is suppressed). Whatever a
segment's filter says, suppressed customers are removed before anything is exported.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from pipelines.config import ConfigError, Segment

CANDIDATES_VIEW = """
CREATE OR REPLACE TEMP VIEW segment_candidates AS
WITH s AS (
    SELECT c.customer_id,
           bool_or(s.reason IS NOT NULL) AS is_suppressed,
           string_agg(DISTINCT s.reason, ',') AS suppression_reasons
    FROM customers c
    LEFT JOIN suppressions s
      ON s.customer_id = c.customer_id
      OR (s.email IS NOT NULL AND s.email = c.email)
      OR (s.phone IS NOT NULL AND s.phone = c.phone)
    GROUP BY c.customer_id
)
SELECT c.*,
       coalesce(s.is_suppressed, false) AS is_suppressed,
       s.suppression_reasons,
       date_diff('year', c.birth_date, DATE '{today}')
         - CASE WHEN strftime(c.birth_date, '%m%d') > strftime(DATE '{today}', '%m%d') THEN 1 ELSE 0 END AS age,
       date_diff('day', CAST(c.last_purchase_at AS DATE), DATE '{today}') AS days_since_last_purchase
FROM customers c LEFT JOIN s USING (customer_id)
"""


def create_candidates_view(con: duckdb.DuckDBPyConnection, today: date) -> None:
    con.execute(CANDIDATES_VIEW.format(today=today.isoformat()))


def validate_segment(con: duckdb.DuckDBPyConnection, name: str, segment: Segment, today: date) -> None:
    """Fail early, naming the segment, on a bad column or SQL syntax in exports.yaml."""
    create_candidates_view(con, today)
    cols = ", ".join(f'"{c}"' for c in segment.columns)
    try:
        con.execute(f"EXPLAIN SELECT {cols} FROM segment_candidates WHERE ({segment.filter}) ORDER BY {segment.order_by}")
    except duckdb.Error as e:
        first = str(e).splitlines()[0]
        raise ConfigError(f"exports.yaml: segments.{name}: {first}") from None


def build_segment(con: duckdb.DuckDBPyConnection, name: str, segment: Segment, today: date) -> pd.DataFrame:
    """The segment's rows, suppressed customers removed whatever the filter says."""
    validate_segment(con, name, segment, today)
    cols = ", ".join(f'"{c}"' for c in segment.columns)
    return con.execute(
        f"SELECT {cols} FROM segment_candidates WHERE ({segment.filter}) AND NOT is_suppressed ORDER BY {segment.order_by}"
    ).df()

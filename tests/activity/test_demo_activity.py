"""Demo order and engagement drops: consistent with the demo people, and loadable."""

from __future__ import annotations

import csv
import datetime as dt

import duckdb

from pipelines.activity.engagement import load_engagement
from pipelines.activity.orders import load_orders
from pipelines.config import ActivityRules
from pipelines.demo.engagement import COLUMNS as EVENT_COLUMNS
from pipelines.demo.generate import generate
from pipelines.demo.orders import COLUMNS as ORDER_COLUMNS
from tests.activity.helpers import warehouse

DAY = dt.date(2026, 11, 23)


def _staged(con, path, columns, name):
    select = ", ".join(f'"{header}" AS "{field}"' for field, header in columns.items())
    con.execute(
        f"""CREATE OR REPLACE TABLE {name} AS
            SELECT row_number() OVER () + 1 AS line_number, {select}
            FROM read_csv(?, delim = ';', header = true, all_varchar = true)""",
        [str(path)],
    )


def test_demo_activity_drops_fit_the_people_and_load(tmp_path):
    summary = generate(
        tmp_path / "inbox", tmp_path / "truth.parquet", people=2000, seed=3, day=DAY, activity=True
    )
    orders_path, _ = summary.activity_files["orders"]
    events_path, _ = summary.activity_files["mailplatform"]
    q = duckdb.connect()
    with open(summary.files["webshop"], encoding="utf-8-sig", newline="") as f:
        webshop_ids = {row[0] for row in csv.reader(f) if row}
    o = f"read_csv('{orders_path}', delim = ';', header = true, all_varchar = true)"
    ids = {
        r[0]
        for r in q.execute(
            f"SELECT DISTINCT klantnummer FROM {o} WHERE klantnummer IS NOT NULL"
        ).fetchall()
    }
    assert ids and ids <= webshop_ids
    winter, summer, returned, lines, unknown = q.execute(
        f"""SELECT count(*) FILTER (WHERE month(CAST(besteldatum AS DATE)) IN (11, 12)),
                   count(*) FILTER (WHERE month(CAST(besteldatum AS DATE)) IN (6, 7)),
                   count(*) FILTER (WHERE status = 'retour'), count(*),
                   count(*) FILTER (WHERE email LIKE 'gast%')
            FROM {o}"""
    ).fetchone()
    assert winter > 1.5 * summer
    assert 0.03 < returned / lines < 0.09 and unknown > 0
    assert q.execute(f"SELECT max(CAST(besteldatum AS DATE)) FROM {o}").fetchone()[0] <= DAY
    e = f"read_csv('{events_path}', delim = ';', header = true, all_varchar = true)"
    never, people = q.execute(
        f"""SELECT count(*) FILTER (WHERE opens = 0), count(*) FROM (
                SELECT email, count(*) FILTER (WHERE gebeurtenis = 'open') AS opens FROM {e}
                WHERE email NOT LIKE 'onbekend%' GROUP BY email)"""
    ).fetchone()
    assert 0.15 < never / people < 0.40  # the inactive share

    con = warehouse(tmp_path)
    rules = ActivityRules(event_values={"spam": "complaint"})
    _staged(con, orders_path, ORDER_COLUMNS, "staged_orders")
    out = load_orders(
        con,
        staged_table="staged_orders",
        file_id="o",
        source_name="orders",
        rules=rules,
        customer_source="webshop",
        today=DAY,
    )
    assert out["lines_loaded"] == lines and out["rows_rejected_at_load"] == 0
    assert out["amounts_invalid"] == 0
    _staged(con, events_path, EVENT_COLUMNS, "staged_events")
    out = load_engagement(
        con,
        staged_table="staged_events",
        file_id="e",
        source_name="mail",
        rules=rules,
        datetime_format="%Y-%m-%d %H:%M",
        today=DAY,
    )
    assert out["rows_rejected_at_load"] == 0 and out["events_complaint"] > 0

"""Load an orders drop: one line per order line (or per order) from the webshop or ERP.

`load_orders` reads a staged relation of raw text columns (`line_number` plus any of
`ORDER_FIELDS` of pipelines/fields.py) into `orders`, in DuckDB SQL:

- `amount`: comma or dot decimals, thousands separators, a currency sign in the text
  (`parse.amount_sql`); not a number, negative or above `activity.max_line_amount` (in the base
  currency) is `invalid` with its reason; the line is kept.
- `currency`: the column, else the sign in the amount, else `activity.default_currency`; one not
  in `activity.currency_rates` is `invalid` (`unknown_currency`). `amount_eur` = amount x rate.
- `ordered_at`: the source's date/datetime formats, as for contacts (pipelines/normalize/dates.py);
  future dates are `invalid` (`future_date`).
- `status`: `returned` / `cancelled` words (`activity.no_value_statuses`) count no value; empty is
  `completed`.
- the customer: `source_record_id` (of the contacts source `customer_source`) and/or `email`; an
  unmatched line is kept with `customer_id` NULL.
- Re-delivery: the lines of an order already loaded (same source and `order_id`) are replaced by
  the new delivery's lines, so an order counts once. A line without `order_id` is rejected.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from pipelines.activity.attach import (
    ORDER_CUSTOMER_SQL,
    ORDER_JOINS_SQL,
    email_customers,
    record_customers,
)
from pipelines.activity.parse import amount_sql, parse_timestamps, staged_columns
from pipelines.config import ActivityRules
from pipelines.ingest.load import finish_load
from pipelines.normalize.dates import date_formats
from pipelines.privacy.addresses import normalize_address_columns
from pipelines.quality.metrics import record_drop_figures
from pipelines.warehouse import sql_literal as q
from pipelines.warehouse import transaction

RETURN_WORDS = ("returned", "return", "retour", "returnerad", "teruggestuurd")


def _figures(con: duckdb.DuckDBPyConnection, mapped: set[str]) -> list:
    """Quality of the drop's lines: fill rate of the mapped fields, validity of amount, currency
    and order time, and the share returned or cancelled. (The share attached to no customer is
    measured at the warehouse snapshot, after the match: quality/metrics.py.)"""
    raw = {
        "email": "email_raw",
        "source_record_id": "ref_id",
        "ordered_at": "ordered_at_raw",
        "amount": "amount_raw",
        "category": "category",
    }
    fill = [f for f in raw if f in mapped]
    exprs = [
        f"avg(CASE WHEN nullif(trim({raw[f]}), '') IS NULL THEN 0.0 ELSE 1.0 END)" for f in fill
    ]
    valid = {
        "amount": "amount_status",
        "currency": "currency_status",
        "ordered_at": "ordered_at_status",
    }
    exprs += [
        f"avg(CASE WHEN {st} IN ('valid', 'corrected') THEN 1.0 ELSE 0.0 END) "
        f"FILTER (WHERE {st} <> 'missing')"
        for st in valid.values()
    ]
    exprs.append("avg(CASE WHEN no_value THEN 1.0 ELSE 0.0 END)")
    row = con.execute(
        f"SELECT {', '.join(exprs)} FROM _ord_final WHERE order_id IS NOT NULL"
    ).fetchone()
    figures = [("fill_rate", f, row[i]) for i, f in enumerate(fill)]
    figures += [("validity", f, row[len(fill) + i]) for i, f in enumerate(valid)]
    figures.append(("returned_share", None, row[-1]))
    return figures


def _col(mapped: set[str], name: str, alias: str = "d") -> str:
    return f'{alias}."{name}"' if name in mapped else "NULL::VARCHAR"


def load_orders(
    con: duckdb.DuckDBPyConnection,
    *,
    staged_table: str,
    file_id: str,
    source_name: str,
    rules: ActivityRules,
    customer_source: str | None = None,
    date_format: str = "%Y-%m-%d",
    datetime_format: str | None = None,
    today: dt.date | None = None,
) -> dict:
    """Staged order lines -> `orders` (or `rejected_rows`); figures without personal data."""
    today = today or dt.date.today()
    mapped = staged_columns(con, staged_table)
    formats = date_formats(date_format, datetime_format, timestamp=True)
    rates = " ".join(f"WHEN {q(c)} THEN {float(r)!r}" for c, r in rules.currency_rates.items())
    no_value = ", ".join(q(s.lower()) for s in rules.no_value_statuses)
    returns = ", ".join(q(s) for s in RETURN_WORDS)
    number, named_currency = amount_sql("raw")
    with transaction(con):
        normalize_address_columns(
            con,
            table=staged_table,
            email_column="email" if "email" in mapped else None,
            phone_column=None,
            region_sql="'NL'",
        )
        parse_timestamps(
            con,
            inputs_sql=f"SELECT {_col(mapped, 'ordered_at')} FROM {staged_table} d",
            formats=formats,
            today=today,
            out="_ord_times",
        )
        email_customers(con)
        record_customers(con)
        # Amounts repeat a lot: each distinct text is read once.
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _ord_amounts AS
                SELECT raw, {number} AS num, {named_currency} AS currency
                FROM (SELECT DISTINCT {_col(mapped, "amount")} AS raw FROM {staged_table} d)"""
        )
        status = f"lower(trim({_col(mapped, 'status')}))"
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _ord_parsed AS
            SELECT d.line_number, nullif(trim({_col(mapped, "order_id")}), '') AS order_id,
                   coalesce(nullif(trim({_col(mapped, "order_line")}), ''),
                            CAST(row_number() OVER (PARTITION BY trim({_col(mapped, "order_id")})
                                                    ORDER BY d.line_number) AS VARCHAR)) AS
                                                        order_line,
                   nullif(trim({_col(mapped, "source_record_id")}), '') AS ref_id,
                   e.email AS customer_email, {_col(mapped, "email")} AS email_raw,
                   {_col(mapped, "ordered_at")} AS ordered_at_raw, t.value AS ordered_at,
                   CASE WHEN t.raw IS NULL THEN 'missing' ELSE t.status END AS ordered_at_status,
                   t.reason AS ordered_at_reason,
                   {_col(mapped, "amount")} AS amount_raw, a.num AS amount_num,
                   upper(coalesce(nullif(trim({_col(mapped, "currency")}), ''), a.currency,
                                  {q(rules.default_currency)})) AS currency,
                   nullif(trim({_col(mapped, "product_id")}), '') AS product_id,
                   nullif(trim({_col(mapped, "category")}), '') AS category,
                   try_cast(trim({_col(mapped, "quantity")}) AS INTEGER) AS quantity,
                   CASE WHEN {status} IS NULL OR {status} = '' THEN 'completed'
                        WHEN {status} IN ({returns}) THEN 'returned'
                        WHEN {status} IN ({no_value}) THEN 'cancelled'
                        ELSE {status} END AS status,
                   coalesce({status} IN ({no_value}), false) AS no_value
            FROM {staged_table} d
            LEFT JOIN _email_keys e ON e.raw = {_col(mapped, "email")}
            LEFT JOIN _ord_times t ON t.raw = {_col(mapped, "ordered_at")}
            LEFT JOIN _ord_amounts a ON a.raw = {_col(mapped, "amount")}
            """
        )
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _ord_rows AS
            SELECT p.*,
                   CASE p.currency {rates} END AS rate,
                   CASE WHEN p.ref_id IS NOT NULL THEN 'source_record_id'
                        WHEN p.customer_email IS NOT NULL THEN 'email' END AS customer_ref_kind,
                   coalesce(p.ref_id, p.customer_email, p.email_raw) AS customer_ref,
                   CASE WHEN p.ref_id IS NOT NULL THEN
                       {q(customer_source) if customer_source else "NULL"} END
                       AS customer_ref_source
            FROM _ord_parsed p
            """
        )
        max_amount = float(rules.max_line_amount)
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _ord_final AS
            SELECT r.*,
                   CASE WHEN r.amount_raw IS NULL OR trim(r.amount_raw) = '' THEN 'missing'
                        WHEN r.amount_num IS NULL OR r.amount_num < 0
                             OR r.amount_num * coalesce(r.rate, 1) > {max_amount} THEN 'invalid'
                        ELSE 'valid' END AS amount_status,
                   CASE WHEN r.amount_raw IS NULL OR trim(r.amount_raw) = '' THEN NULL
                        WHEN r.amount_num IS NULL THEN 'not_a_number'
                        WHEN r.amount_num < 0 THEN 'negative_amount'
                        WHEN r.amount_num * coalesce(r.rate, 1) > {max_amount} THEN 'absurd_amount'
                   END AS amount_reason,
                   CASE WHEN r.rate IS NULL THEN 'invalid' ELSE 'valid' END AS currency_status,
                   CASE WHEN r.rate IS NULL THEN 'unknown_currency' END AS currency_reason,
                   {ORDER_CUSTOMER_SQL} AS customer_id, rc.record_key
            FROM _ord_rows r {ORDER_JOINS_SQL.format(o="r")}
            """
        )
        # Customers whose earlier lines of these orders are replaced must be recomputed too.
        con.execute(
            """INSERT INTO customer_metrics_dirty
               SELECT DISTINCT o.customer_id, now() FROM orders o
               WHERE o.customer_id IS NOT NULL AND (o.file_id = ? OR (o.source = ? AND
                   o.order_id IN
                     (SELECT order_id FROM _ord_final WHERE order_id IS NOT NULL)))""",
            [file_id, source_name],
        )
        con.execute(
            """DELETE FROM orders WHERE file_id = ? OR (source = ? AND order_id IN
                   (SELECT order_id FROM _ord_final WHERE order_id IS NOT NULL))""",
            [file_id, source_name],
        )
        con.execute(
            """
            INSERT INTO orders BY NAME
            SELECT ? AS source, ? AS file_id, line_number, order_id, order_line, customer_ref,
                   customer_ref_kind, customer_ref_source, customer_email, record_key, customer_id,
                   ordered_at, ordered_at_raw, ordered_at_status, ordered_at_reason,
                   CASE WHEN amount_status = 'valid' THEN amount_num END::DECIMAL(18,2) AS amount,
                   amount_raw, amount_status, amount_reason, currency, currency_status,
                       currency_reason,
                   CASE WHEN amount_status = 'valid' THEN amount_num * rate END::DECIMAL(18,2)
                       AS amount_eur,
                   product_id, category, quantity, status,
                   NOT no_value AND amount_status = 'valid' AND rate IS NOT NULL
                       AND ordered_at IS NOT NULL AS counts_as_value,
                   now() AS loaded_at
            FROM _ord_final WHERE order_id IS NOT NULL
            """,
            [source_name, file_id],
        )
        con.execute(
            """INSERT INTO rejected_rows (file_id, source, line_number, raw_line, reason,
                field, rejected_at)
               SELECT ?, ?, line_number, NULL, 'no order id in field order_id', 'order_id', now()
               FROM _ord_final WHERE order_id IS NULL""",
            [file_id, source_name],
        )
        con.execute(
            """INSERT INTO customer_metrics_dirty
               SELECT DISTINCT customer_id, now() FROM _ord_final WHERE customer_id IS NOT NULL"""
        )
        stats = con.execute(
            """SELECT count(*) FILTER (WHERE order_id IS NOT NULL),
                      count(*) FILTER (WHERE order_id IS NULL),
                      count(*) FILTER (WHERE order_id IS NOT NULL AND customer_id IS NULL),
                      count(*) FILTER (WHERE amount_status = 'invalid'),
                      count(*) FILTER (WHERE ordered_at_reason = 'future_date'),
                      count(*) FILTER (WHERE no_value)
               FROM _ord_final"""
        ).fetchone()
        loaded, rejected, unmatched, bad_amount, future, no_value_lines = stats
        record_drop_figures(
            con, load_id=file_id, source=source_name, figures=_figures(con, mapped)
        )
        finish_load(con, file_id, rejected=rejected)
        for t in (
            "_ord_parsed",
            "_ord_rows",
            "_ord_final",
            "_ord_times",
            "_ord_amounts",
            "_email_keys",
            "_phone_keys",
            "_email_customer",
            "_record_customer",
        ):
            con.execute(f"DROP TABLE IF EXISTS {t}")
    return {
        "lines_loaded": loaded,
        "rows_rejected_at_load": rejected,
        "lines_unmatched": unmatched,
        "unmatched_share": unmatched / loaded if loaded else 0.0,
        "amounts_invalid": bad_amount,
        "dates_in_future": future,
        "lines_returned_or_cancelled": no_value_lines,
    }

"""Drop kinds: what a source's files are, and how a staged drop of each kind loads.

One entry per kind in `KINDS`. What a kind's files may carry and how a load is judged (its
fields, the ones required by default, the events `event_values` may name, its quality checks) is
data in `pipelines/fields.py` `KIND_SPECS`, where the config and the quality checks read it;
what a kind does is here: its loader, the warehouse table it fills and the Dagster asset that
shows its drops.

Adding a kind: its spec in `KIND_SPECS`, its table in `pipelines/warehouse/schema.py`, its loader
in a module of its own, and one `DropKind` below. Landing, decoding, staging, the per-file
partitions, the checks and the run bookkeeping then work for it unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import duckdb

from pipelines.activity.engagement import load_engagement
from pipelines.activity.orders import load_orders
from pipelines.config import Source, SourcesConfig
from pipelines.fields import KIND_SPECS, KindSpec
from pipelines.ingest.load import staged_status
from pipelines.ingest.stage import staged_view_sql
from pipelines.kinds.contacts import load_contacts
from pipelines.privacy.erasure import load_erasure_drop
from pipelines.privacy.events import load_suppression_drop
from pipelines.privacy.masking import masked_errors
from pipelines.settings import Paths


@dataclass(frozen=True)
class LoadContext:
    """One staged drop and what its loader may need besides the connection."""

    file_id: str
    source_name: str
    source: Source
    config: SourcesConfig
    paths: Paths
    now: datetime  # UTC, naive

    def staged_table(self, con: duckdb.DuckDBPyConnection) -> str:
        """A temp table of the drop's staged rows: `line_number` and the fields its source maps
        (loaders may add working columns to it)."""
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _staged_drop AS "
            + staged_view_sql(self.file_id, self.source)
        )
        return "_staged_drop"


Loader = Callable[[duckdb.DuckDBPyConnection, LoadContext], dict]


@dataclass(frozen=True)
class DropKind:
    name: str
    asset: str  # the Dagster asset (one partition per file) that loads drops of this kind
    table: str  # the warehouse table it fills (its column schema is shown in the UI)
    description: str
    load: Loader  # staged rows -> its table and rejected_rows; figures without personal data

    @property
    def spec(self) -> KindSpec:
        """Its fields, required fields, events and quality checks (pipelines/fields.py)."""
        return KIND_SPECS[self.name]


def _contacts(con: duckdb.DuckDBPyConnection, ctx: LoadContext) -> dict:
    result = load_contacts(
        con,
        file_id=ctx.file_id,
        source_name=ctx.source_name,
        source=ctx.source,
        default_country=ctx.config.country_of(ctx.source_name),
    )
    return {
        "rows_normalized": result.rows,
        "records_new": result.inserted,
        "records_updated": result.updated,
        "records_stale (older than held)": result.stale,
    }


def _suppressions(con: duckdb.DuckDBPyConnection, ctx: LoadContext) -> dict:
    return load_suppression_drop(
        con,
        file_id=ctx.file_id,
        source_name=ctx.source_name,
        source=ctx.source,
        config=ctx.config,
        today=ctx.now.date(),
    )


def _erasure_requests(con: duckdb.DuckDBPyConnection, ctx: LoadContext) -> dict:
    return load_erasure_drop(
        con,
        file_id=ctx.file_id,
        source_name=ctx.source_name,
        source=ctx.source,
        config=ctx.config,
        paths=ctx.paths,
        now=ctx.now,
    )


def _orders(con: duckdb.DuckDBPyConnection, ctx: LoadContext) -> dict:
    return load_orders(
        con,
        staged_table=ctx.staged_table(con),
        file_id=ctx.file_id,
        source_name=ctx.source_name,
        rules=ctx.config.activity,
        customer_source=ctx.source.customer_source,
        date_format=ctx.source.date_format,
        datetime_format=ctx.source.datetime_format,
        today=ctx.now.date(),
    )


def _engagement(con: duckdb.DuckDBPyConnection, ctx: LoadContext) -> dict:
    return load_engagement(
        con,
        staged_table=ctx.staged_table(con),
        file_id=ctx.file_id,
        source_name=ctx.source_name,
        rules=ctx.config.activity,
        event_values=ctx.source.event_values,
        date_format=ctx.source.date_format,
        datetime_format=ctx.source.datetime_format,
        today=ctx.now.date(),
    )


KINDS: dict[str, DropKind] = {
    k.name: k
    for k in (
        DropKind(
            "contacts",
            asset="contacts",
            table="contacts",
            description="Normalized, validated source records (latest version of each wins), "
            "with per-field status.",
            load=_contacts,
        ),
        DropKind(
            "suppressions",
            asset="suppression_events",
            table="suppression_events",
            description="Unsubscribes, bounces and complaints of the email platform, as events "
            "with normalized addresses; the suppression rules read them.",
            load=_suppressions,
        ),
        DropKind(
            "erasure_requests",
            asset="erasure_requests",
            table="erasure_log",
            description="Right-to-be-forgotten requests: everyone a drop names is erased "
            "everywhere (audit in erasure_log, without personal data).",
            load=_erasure_requests,
        ),
        DropKind(
            "orders",
            asset="orders",
            table="orders",
            description="Order lines of the webshop or ERP, attached to golden customers through "
            "the match; a re-delivered order replaces its earlier lines.",
            load=_orders,
        ),
        DropKind(
            "engagement",
            asset="engagement_events",
            table="engagement_events",
            description="The email platform's events (sent, delivered, open, click, bounce, "
            "unsubscribe, complaint); bounces, unsubscribes and complaints also suppress.",
            load=_engagement,
        ),
    )
}
assert set(KINDS) == set(KIND_SPECS), "every kind in pipelines/fields.py needs a DropKind"


def kind_of(source: Source) -> DropKind:
    return KINDS[source.kind]


def load_drop(con: duckdb.DuckDBPyConnection, ctx: LoadContext) -> dict:
    """Load one staged drop with its kind's loader; a drop not (or no longer) staged is left
    alone. Errors are raised with personal data masked: they end up in Dagster's event log."""
    status = staged_status(con, ctx.file_id)
    if status != "staged":
        return {"status": status or "unknown"}
    with masked_errors():
        try:
            return kind_of(ctx.source).load(con, ctx)
        finally:
            con.execute("DROP TABLE IF EXISTS _staged_drop")

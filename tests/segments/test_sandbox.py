"""A segment cannot read files or the environment: refused when the config loads, and the export
connection could not anyway (DuckDB external access disabled, configuration locked)."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
import yaml

from pipelines.config import ConfigError, ExportsConfig, Segment, load_exports
from pipelines.export.run import export_segment
from pipelines.segments.build import validate_segments
from tests.segments.people import customer, warehouse

NOW = datetime(2026, 11, 24, 6)


def write_exports(tmp_path, **segment) -> Path:
    path = tmp_path / "exports.yaml"
    path.write_text(
        yaml.safe_dump({"segments": {"vip": {"columns": ["customer_id", "email"], **segment}}})
    )
    return path


@pytest.mark.parametrize(
    "filter_, reason",
    [
        (
            "email IN (SELECT column0 FROM read_csv('/etc/passwd'))",
            "table function read_csv() is not",
        ),
        (
            "email IN (SELECT * FROM read_parquet('x.parquet'))",
            "table function read_parquet() is not",
        ),
        ("email IN (SELECT * FROM '/etc/passwd')", "'/etc/passwd' is not a warehouse table"),
        ("getenv('HOME') IS NOT NULL", "getenv() reads files, settings or the environment"),
        ("length(read_text('/etc/hosts')) > 0", "read_text() reads files"),
        ("read_blob('/etc/hosts') IS NOT NULL", "read_blob() reads files"),
        ("current_setting('home_directory') = ''", "current_setting() reads files, settings"),
        ("email IN (FROM glob('/*'))", "table function glob() is not allowed"),
        (
            "0 < (SELECT count(*) FROM pragma_table_info('customers'))",
            "table function pragma_table_info()",
        ),
        (
            "customer_id IN (SELECT customer_id FROM other.main.customers)",
            "other.main: only the warehouse",
        ),
        ("true; COPY customers TO '/tmp/leak.csv'", "';' is not allowed"),
        ("true -- the rest is gone", "comments are not allowed"),
        ("true /* hidden */", "comments are not allowed"),
        ("ATTACH '/tmp/other.duckdb'", "ATTACH is a statement"),
        ("INSTALL httpfs", "INSTALL is a statement"),
        ("LOAD httpfs", "LOAD is a statement"),
        ("SET enable_external_access = true", "SET is a statement"),
        ("PRAGMA version", "PRAGMA is a statement"),
    ],
)
def test_filter_reaching_outside_is_refused_when_the_config_loads(tmp_path, filter_, reason):
    path = write_exports(tmp_path, filter=filter_)
    with pytest.raises(ConfigError) as err:
        load_exports(path)
    message = str(err.value)
    assert message.startswith(f"{path}: segments.vip.filter: ")  # file, key
    assert reason in message  # and why


@pytest.mark.parametrize(
    "order_by, reason",
    [
        ("getenv('USER')", "getenv() reads files"),
        ("(SELECT count(*) FROM read_csv('/etc/passwd'))", "table function read_csv()"),
        ("customer_id; DROP TABLE customers", "';' is not allowed"),
    ],
)
def test_order_by_reaching_outside_is_refused(tmp_path, order_by, reason):
    path = write_exports(tmp_path, filter="true", order_by=order_by)
    with pytest.raises(ConfigError) as err:
        load_exports(path)
    assert f"{path}: segments.vip.order_by: " in str(err.value) and reason in str(err.value)


def test_warehouse_subqueries_and_plain_functions_still_load(tmp_path):
    path = write_exports(
        tmp_path,
        filter="lower(email) LIKE '%@example.nl' AND customer_id IN (WITH w AS "
        "(SELECT customer_id FROM customer_sources) SELECT customer_id FROM w) OR age > $age",
        params={"age": 30},
        order_by="lower(last_name) DESC, customer_id",
    )
    cfg = load_exports(path)
    validate_segments(cfg, date(2026, 11, 24))  # binds against the warehouse schema: no error


def test_a_param_is_a_value_never_sql(tmp_path):
    con = warehouse(tmp_path / "w.duckdb", [customer("c1")])
    segment = Segment(
        filter="first_name <> $name",
        params={"name": "x' OR getenv('HOME') <> '"},
        columns=["customer_id"],
        file_name="p.csv",
    )
    cfg = ExportsConfig(segments={"vip": segment})
    export_segment(con, "vip", segment, cfg, outbox=tmp_path / "out", now=NOW)
    with open(tmp_path / "out" / "vip" / "p.csv", newline="") as fh:
        assert [r["customer_id"] for r in csv.DictReader(fh)] == ["c1"]


def test_export_connection_has_no_external_access(tmp_path):
    (tmp_path / "secret.csv").write_text("a\n1\n")
    con = warehouse(tmp_path / "w.duckdb", [customer("c1"), customer("c2")])
    segment = Segment(
        filter="has_valid_email", columns=["customer_id", "email"], file_name="n.csv"
    )
    cfg = ExportsConfig(segments={"n": segment})
    first = export_segment(con, "n", segment, cfg, outbox=tmp_path / "out", now=NOW)
    assert (
        first.rows == 2 and (tmp_path / "out" / "n" / "n.csv").exists()
    )  # its own COPY still writes

    with pytest.raises(duckdb.PermissionException):
        con.execute(f"SELECT * FROM read_csv('{tmp_path / 'secret.csv'}')")
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"COPY customers TO '{tmp_path / 'leak.csv'}'")
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"ATTACH '{tmp_path / 'other.duckdb'}'")
    with pytest.raises(duckdb.Error):
        con.execute("SELECT getenv('HOME')")
    with pytest.raises(duckdb.Error, match="configuration has been locked"):
        con.execute("SET enable_external_access = true")
    assert not (tmp_path / "leak.csv").exists()

    # the same connection exports again (the lock is kept, its staging folder stays writable)
    con.execute("DELETE FROM customers WHERE customer_id = 'c2'")
    again = export_segment(
        con, "n", segment, cfg, outbox=tmp_path / "out", now=datetime(2026, 11, 25, 6)
    )
    assert again.rows == 1
